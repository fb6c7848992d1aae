"""The presensi facts kept for the nudge scan equal a recount from the presensi after every kind of write."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.attendance_jobs import close_checkin_windows
from handlers.kernel.messages import Channel
from storage.activities import PresensiAlpaRun, PresensiFacts, refresh_presensi_facts
from storage.models import Person, Role
from tests.handlers.activities.test_attendance import add_meeting, run_job
from tests.support.driver import Driver
from tests.support.kept import kept_equals_recount as recounted


async def snapshot(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    facts = (await session.execute(select(PresensiFacts.participant_id, PresensiFacts.alpa_run,
                                          PresensiFacts.alpa_run_from, PresensiFacts.last_session_at,
                                          PresensiFacts.last_closed_at).order_by(PresensiFacts.participant_id))).all()
    runs = (await session.execute(select(PresensiAlpaRun.participant_id, PresensiAlpaRun.starts_at,
                                         PresensiAlpaRun.meeting_id).order_by(*PresensiAlpaRun.__table__.c))).all()
    return [tuple(row) for row in facts], [tuple(row) for row in runs]


async def kept_equals_recount(driver: Driver) -> tuple[list[Any], list[Any]]:
    """The kept rows, after checking they are what recomputing everyone's from the presensi gives."""
    return await recounted(driver.sessions, snapshot, refresh_presensi_facts())


async def test_kept_presensi_facts_follow_check_in_close_leave_and_correction(
        driver: Driver, participant: Person, mentor: Person) -> None:
    friend = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    first = await add_meeting(driver, mentor, title="Sesi 1")
    second = await add_meeting(driver, mentor, starts_in_hours=26, title="Sesi 2")
    await driver.press(participant, f"att:leave:{second.id}:izin")  # asked before, decided after the close
    await driver.say(participant, "Mau antar ibu ke puskesmas kak")
    driver.clock.advance(minutes=45)
    await driver.say(friend, f"hadir {first.checkin_code}")  # an open session: nothing kept changes yet
    assert await kept_equals_recount(driver) == ([], [])

    await run_job(driver, close_checkin_windows, first.ends_at)  # Sari alpa, Andi hadir
    facts, runs = await kept_equals_recount(driver)
    assert [(pid, run, since) for pid, run, since, *_ in facts] == [
        (participant.id, 1, first.starts_at), (friend.id, 0, None)]
    assert runs == [(participant.id, first.starts_at, first.id)]

    await run_job(driver, close_checkin_windows, second.ends_at)  # both alpa: the izin is not decided yet
    facts, runs = await kept_equals_recount(driver)
    assert [(pid, run) for pid, run, *_ in facts] == [(participant.id, 2), (friend.id, 1)]

    await driver.press(mentor, "lv:ok:1", channel=Channel.TELEGRAM)  # izin approved after the close
    facts, runs = await kept_equals_recount(driver)
    assert [(pid, run) for pid, run, *_ in facts] == [(participant.id, 0), (friend.id, 1)]
    assert runs == [(friend.id, second.starts_at, second.id)]

    await driver.press(mentor, f"ses:set:{first.id}:{friend.id}:alpa", channel=Channel.TELEGRAM)  # a correction
    facts, runs = await kept_equals_recount(driver)
    assert [(pid, run, since) for pid, run, since, *_ in facts] == [
        (participant.id, 0, None), (friend.id, 2, first.starts_at)]
    assert [(pid, at) for pid, at, _ in runs] == [(friend.id, first.starts_at), (friend.id, second.starts_at)]
    assert facts[1][3:] == (second.starts_at, second.ends_at)  # latest start and close counted
    driver.clock.advance(days=3)
    await driver.press(mentor, f"ses:set:{second.id}:{friend.id}:hadir", channel=Channel.TELEGRAM)
    assert [(pid, run) for pid, run, *_ in (await kept_equals_recount(driver))[0]] == [
        (participant.id, 0), (friend.id, 0)]
