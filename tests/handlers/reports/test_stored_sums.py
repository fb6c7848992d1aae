"""A closed week's sums per cohort and mentor: kept with its group counts as it is stored, read instead of
summing 100,000 scores; a week kept before the sums were (NULL) is summed from its scores, to the same figures."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.activities.report_views import latest_report_month, report_roll_query
from handlers.kernel.config import Config
from handlers.participation.scores import keep_week_facts
from handlers.reports import figures
from storage.models import ParticipationScore, Person, Role
from storage.participation import ParticipationWeekGroup
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
WEEK, END = "2026-W10", datetime(2026, 3, 9, tzinfo=JAKARTA)


async def test_kept_sums_equal_the_sums_of_the_scores(sessions: async_sessionmaker[AsyncSession], driver: Driver,
                                                      mentor: Person) -> None:
    config = Config(timezone=JAKARTA)
    programme, people = Programme(sessions), []
    # Two angkatan, two mentors and one participant without a mentor; Sari and Rudi sent February's report.
    for n, (name, cohort, has_mentor) in enumerate([("Sari", "Angkatan 1", True), ("Joko", "Angkatan 1", True),
                                                    ("Rudi", "Angkatan 2", True), ("Tono", "Angkatan 2", False)]):
        people.append(await driver.add_person(role=Role.PESERTA, name=name, phone=f"+6281200000{n:03d}",
                                              mentor_id=mentor.id if has_mentor else None, cohort=cohort,
                                              created_at=datetime(2026, 2, 1, tzinfo=JAKARTA)))
    for person in (people[0], people[2]):
        await programme.report(person, "2026-02", datetime(2026, 3, 2, tzinfo=JAKARTA))
    await programme.add(*[ParticipationScore(
        week=WEEK, participant_id=person.id, mentor_id=person.mentor_id, cohort=person.cohort, score=score,
        is_active=score > 50, sessions_expected=2, sessions_hadir=hadir, sessions_terlambat=1, tugas_due=2,
        tugas_on_time=hadir, computed_at=END) for person, score, hadir in zip(people, (81.2, 40.0, 66.7, 12.5),
                                                                              (1, 0, 1, 0), strict=True)])
    roll = report_roll_query(latest_report_month(END, config), END, config)
    async with sessions() as session:
        await keep_week_facts(session, WEEK, config)
        tenths = sorted((await session.execute(select(ParticipationWeekGroup.score_tenths))).scalars())
        kept = await figures.stored_groups(session, WEEK, roll)
        await session.execute(update(ParticipationWeekGroup).values(sessions_expected=None))  # kept before 0034
        summed = await figures.stored_groups(session, WEEK, roll)

    assert tenths == [125, 667, 1212]
    assert kept == [tuple(row) for row in summed]
    assert kept == [("Angkatan 1", mentor.id, people[0].id, 2, 1, 4, 3, 4, 1, 2, 1, 1212),
                    ("Angkatan 2", mentor.id, people[2].id, 1, 1, 2, 2, 2, 1, 1, 1, 667),
                    ("Angkatan 2", None, people[3].id, 1, 0, 2, 1, 2, 0, 1, 0, 125)]
