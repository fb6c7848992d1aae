"""WhatsApp's rules in one package: Twilio errors become neutral outcomes, the window, status callbacks."""

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException

from bot.delivery import (
    DeliveryWorker,
    Pace,
    PermanentError,
    RateLimiter,
    TransientError,
    reachability_hook,
)
from bot.media import MediaStore
from bot.whatsapp.errors import OutsideWindow, outcome_of
from bot.whatsapp.http import make_client
from bot.whatsapp.sender import WhatsAppSender, needs_template
from bot.whatsapp.status import record_status
from handlers.kernel.messages import OutgoingPart
from handlers.kernel.outbox import message_of
from storage.models import OutboxMessage, OutboxStatus, Person
from tests.bot.fake_twilio import ScriptedTwilioHttp
from tests.support.driver import Driver

HELD = "HX" + "b1" * 16


@pytest.mark.parametrize(("status", "code", "outcome", "unreachable"), [
    (429, 20429, TransientError, None),
    (503, None, TransientError, None),
    (400, 63016, OutsideWindow, False),
    (400, 63003, PermanentError, True),
    (400, 21610, PermanentError, True),
    (400, 21617, PermanentError, False),
])
def test_twilio_errors_become_channel_neutral_outcomes(status: int, code: int | None, outcome: type,
                                                       unreachable: bool | None) -> None:
    result = outcome_of(TwilioRestException(status, "https://api.twilio.com/x", "refused", code))

    assert type(result) is outcome
    assert getattr(result, "unreachable", None) == unreachable


async def whatsapp_worker(driver: Driver, http: ScriptedTwilioHttp) -> DeliveryWorker:
    client = make_client("AC" + "0" * 32, "token", None, http)
    sender = WhatsAppSender(client, driver.sessions, sender="+14155238886", status_callback=None,
                            templates={"held": HELD}, media=MediaStore(driver.sessions))
    return DeliveryWorker(driver.sessions, {"whatsapp": sender}, RateLimiter({"whatsapp": Pace(1000)}),
                          on_permanent_failure=reachability_hook(driver.config), clock=lambda: driver.clock.now)


async def wrote_just_now(driver: Driver, person: Person) -> None:
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.last_whatsapp_inbound_at = datetime.now(UTC)


async def test_free_text_refused_as_outside_the_window_waits_behind_the_held_notice(
        driver: Driver, participant: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await wrote_just_now(driver, participant)
    http = ScriptedTwilioHttp()
    http.refuse(63016)
    http.answer(201, {"sid": "SM-notice"})

    await (await whatsapp_worker(driver, http)).drain_once()

    row = await driver.last(participant)
    assert [(r.get("Body") is not None, r.get("ContentSid")) for r in http.requests] == [(True, None), (False, HELD)]
    assert (row.status, row.external_id) == (OutboxStatus.HELD, "SM-notice")


async def test_number_not_on_whatsapp_fails_and_the_mentor_is_told(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await wrote_just_now(driver, participant)
    http = ScriptedTwilioHttp()
    http.refuse(63003)

    await (await whatsapp_worker(driver, http)).drain_once()

    assert (await driver.last(participant)).status == OutboxStatus.FAILED
    assert (await driver.refresh(participant)).unreachable_reason == "whatsapp: twilio 63003: Unable to create record: error 63003"
    assert [t for t in await driver.received(mentor) if t.startswith("⚠️")] == [
        "⚠️ Pesan untuk Sari Wulandari tidak bisa terkirim lewat whatsapp (twilio 63003: Unable to create record: "
        "error 63003). Mohon hubungi langsung bila perlu."]


async def test_twilio_overload_is_retried_later(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await wrote_just_now(driver, participant)
    http = ScriptedTwilioHttp()
    http.answer(503, {"code": 20500, "message": "Service unavailable", "status": 503})

    await (await whatsapp_worker(driver, http)).drain_once()

    row = await driver.last(participant)
    assert (row.status, row.attempts, row.error) == (OutboxStatus.PENDING, 1, "twilio 503: Service unavailable")


async def sent_row(driver: Driver, participant: Person, sid: str) -> OutboxMessage:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    async with driver.sessions.begin() as session:
        row = await session.get(OutboxMessage, (await driver.last(participant)).id)
        assert row is not None
        row.status, row.external_id = OutboxStatus.SENT, sid
    return row


async def callback(driver: Driver, sid: str, status: str, code: str = "") -> None:
    async with driver.sessions.begin() as session:
        await record_status(session, sid, status, code, driver.clock.now, driver.config)


async def test_delivered_callback_only_records_the_status(driver: Driver, participant: Person) -> None:
    row = await sent_row(driver, participant, "SM1")

    await callback(driver, "SM1", "delivered")

    stored = await driver.last(participant)
    assert (stored.id, stored.status, stored.delivery_status, stored.error) == (row.id, OutboxStatus.SENT,
                                                                               "delivered", None)


async def test_outside_window_callback_sends_again_and_remembers_the_refusal(
        driver: Driver, participant: Person) -> None:
    await sent_row(driver, participant, "SM2")

    await callback(driver, "SM2", "undelivered", "63016")

    row = await driver.last(participant)
    assert (row.status, row.next_attempt_at, row.error) == (OutboxStatus.PENDING, driver.clock.now,
                                                           "twilio 63016: undelivered")
    assert message_of(row).window_closed_at == driver.clock.now


async def test_unreachable_callback_fails_the_row_and_tells_the_mentor(
        driver: Driver, participant: Person, mentor: Person) -> None:
    await sent_row(driver, participant, "SM3")

    await callback(driver, "SM3", "failed", "63024")

    assert (await driver.last(participant)).status == OutboxStatus.FAILED
    assert (await driver.refresh(participant)).unreachable_reason == "whatsapp: failed (63024)"
    assert any(t.startswith("⚠️ Pesan untuk Sari Wulandari") for t in await driver.received(mentor))


async def test_failed_callback_with_another_code_only_records_the_error(driver: Driver, participant: Person) -> None:
    await sent_row(driver, participant, "SM4")

    await callback(driver, "SM4", "failed", "30008")

    row = await driver.last(participant)
    assert (row.status, row.error) == (OutboxStatus.SENT, "twilio 30008: failed")
    assert (await driver.refresh(participant)).unreachable_reason is None


def test_free_text_needs_the_window_open_and_no_refusal_since_the_last_message() -> None:
    now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    person = Person(last_whatsapp_inbound_at=now - timedelta(hours=2))
    refused_later = OutgoingPart("x", window_closed_at=now - timedelta(hours=1))
    refused_earlier = OutgoingPart("x", window_closed_at=now - timedelta(hours=3))

    assert not needs_template(person, OutgoingPart("x"), now)
    assert needs_template(person, refused_later, now)
    assert not needs_template(person, refused_earlier, now)
    assert needs_template(person, OutgoingPart("x"), now + timedelta(hours=21, minutes=56))
    assert needs_template(Person(last_whatsapp_inbound_at=None), OutgoingPart("x"), now)
