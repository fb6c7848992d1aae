"""Facts kept as weekly scores are stored (baselines, per-group counts) equal what the scores give."""

from collections import Counter

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.participation.queries import baselines_query
from handlers.participation.rules import ParticipationRules
from handlers.participation.scores import (
    baseline_weeks,
    baselines_kept,
    compute_scores,
    shift_week,
    store_scores,
    week_of,
)
from handlers.reports.figures import active_by_week, previous_active
from storage.participation import ParticipationWeekGroup
from tests.conftest import JAKARTA
from tests.handlers.participation.test_scan import NOW, programme


async def averaged(session: AsyncSession, week: str, config: Config) -> list[tuple[int, float, int]]:
    query = baselines_query(baseline_weeks(week, config))
    return sorted((pid, float(avg), int(n)) for pid, avg, n in (await session.execute(query)))


async def test_kept_baselines_and_group_counts_equal_the_scores(sessions: async_sessionmaker[AsyncSession]) -> None:
    await programme(sessions)
    config = Config(timezone=JAKARTA)
    week = week_of(NOW, JAKARTA)
    earlier = [shift_week(week, -n) for n in range(6, 0, -1)]

    async with sessions() as session:  # as generated (the migration's backfill)
        kept = await baselines_kept(session, week, config)
        assert kept is not None
        assert sorted((pid, float(avg), int(n)) for pid, avg, n in (await session.execute(kept))) == \
            await averaged(session, week, config)
        assert await baselines_kept(session, shift_week(week, -1), config) is None  # another week: averaged
        wider = Config(timezone=JAKARTA, rule_groups=(ParticipationRules(nudge_baseline_weeks=3),))
        assert await baselines_kept(session, week, wider) is None  # another span: averaged
        from_kept = await active_by_week(session, earlier), await previous_active(session, earlier[-1])
        await session.execute(delete(ParticipationWeekGroup))
        assert (await active_by_week(session, earlier), await previous_active(session, earlier[-1])) == from_kept

    async with sessions.begin() as session:  # the weekly job stores this week: the facts follow
        scores = await compute_scores(session, week, NOW, config)
        await store_scores(session, week, scores, NOW, config)
    async with sessions() as session:
        kept = await baselines_kept(session, shift_week(week, 1), config)
        assert kept is not None
        assert sorted((pid, float(avg), int(n)) for pid, avg, n in (await session.execute(kept))) == \
            await averaged(session, shift_week(week, 1), config)
        participants, active = Counter(s.cohort for s in scores), Counter(s.cohort for s in scores if s.is_active)
        assert (await active_by_week(session, [week]))[week] == {c: (active[c], n) for c, n in participants.items()}
