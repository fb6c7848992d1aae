"""Check-in codes resist guessing: five wrong codes per person and session lock code check-in for them."""

from __future__ import annotations

from sqlalchemy import select

from handlers.activities.attendance import WRONG_CODE
from handlers.activities.rules import ActivitiesRules
from handlers.kernel.config import Config
from storage.models import AuditEntry, Person, Role
from tests.handlers.activities.test_attendance import add_meeting, records
from tests.support.driver import Driver

WRONG = "Kode salah. Cek lagi kode yang diumumkan di ruangan (kode bisa diganti pendamping)."
LOCKED = ("🔒 Kode presensi *Kelas HPP* sudah 5 kali salah, jadi presensi dengan kode dikunci untuk Anda. "
          "Minta pendamping Anda mencatat kehadiran Anda.")


def other_than(code: str, n: int) -> list[str]:
    """n four-digit codes that are not the right one."""
    return [guess for guess in (f"{i:04d}" for i in range(10_000)) if guess != code][:n]


async def test_five_wrong_codes_lock_code_check_in_for_that_person_and_session(
        driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=45)
    classmate = await driver.add_person(role=Role.PESERTA, name="Joko", phone="+6281200000002", mentor_id=mentor.id)

    for guess in other_than(meeting.checkin_code, 5):
        await driver.say(participant, f"hadir {guess}")
    await driver.say(participant, f"hadir {meeting.checkin_code}")  # even the right code, now
    await driver.say(participant, meeting.checkin_code)
    await driver.say(classmate, f"hadir {meeting.checkin_code}")

    assert await driver.received(participant) == [WRONG] * 4 + [LOCKED] * 3
    assert await records(driver) == [(meeting.id, classmate.id, "hadir", "code")]
    async with driver.sessions() as session:
        audit = (await session.execute(select(AuditEntry.actor_id, AuditEntry.subject)
                                       .where(AuditEntry.action == WRONG_CODE))).all()
    assert audit == [(participant.id, f"meeting:{meeting.id}")] * 5


async def test_a_right_code_before_the_limit_checks_in(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=45)

    for guess in other_than(meeting.checkin_code, 4):
        await driver.say(participant, f"hadir {guess}")
    await driver.say(participant, f"hadir {meeting.checkin_code}")

    assert (await driver.received(participant))[-1].startswith("✅ Presensi *Kelas HPP* tercatat: hadir")


async def test_the_limit_is_a_rule(driver: Driver, participant: Person, mentor: Person) -> None:
    driver.config = Config(timezone=driver.config.timezone, rule_groups=(ActivitiesRules(checkin_wrong_code_limit=2),))
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=45)

    for guess in other_than(meeting.checkin_code, 2):
        await driver.say(participant, f"hadir {guess}")

    assert (await driver.received(participant))[-1].startswith("🔒 Kode presensi *Kelas HPP* sudah 2 kali salah")
