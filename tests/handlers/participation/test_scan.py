"""The daily scan picks in SQL exactly whom the full weighing in Python would pick."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.bench_data import Shape, generate
from handlers.kernel.cohorts import resting_participants, set_cohort
from handlers.kernel.config import Config
from handlers.participation.nudges import open_ladders, scan_participants
from handlers.participation.rules import ParticipationRules
from handlers.participation.scores import Score, compute_scores, shift_week, week_bounds, week_of
from storage.models import NudgeLog, NudgeStep
from tests.conftest import JAKARTA

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=JAKARTA)  # a Wednesday: the week has sessions, tugas and questions


async def programme(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Three hundred participants in two angkatan with weeks of synthetic activity, one paused, some ladders open."""
    weeks = [shift_week(week_of(NOW, JAKARTA), -n) for n in range(6, 0, -1)]
    async with sessions.begin() as session:
        await generate(await session.connection(), Shape(300, 30, NOW, score_weeks=6, seed=3), weeks,
                       [week_bounds(w, JAKARTA)[0] for w in weeks])
    async with sessions.begin() as session:
        await session.execute(update(NudgeLog).where(NudgeLog.id % 3 == 0, NudgeLog.period >= weeks[-2])
                              .values(resolved_at=None, resolution=None))
        cohort = await set_cohort(session, "Angkatan 2", NOW.date().replace(month=1), NOW.date().replace(month=12))
        cohort.paused_from, cohort.paused_until = NOW.date(), NOW.date().replace(day=20)


async def picked_by_python(session: AsyncSession, config: Config, ladders: set[int]) -> tuple[dict[int, Score],
                                                                                              list[int]]:
    """The scan as it was: every score in Python, then filtered and sorted."""
    week = week_of(NOW, JAKARTA)
    resting = await resting_participants(session, NOW.date())
    nudged = set((await session.execute(select(NudgeLog.participant_id).where(
        NudgeLog.period == week, NudgeLog.step == NudgeStep.NUDGE))).scalars())
    scores = [s for s in await compute_scores(session, week, NOW, config, explain_all=False)
              if s.participant_id not in resting]
    fresh = sorted((s for s in scores if s.is_dropping and s.participant_id not in ladders | nudged),
                   key=lambda s: (s.score, s.participant_id))
    cap = config.rules(ParticipationRules).nudge_max_per_run
    return {s.participant_id: s for s in scores if s.participant_id in ladders}, [s.participant_id for s in fresh][:cap]


async def test_the_sql_narrowed_scan_picks_what_the_full_weighing_picks(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await programme(sessions)
    config = Config(timezone=JAKARTA, rule_groups=(ParticipationRules(nudge_max_per_run=40),))

    async with sessions() as session:
        ladders = set(await open_ladders(session))
        scan = await scan_participants(session, week_of(NOW, JAKARTA), NOW, config, ladders)
        with_ladder, fresh = await picked_by_python(session, config, ladders)

    assert (len(fresh), len(with_ladder) > 3) == (40, True)  # the cap bites, and ladders are open
    assert scan.with_ladder == with_ladder
    assert [s.participant_id for s in scan.candidates] == fresh
