"""The daily scan picks in SQL exactly whom the full weighing in Python would pick."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.bench_data import Shape, generate
from handlers.kernel.cohorts import resting_participants, set_cohort
from handlers.kernel.config import Config
from handlers.participation.nudges import open_ladders, scan_participants
from handlers.participation.queries import alpa_streak, session_tallies, tugas_tallies, week_tugas
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
from storage.models import Assignment, Extension, NudgeLog, NudgeStep, Person, Role
from tests.conftest import JAKARTA

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=JAKARTA)  # a Wednesday: the week has sessions and questions
SATURDAY = datetime(2026, 3, 14, 9, 0, tzinfo=JAKARTA)  # the week's tugas are due (Friday) too


async def programme(sessions: async_sessionmaker[AsyncSession], now: datetime = NOW) -> None:
    """Three hundred participants in two angkatan with weeks of synthetic activity, one paused, some ladders open,
    and extensions moving some tugas out of the week and some into it."""
    weeks = [shift_week(week_of(now, JAKARTA), -n) for n in range(6, 0, -1)]
    async with sessions.begin() as session:
        await generate(await session.connection(), Shape(300, 30, now, score_weeks=6, seed=3), weeks,
                       [week_bounds(w, JAKARTA)[0] for w in weeks])
    async with sessions.begin() as session:
        await session.execute(update(NudgeLog).where(NudgeLog.id % 3 == 0, NudgeLog.period >= weeks[-2])
                              .values(resolved_at=None, resolution=None))
        cohort = await set_cohort(session, "Angkatan 2", now.date().replace(month=1), now.date().replace(month=12))
        cohort.paused_from, cohort.paused_until = now.date(), now.date().replace(day=20)
        monday = week_bounds(week_of(now, JAKARTA), JAKARTA)[0]
        for tugas in (await session.execute(select(Assignment).where(
                Assignment.due_at >= now - timedelta(days=28), Assignment.due_at < now))).scalars():
            members = (await session.execute(select(Person.id).where(Person.cohort == tugas.cohort)
                                             .order_by(Person.id))).scalars().all()
            later = monday + timedelta(days=1) if tugas.due_at < monday else tugas.due_at + timedelta(days=7)
            session.add_all(Extension(assignment_id=tugas.id, participant_id=pid, due_at=later, created_at=monday)
                            for pid in members[::6])


async def picked_by_python(session: AsyncSession, config: Config, ladders: set[int],
                           now: datetime = NOW) -> tuple[dict[int, Score], list[int]]:
    """The scan as it was: every score in Python, then filtered and sorted."""
    week = week_of(now, JAKARTA)
    resting = await resting_participants(session, now.date())
    nudged = set((await session.execute(select(NudgeLog.participant_id).where(
        NudgeLog.period == week, NudgeLog.step == NudgeStep.NUDGE))).scalars())
    scores = [s for s in await compute_scores(session, week, now, config, explain_all=False)
              if s.participant_id not in resting]
    fresh = sorted((s for s in scores if s.is_dropping and s.participant_id not in ladders | nudged),
                   key=lambda s: (s.score, s.participant_id))
    cap = config.rules(ParticipationRules).nudge_max_per_run
    return {s.participant_id: s for s in scores if s.participant_id in ladders}, [s.participant_id for s in fresh][:cap]


@pytest.mark.parametrize("now", [NOW, SATURDAY], ids=["wednesday", "saturday"])
async def test_the_sql_narrowed_scan_picks_what_the_full_weighing_picks(
        sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
    await programme(sessions, now)
    config = Config(timezone=JAKARTA, rule_groups=(ParticipationRules(nudge_max_per_run=40),))

    async with sessions() as session:
        ladders = set(await open_ladders(session))
        scan = await scan_participants(session, week_of(now, JAKARTA), now, config, ladders)
        with_ladder, fresh = await picked_by_python(session, config, ladders, now)
        due = [score.tugas_due for score in await compute_scores(session, week_of(now, JAKARTA), now, config)]

    assert (len(fresh), len(with_ladder) > 3) == (40, True)  # the cap bites, and ladders are open
    assert max(due) > 0  # tugas due in the week: extended into it, and on Saturday by their deadline
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


@pytest.mark.parametrize("now", [NOW, SATURDAY], ids=["wednesday", "saturday"])
async def test_the_week_tugas_counted_per_group_equal_the_pairs(sessions: async_sessionmaker[AsyncSession],
                                                                 now: datetime) -> None:
    await programme(sessions, now)
    start = week_bounds(week_of(now, JAKARTA), JAKARTA)[0]
    week = week_tugas(start, now)
    async with sessions() as session:
        query = week.joins(select(Person.id, Person.mentor_id, Person.cohort, week.due(), week.sent_on_time())
                           .where(Person.role == Role.PESERTA), Person.mentor_id, Person.cohort, Person.id)
        counted = {pid: (due, on_time) for pid, _, _, due, on_time in await session.execute(query)}
        pairs = await tugas_tallies(session, start, now, timedelta(days=28))
    assert counted == {pid: (pairs[pid].due, pairs[pid].on_time) if pid in pairs else (0, 0) for pid in counted}
    assert sum(due for due, _ in counted.values()) > 30
    assert sum(sent for _, sent in counted.values()) > 10
