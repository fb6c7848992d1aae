"""The outcome rows kept with each monthly report equal a recomputation from the reports after every kind of
write (a new report, a corrected one, one sent after the digest's week), and the digest's outcomes read them;
likewise each participant's first presence, kept with presensi, for the targets' "trained"."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.bench_data import Shape, generate
from handlers.activities.attendance_jobs import close_checkin_windows
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.participation.queries import agency_of, participants_by_agency
from handlers.participation.scores import shift_week, week_bounds, week_of
from handlers.reports.outcomes import Outcome, programme_outcomes
from handlers.reports.rules import ReportsRules
from storage.models import Attendance, Person, Role
from storage.outcomes import (
    OUTCOME_COLUMNS,
    PRESENT,
    ParticipantOutcome,
    ParticipantPresence,
    refresh_participant_outcomes,
    refresh_participant_presence,
)
from tests.conftest import JAKARTA
from tests.handlers.activities.test_attendance import add_meeting, run_job
from tests.handlers.activities.test_monthly_reports import add_sent_report, fill_report
from tests.support.driver import Driver
from tests.support.kept import kept_equals_recount as recounted

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=JAKARTA)


async def kept_rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    query = (select(*[ParticipantOutcome.__table__.c[name] for name in OUTCOME_COLUMNS])
             .order_by(ParticipantOutcome.participant_id))
    return [tuple(row) for row in (await session.execute(query))]


async def kept_rows_of(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        return await kept_rows(session)


async def kept_equals_recount(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    """The kept rows, after checking they are what recomputing everyone's from the sent reports gives."""
    return await recounted(sessions, kept_rows, refresh_participant_outcomes())


def figures(outcome: Outcome) -> tuple[Any, ...]:
    return (outcome.reporting, outcome.permits, outcome.omzet_baseline, outcome.omzet_latest, outcome.jobs_baseline,
            outcome.jobs_latest)


async def test_kept_outcomes_follow_new_corrected_and_late_reports(
        driver: Driver, participant: Person, mentor: Person) -> None:
    friend = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    await add_sent_report(driver, participant, "2026-01", omzet=3_000_000, permits=["nib"])  # written directly

    driver.clock.advance(minutes=5)
    await fill_report(driver, participant, "3,5 juta", "2", "40 orang", "1,3", "selesai", "Bahan baku mahal")
    await driver.press(participant, "rep:ok")  # new: Januari is the baseline, Februari the latest
    kept = await kept_equals_recount(driver.sessions)
    sent_at = driver.clock.now - timedelta(minutes=5)
    assert [row[1:3] + row[4:] for row in kept] == [
        ("2026-01", "2026-02", 1, 0, 1, 0, 3_000_000, 3_500_000, 1, 2)]

    driver.clock.advance(hours=2)
    await driver.press(participant, "rep:edit")  # corrected: halal was a mistake, omzet 4 juta
    for answer in ("4 juta", "3", "40", "hapus 3", "selesai", "Bahan baku mahal", "ya"):
        await driver.say(participant, answer)
    kept = await kept_equals_recount(driver.sessions)
    assert [row[1:] for row in kept] == [
        ("2026-01", "2026-02", kept[0][3], 1, 0, 0, 0, 3_000_000, 4_000_000, 1, 3)]
    assert kept[0][3] >= sent_at  # still the first sending's moment: a correction is not a new report

    week_end = driver.clock.now
    async with driver.sessions() as session:
        before = await programme_outcomes(session, week_end, driver.config)
    driver.clock.advance(hours=1)
    await fill_report(driver, friend, "1 juta", "0", "10", "selesai", "Modal", "ya")  # late: after the week
    kept = await kept_equals_recount(driver.sessions)
    assert [row[0] for row in kept] == [participant.id, friend.id]
    async with driver.sessions() as session:
        ended = await programme_outcomes(session, week_end, driver.config)
        now = await programme_outcomes(session, driver.clock.now + timedelta(seconds=1), driver.config)
    assert before is not None
    assert ended is not None
    assert now is not None
    assert figures(ended.programme) == figures(before.programme)  # the week's digest does not see Andi yet
    assert figures(now.programme) == (2, {"nib": 1, "pirt": 0, "halal": 0, "lainnya": 0}, 3_000_000, 4_000_000, 1, 3)


async def test_benchmark_data_keeps_the_rows_and_the_digest_reads_what_the_reports_give(
        sessions: async_sessionmaker[AsyncSession], config: Config) -> None:
    """bench_data fills the table as production would; at the week's end and at a moment months back (most
    rows newer: those participants recomputed), the outcomes equal those recomputed from the reports alone."""
    weeks = [shift_week(week_of(NOW, JAKARTA), -n) for n in range(2, 0, -1)]
    async with sessions.begin() as session:
        await generate(await session.connection(), Shape(300, 30, NOW, score_weeks=2, seed=5), weeks,
                       [week_bounds(w, JAKARTA)[0] for w in weeks])
    async with sessions() as session:
        assert len(await kept_rows(session)) > 200
    assert await kept_equals_recount(sessions) == await kept_rows_of(sessions)
    for end in (NOW, NOW - timedelta(days=75)):
        async with sessions() as session:
            kept = await programme_outcomes(session, end, config)
            await session.execute(update(ParticipantOutcome).values(last_sent_at=NOW + timedelta(days=999)))
            recomputed = await programme_outcomes(session, end, config)  # every row newer: all from reports
            await session.rollback()
        assert kept is not None
        assert recomputed is not None
        assert kept.programme.reporting > 100
        assert [figures(o) for o in (kept.programme, *kept.agencies, *kept.cohorts)] == [
            figures(o) for o in (recomputed.programme, *recomputed.agencies, *recomputed.cohorts)]


async def presence_rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    query = select(ParticipantPresence.participant_id, ParticipantPresence.first_present_at).order_by(
        ParticipantPresence.participant_id)
    return [tuple(row) for row in (await session.execute(query))]


async def presence_equals_recount(driver: Driver) -> list[tuple[Any, ...]]:
    """The kept first presences, after checking they are what recomputing everyone's from presensi gives."""
    return await recounted(driver.sessions, presence_rows, refresh_participant_presence())


async def test_kept_presence_follows_check_in_corrections_and_close(
        driver: Driver, participant: Person, mentor: Person) -> None:
    friend = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    first = await add_meeting(driver, mentor, title="Sesi 1")
    second = await add_meeting(driver, mentor, starts_in_hours=26, title="Sesi 2")
    driver.clock.advance(minutes=45)
    await driver.say(friend, f"hadir {first.checkin_code}")  # a check-in: Andi present from now
    checked_in = driver.clock.now
    assert await presence_equals_recount(driver) == [(friend.id, checked_in)]

    await run_job(driver, close_checkin_windows, first.ends_at)  # Sari alpa: nothing kept changes
    assert await presence_equals_recount(driver) == [(friend.id, checked_in)]
    await driver.press(mentor, f"ses:set:{first.id}:{participant.id}:hadir", channel=Channel.TELEGRAM)
    await driver.press(mentor, f"ses:set:{first.id}:{friend.id}:alpa", channel=Channel.TELEGRAM)  # corrections
    kept = await presence_equals_recount(driver)
    assert [pid for pid, _ in kept] == [participant.id]
    await run_job(driver, close_checkin_windows, second.ends_at)
    await driver.press(mentor, f"ses:set:{second.id}:{friend.id}:terlambat", channel=Channel.TELEGRAM)
    assert [pid for pid, _ in await presence_equals_recount(driver)] == [participant.id, friend.id]


async def test_trained_from_kept_presence_equals_the_probe_over_presensi(
        sessions: async_sessionmaker[AsyncSession], config: Config) -> None:
    weeks = [shift_week(week_of(NOW, JAKARTA), -n) for n in range(2, 0, -1)]
    async with sessions.begin() as session:
        await generate(await session.connection(), Shape(300, 30, NOW, score_weeks=2, seed=5), weeks,
                       [week_bounds(w, JAKARTA)[0] for w in weeks])
    fields = config.rules(ReportsRules).agency_fields
    agency = agency_of(fields).label("agency")
    for end in (NOW, NOW - timedelta(days=300), NOW - timedelta(days=360)):
        present = exists().where(Attendance.participant_id == Person.id, Attendance.status.in_(PRESENT),
                                 Attendance.created_at < end)
        probe = (select(agency, func.count(), func.sum(case((present, 1), else_=0)))
                 .where(Person.role == Role.PESERTA, Person.is_active.is_(True)).group_by(agency))
        async with sessions() as session:
            kept = await participants_by_agency(session, fields, 1, end)
            expected = {key: (int(n), int(trained or 0)) for key, n, trained in (await session.execute(probe))}
        assert kept == expected
        assert sum(trained for _, trained in kept.values()) > 0 or end < NOW
