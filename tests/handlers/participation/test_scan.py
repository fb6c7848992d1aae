"""The daily scan picks in SQL exactly whom the full weighing in Python would pick."""

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.bench_data import Shape, generate
from handlers.kernel.cohorts import resting_participants, set_cohort
from handlers.kernel.config import Config
from handlers.participation.nudges import open_ladders, scan_participants
from handlers.participation.queries import alpa_streak, session_tallies
from handlers.participation.rules import ParticipationRules
from handlers.participation.scores import (
    Score,
    compute_scores,
    scan_scores,
    shift_week,
    week_bounds,
    week_of,
)
from storage.activities import PresensiFacts
from storage.models import NudgeLog, NudgeStep, Person, Role
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


async def test_the_streak_read_from_kept_facts_equals_the_count_over_presensi(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await programme(sessions)
    lookback = timedelta(days=ParticipationRules().alpa_streak_lookback_days)
    facts = PresensiFacts
    current = and_(facts.last_session_at < NOW, facts.last_closed_at <= NOW)
    async with sessions() as session:
        # The kept facts' three ways at NOW: a run inside the window, a run begun before it (its sessions in
        # the window counted), none; and two other moments (facts newer than the moment: counted from presensi).
        branches = (select(func.count()).where(current, facts.alpa_run >= 2, facts.alpa_run_from >= NOW - lookback),
                    select(func.count()).where(current, facts.alpa_run >= 2, facts.alpa_run_from < NOW - lookback),
                    select(func.count()).where(current, facts.alpa_run == 0))
        assert all([(await session.execute(query)).scalar_one() > 0 for query in branches])
        for end in (NOW, NOW - timedelta(days=3), NOW - timedelta(days=12)):
            query = (select(Person.id, alpa_streak(Person.id, end, lookback))
                     .outerjoin(PresensiFacts, PresensiFacts.participant_id == Person.id)
                     .where(Person.role == Role.PESERTA))
            streaks: dict[int, int] = dict((await session.execute(query)).all())
            counted = await session_tallies(session, end - timedelta(days=7), end, lookback)
            assert streaks == {pid: counted[pid].streak if pid in counted else 0 for pid in streaks}
            assert sum(1 for streak in streaks.values() if streak >= 2) > 5


async def test_without_kept_facts_the_scan_picks_the_same(sessions: async_sessionmaker[AsyncSession]) -> None:
    await programme(sessions)
    config = Config(timezone=JAKARTA, rule_groups=(ParticipationRules(nudge_max_per_run=40),))
    async with sessions() as session:
        await session.execute(delete(PresensiFacts))  # every streak counted from the presensi
        ladders = set(await open_ladders(session))
        scan = await scan_participants(session, week_of(NOW, JAKARTA), NOW, config, ladders)
        with_ladder, fresh = await picked_by_python(session, config, ladders)
    assert scan.with_ladder == with_ladder
    assert [s.participant_id for s in scan.candidates] == fresh


async def test_the_digest_scan_scores_everyone_as_the_full_weighing(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await programme(sessions)
    config = Config(timezone=JAKARTA)
    async with sessions() as session:
        for week in (week_of(NOW, JAKARTA), shift_week(week_of(NOW, JAKARTA), -2)):  # running, and past (facts newer)
            streamed = [score async for score in scan_scores(session, week, NOW, config, explain_all=True)]
            assert streamed == await compute_scores(session, week, NOW, config)
            assert sum(1 for score in streamed if score.alpa_streak >= 2) > 5
