"""The outbox worker: pacing, retries with Telegram's retry_after, permanent failures, restart."""

import asyncio

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryWorker, InFlightWindow, Pace, RateLimiter, reachability_hook
from bot.media import MediaStore
from bot.telegram import TelegramSender
from handlers.kernel.messages import Channel
from storage.models import OutboxMessage, OutboxStatus, Person
from tests.bot.fake_telegram import scripted_bot
from tests.support.driver import Driver


def make_worker(driver: Driver, bot) -> DeliveryWorker:
    sender = TelegramSender(bot, MediaStore(driver.sessions))
    return DeliveryWorker(driver.sessions, {"telegram": sender}, RateLimiter({"telegram": Pace(1000)}),
                          on_permanent_failure=reachability_hook(driver.config), clock=lambda: driver.clock.now)


async def test_pending_rows_are_sent_and_marked_with_message_id(driver: Driver, participant: Person, mentor: Person) -> None:
    bot, request = scripted_bot()
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await driver.press(participant, "tp:lainnya")

    await make_worker(driver, bot).drain_once()

    row = await driver.last(mentor)
    assert (row.status, row.external_id) == (OutboxStatus.SENT, "101")
    assert [name for name, _ in request.calls] == ["sendMessage"]
    assert request.calls[0][1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ans:1"


async def test_flood_control_reschedules_after_retry_after(driver: Driver, participant: Person, mentor: Person) -> None:
    bot, request = scripted_bot()
    request.answer("sendMessage", 429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                        "parameters": {"retry_after": 30}})
    await driver.say(participant, "Pertanyaan")
    await driver.press(participant, "tp:lainnya")
    before = driver.clock.now

    await make_worker(driver, bot).drain_once()

    row = await driver.last(mentor)
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert (row.next_attempt_at - before).total_seconds() >= 29


async def test_blocked_mentor_is_marked_failed_with_reason(driver: Driver, participant: Person, mentor: Person) -> None:
    bot, request = scripted_bot()
    request.answer("sendMessage", 403, {"ok": False, "error_code": 403,
                                        "description": "Forbidden: bot was blocked by the user"})
    await driver.say(participant, "Pertanyaan")
    await driver.press(participant, "tp:lainnya")

    await make_worker(driver, bot).drain_once()

    rows = await driver.outbox(mentor)
    assert rows[0].status == OutboxStatus.FAILED
    assert "blocked" in rows[0].error
    assert (await driver.refresh(mentor)).unreachable_reason.startswith("telegram: blocked")
    assert rows[1].channel == Channel.WHATSAPP.value  # retried on the mentor's other channel


async def test_blocked_participant_mentor_is_told(driver: Driver, participant: Person, mentor: Person) -> None:
    bot, request = scripted_bot()
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, participant.id)
        stored.telegram_user_id = stored.telegram_chat_id = "4242"
    sari = await driver.refresh(participant)
    await driver.say(sari, "Pertanyaan", channel=Channel.TELEGRAM)
    request.answer("sendMessage", 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})

    await make_worker(driver, bot).drain_once()

    told = [t for t in await driver.received(mentor) if t.startswith("⚠️")]
    assert told == ["⚠️ Pesan untuk Sari Wulandari tidak bisa terkirim lewat telegram (blocked: Forbidden: bot was blocked by the user). Mohon hubungi langsung bila perlu."]


async def test_rows_left_by_a_crash_are_sent_once_on_restart(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Pertanyaan sebelum crash")
    await driver.press(participant, "tp:lainnya")
    bot, request = scripted_bot()

    first = make_worker(driver, bot)
    await first.drain_once()
    await make_worker(driver, bot).drain_once()

    async with driver.sessions() as session:
        sent = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient_id == mentor.id))).scalars().all()
    assert [row.status for row in sent] == [OutboxStatus.SENT]
    assert [name for name, _ in request.calls].count("sendMessage") == 1


async def test_a_send_cancelled_while_waiting_for_its_turn_leaves_the_window_whole() -> None:
    window = InFlightWindow(rate=1, fixed=1, name="telegram")
    await window.acquire()
    waiting = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)  # it waits for the one place
    waiting.cancel()  # shutdown: the waiter is cancelled before its turn comes
    window.release(0.1)  # the place is freed and the cancelled waiter passed over

    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert window.in_flight == 0
    await asyncio.wait_for(window.acquire(), 1)  # the place is free for the next send
    assert window.in_flight == 1
