"""The bot keeps running: loops survive errors, a bad item is set aside, sends resume part by part,
peers' limits are kept, a dead process's rows come back in order, and the operator sees it all."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from telegram import Bot

import bot.inbox as inbox_module
import scheduler.runner as runner
from bot.background import DrainLoop
from bot.delivery import (
    DeliveryWorker,
    Pace,
    PartSent,
    RateLimiter,
    RetryPolicy,
    no_progress,
    reachability_hook,
)
from bot.health import Health, Pulse
from bot.inbox import InboxProcessor, ingest
from bot.media import FetchedMedia, MediaStore
from bot.status import collect_status, failed_inbox, render_status, retry_inbox, retry_outbox
from bot.telegram import TelegramPoller, TelegramSender
from bot.whatsapp.http import make_client
from bot.whatsapp.sender import WhatsAppSender
from handlers.kernel.messages import Address, Attachment, Channel, Inbound, OutgoingPart
from scheduler.runner import Leadership, build_scheduler
from storage.db import make_engine, make_sessionmaker
from storage.models import (
    InboxItem,
    JobPulse,
    LoopPulse,
    OutboxMessage,
    OutboxStatus,
    Person,
    SchedulerLease,
)
from tests.bot.fake_telegram import scripted_bot
from tests.bot.fake_twilio import ScriptedTwilioHttp
from tests.support.driver import Driver

HELD = "HX" + "b1" * 16


async def add_row(driver: Driver, person: Person, text: str, *, channel: Channel = Channel.TELEGRAM,
                  attachments: tuple[Attachment, ...] = (), claimed_by: str | None = None) -> OutboxMessage:
    """An outbox row written now (by the driver's clock)."""
    address = person.telegram_chat_id if channel == Channel.TELEGRAM else person.phone
    row = OutboxMessage(channel=channel.value, address=address, recipient_id=person.id,
                        payload=OutgoingPart(text=text, attachments=attachments).to_json(), status=OutboxStatus.PENDING,
                        created_at=driver.clock.now, next_attempt_at=driver.clock.now, claimed_by=claimed_by)
    async with driver.sessions.begin() as session:
        session.add(row)
    return row


async def stored(driver: Driver, row: OutboxMessage) -> OutboxMessage:
    async with driver.sessions() as session:
        found = await session.get(OutboxMessage, row.id)
        assert found is not None
        return found


def telegram_worker(driver: Driver, bot: Bot, media: MediaStore | None = None, **options: Any) -> DeliveryWorker:
    sender = TelegramSender(bot, media or MediaStore(driver.sessions))
    return DeliveryWorker(driver.sessions, {"telegram": sender}, RateLimiter({"telegram": Pace(1000)}),
                          on_permanent_failure=reachability_hook(driver.config), clock=lambda: driver.clock.now,
                          **options)


def sent_texts(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{name}:{params.get('text') or params.get('photo') or params.get('document')}" for name, params in calls]


# ---------------------------------------------------------------------- loops


async def test_a_failing_pass_is_logged_and_the_loop_goes_on() -> None:
    class Flaky(DrainLoop):
        name = "flaky"
        calls = 0

        async def drain_once(self) -> int:
            self.calls += 1
            if self.calls <= 2:
                raise ConnectionRefusedError("database away")
            self.stop()
            return 1

    loop = Flaky()
    await asyncio.wait_for(loop.run(), 10)

    assert (loop.calls, loop.pulse.failures, loop.pulse.last_error) == (3, 0, "ConnectionRefusedError: database away")
    assert loop.pulse.last_pass is not None


async def test_health_names_a_stalled_loop_and_an_unreachable_database(sessions: Any) -> None:
    now = [100.0]
    pulse = Pulse("inbox", bound_seconds=30, clock=lambda: now[0])

    assert (await Health(sessions, [pulse]).check())[0] is True
    now[0] += 31
    healthy, report = await Health(sessions, [pulse]).check()
    assert (healthy, report["problems"]) == (False, ["inbox: no pass for 31 s"])

    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    try:
        healthy, report = await Health(make_sessionmaker(engine), []).check()
    finally:
        await engine.dispose()
    assert healthy is False
    assert report["problems"][0].startswith("database unreachable: ")


# ---------------------------------------------------------------------- inbox


def inbound_from(person: Person, text: str, number: int) -> Inbound:
    return Inbound(address=Address(Channel.WHATSAPP, person.phone), external_id=f"SM-keeps-{number}",
                   received_at=datetime.now(UTC), sender_id=person.phone, sender_name=person.name, text=text)


async def test_an_inbound_that_keeps_failing_is_set_aside_and_the_others_flow(
        driver: Driver, participant: Person, mentor: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    real = inbox_module.handle_inbox_item

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        if item.payload["text"] == "BOOM":
            raise ValueError("value too long for type character varying(64)")
        await real(session, item, now, config)

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)
    for number, text in enumerate(["BOOM", "Bagaimana cara daftar NIB?", "menu"]):
        await ingest(driver.sessions, inbound_from(participant, text, number), driver.clock.now)
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None, clock=lambda: driver.clock.now)

    assert await processor.drain_once() == 3
    driver.clock.advance(seconds=3)
    assert await processor.drain_once() == 1
    driver.clock.advance(seconds=11)
    assert await processor.drain_once() == 1

    async with driver.sessions() as session:
        items = list((await session.execute(select(InboxItem).order_by(InboxItem.id))).scalars())
        set_aside = await failed_inbox(session)
    assert [(i.attempts, i.failed_at is not None, i.processed_at is not None) for i in items] == [
        (3, True, True), (0, False, True), (0, False, True)]
    assert [i.id for i in set_aside] == [items[0].id]
    assert set_aside[0].error == "ValueError: value too long for type character varying(64)"
    told = [message_text(row) for row in await driver.outbox() if row.address == participant.phone]
    assert told[-1].startswith("Maaf, ada gangguan saat memproses pesan Anda.")

    async with driver.sessions.begin() as session:
        assert await retry_inbox(session, None) == 1
    monkeypatch.setattr(inbox_module, "handle_inbox_item", real)
    assert await processor.drain_once() == 1


async def test_an_outage_is_not_the_items_fault(driver: Driver, participant: Person,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*_args: Any) -> None:
        raise ConnectionRefusedError("[Errno 111] Connect call failed")

    async def unreachable(*_args: Any) -> bool:
        return False

    monkeypatch.setattr(inbox_module, "handle_inbox_item", refused)
    monkeypatch.setattr(inbox_module, "database_answers", unreachable)
    await ingest(driver.sessions, inbound_from(participant, "halo", 1), driver.clock.now)
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None, clock=lambda: driver.clock.now)

    with pytest.raises(ConnectionRefusedError):
        await processor.drain_once()

    async with driver.sessions() as session:
        item = (await session.execute(select(InboxItem))).scalar_one()
    assert (item.attempts, item.processed_at, item.error) == (0, None, None)


# ---------------------------------------------------------------------- sending in parts


class UnreachableMedia(MediaStore):
    """Files on WhatsApp's side cannot be fetched; counts the tries."""

    tries = 0

    async def fetch(self, attachment: Attachment) -> FetchedMedia:
        self.tries += 1
        raise httpx.ConnectError("All connection attempts failed")


async def test_parts_already_sent_are_never_repeated_and_an_unfetchable_file_becomes_a_note(
        driver: Driver, mentor: Person) -> None:
    bot, request = scripted_bot()
    media = UnreachableMedia(driver.sessions)
    photo = Attachment("photo", "tg-photo-1", Channel.TELEGRAM, "image/jpeg")
    document = Attachment("document", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                          Channel.WHATSAPP, "application/pdf")
    first = await add_row(driver, mentor, "Pertanyaan baru #7 dengan lampiran", attachments=(photo, document))
    second = await add_row(driver, mentor, "Pesan berikutnya ke chat yang sama")
    worker = telegram_worker(driver, bot, media, retry=RetryPolicy(first_seconds=2))

    await worker.drain_once()
    row = await stored(driver, first)
    assert (row.status, row.parts_sent, row.attempts, (await stored(driver, second)).status) == (
        OutboxStatus.PENDING, 2, 1, OutboxStatus.PENDING)
    for _ in range(2):
        driver.clock.advance(seconds=10)
        await worker.drain_once()

    assert sent_texts(request.calls) == [
        "sendMessage:Pertanyaan baru #7 dengan lampiran", "sendPhoto:tg-photo-1",
        "sendMessage:📎 Lampiran pesan di atas tidak dapat diambil, jadi tidak ikut terkirim. Tautannya: "
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "sendMessage:Pesan berikutnya ke chat yang sama"]
    assert media.tries == 3
    assert [(await stored(driver, r)).status for r in (first, second)] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert (await stored(driver, first)).external_id == "101"  # the text's id: replies to it still find the row


async def test_transient_failures_are_retried_past_eight_attempts_until_the_platform_would_not_deliver(
        driver: Driver, mentor: Person) -> None:
    bot, request = scripted_bot()
    for _ in range(12):
        request.answer("sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    row = await add_row(driver, mentor, "Pengingat")
    worker = telegram_worker(driver, bot)

    for _ in range(11):
        await worker.drain_once()
        driver.clock.advance(seconds=601)
    assert ((await stored(driver, row)).status, (await stored(driver, row)).attempts) == (OutboxStatus.PENDING, 11)

    driver.clock.advance(hours=24)
    await worker.drain_once()
    failed = await stored(driver, row)
    assert failed.status == OutboxStatus.FAILED
    assert failed.error.startswith("gave up after 24 h and 12 attempts: telegram network: Bad Gateway")

    async with driver.sessions.begin() as session:
        assert await retry_outbox(session, [row.id], driver.clock.now) == 1
    await worker.drain_once()
    assert (await stored(driver, row)).status == OutboxStatus.SENT


# ---------------------------------------------------------------------- peers' limits


async def test_a_slow_down_holds_every_send_already_waiting_for_a_slot() -> None:
    limiter = RateLimiter({"telegram": Pace(per_second=4)})  # a slot every 0.25 s
    start = time.monotonic()
    went: list[float] = []

    async def send(chat: int) -> None:
        await limiter.wait("telegram", str(chat))
        went.append(time.monotonic() - start)

    tasks = [asyncio.create_task(send(chat)) for chat in range(4)]
    await asyncio.sleep(0.1)
    limiter.back_off("telegram", 1.0)  # Telegram: retry_after 1 s
    await asyncio.gather(*tasks)

    assert went[0] < 0.1
    assert min(went[1:]) >= 1.09


async def wrote_just_now(driver: Driver, person: Person) -> None:
    async with driver.sessions.begin() as session:
        stored_person = await session.get(Person, person.id)
        assert stored_person is not None
        stored_person.last_whatsapp_inbound_at = datetime.now(UTC)


async def test_twilio_retry_after_holds_the_row_and_the_channel(driver: Driver, participant: Person) -> None:
    await wrote_just_now(driver, participant)
    row = await add_row(driver, participant, "Jawaban", channel=Channel.WHATSAPP)
    http = ScriptedTwilioHttp()
    http.answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "7"})
    sender = WhatsAppSender(make_client("AC" + "0" * 32, "token", None, http), driver.sessions,
                            sender="+14155238886", status_callback=None, templates={"held": HELD},
                            media=MediaStore(driver.sessions))
    limiter = RateLimiter({"whatsapp": Pace(1000)})
    worker = DeliveryWorker(driver.sessions, {"whatsapp": sender}, limiter, clock=lambda: driver.clock.now)

    await worker.drain_once()

    retried = await stored(driver, row)
    assert (retried.status, retried.attempts, retried.error) == (OutboxStatus.PENDING, 1, "twilio 429: Too Many Requests")
    assert (retried.next_attempt_at - driver.clock.now).total_seconds() >= 7
    assert limiter._blocked_until["whatsapp"] - time.monotonic() > 6


class SlowSender:
    """A peer that answers only when the test lets it."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.started = asyncio.Event()

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None:
        self.started.set()
        await self.answer.wait()
        return "SM-slow"


class QuickSender:
    """A peer that answers at once, noting when."""

    def __init__(self, expected: int) -> None:
        self.sent: dict[str, float] = {}
        self.expected, self.all_sent = expected, asyncio.Event()

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None:
        self.sent[message_text(row)] = time.monotonic()
        if len(self.sent) == self.expected:
            self.all_sent.set()
        return str(row.id)


def message_text(row: OutboxMessage) -> str:
    return str(row.payload["text"])


async def test_a_slow_channel_never_holds_the_other_and_claiming_goes_on_meanwhile(
        driver: Driver, participant: Person, mentor: Person) -> None:
    slow, quick = SlowSender(), QuickSender(expected=2)
    worker = DeliveryWorker(driver.sessions, {"whatsapp": slow, "telegram": quick},
                            RateLimiter({"whatsapp": Pace(1000), "telegram": Pace(1000)}),
                            clock=lambda: driver.clock.now)
    await add_row(driver, participant, "Terima kasih, pertanyaan Anda tercatat", channel=Channel.WHATSAPP)
    await add_row(driver, mentor, "Pertanyaan baru #1")
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(slow.started.wait(), 2)
        start = time.monotonic()
        await asyncio.sleep(0.2)
        await add_row(driver, mentor, "Pertanyaan baru #2")  # written while WhatsApp still hangs
        worker.wake()
        await asyncio.wait_for(quick.all_sent.wait(), 2)
    finally:
        slow.answer.set()
        await worker.finish(grace_seconds=2)
        await running

    assert quick.sent["Pertanyaan baru #1"] - start < 0.2
    assert quick.sent["Pertanyaan baru #2"] - start < 0.6


# ---------------------------------------------------------------------- after a crash


async def test_rows_of_a_dead_process_come_back_in_order_and_a_live_ones_are_left_alone(
        driver: Driver, mentor: Person) -> None:
    other = "elsewhere:4242:abcd1234"
    first = await add_row(driver, mentor, "satu", claimed_by=other)
    await add_row(driver, mentor, "dua", claimed_by=other)
    await add_row(driver, mentor, "tiga")  # written after the crash, to the same chat
    async with driver.sessions.begin() as session:
        session.add(LoopPulse(holder=other, loop="delivery", started_at=datetime.now(UTC), beat_at=datetime.now(UTC)))
    bot, request = scripted_bot()
    worker = telegram_worker(driver, bot)

    assert await worker.drain_once() == 0  # the other process is alive: its chat waits for it
    async with driver.sessions.begin() as session:
        pulse = await session.get(LoopPulse, (other, "delivery"))
        assert pulse is not None
        pulse.beat_at = datetime.now(UTC) - timedelta(seconds=11)  # its heartbeat stopped
    assert await worker.drain_once() == 3

    assert sent_texts(request.calls) == ["sendMessage:satu", "sendMessage:dua", "sendMessage:tiga"]
    assert (await stored(driver, first)).claimed_by is None


# ---------------------------------------------------------------------- Telegram polling


async def test_a_409_conflict_is_retried_and_never_ends_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    bot, request = scripted_bot()
    conflict = {"ok": False, "error_code": 409,
                "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
    request.answer("getUpdates", 409, conflict)
    request.answer("getUpdates", 409, conflict)
    update = {"update_id": 11, "message": {"message_id": 1, "date": 1700000000, "text": "halo",
                                           "chat": {"id": 5001, "type": "private"},
                                           "from": {"id": 5001, "is_bot": False, "first_name": "Budi"}}}
    request.answer("getUpdates", 200, {"ok": True, "result": [update]})
    for _ in range(50):
        request.answer("getUpdates", 200, {"ok": True, "result": []})
    stored_inbounds: list[Inbound] = []

    async def keep(inbound: Inbound) -> bool:
        stored_inbounds.append(inbound)
        poller.stop()  # after this batch
        return True

    pauses: list[float] = []

    async def short_pause(self: TelegramPoller, seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0.01)

    monkeypatch.setattr(TelegramPoller, "_pause", short_pause)
    await bot.initialize()
    poller = TelegramPoller(bot, keep, lambda: None)
    await asyncio.wait_for(poller.run(poll_seconds=0), 5)

    assert [i.text for i in stored_inbounds] == ["halo"]
    assert pauses[:2] == [1.0, 2.0]
    assert (poller.offset, poller.pulse.failures) == (12, 0)


# ---------------------------------------------------------------------- scheduler and status


async def test_a_failing_job_is_recorded_and_the_scheduler_goes_on(driver: Driver,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[Any] = [RuntimeError("digest broke"), 4]

    async def run_job(*_args: Any) -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return int(outcome)

    monkeypatch.setattr(runner, "run_job", run_job)
    pulse = Pulse("scheduler", bound_seconds=120)
    scheduler = build_scheduler(driver.sessions, driver.config, after_run=lambda: None,
                                leadership=Leadership(driver.sessions), beat=pulse)
    fire = scheduler.get_job("weekly_digest").func

    await fire()
    async with driver.sessions() as session:
        failed = await session.get(JobPulse, "weekly_digest")
        assert failed is not None
        assert (failed.ok, failed.error, failed.last_ok_at) == (False, "RuntimeError: digest broke", None)
    await fire()
    await scheduler.get_job("scheduler_lease").func()

    async with driver.sessions() as session:
        done = await session.get(JobPulse, "weekly_digest")
        assert done is not None
        assert (done.ok, done.messages, done.error, done.last_ok_at is not None) == (True, 4, None, True)
    assert pulse.last_pass is not None


async def test_status_shows_loops_backlogs_the_oldest_waiting_message_and_jobs(
        driver: Driver, participant: Person, mentor: Person) -> None:
    now = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    driver.clock.now = now - timedelta(minutes=5)
    oldest = await add_row(driver, mentor, "Pertanyaan baru #3")
    await add_row(driver, participant, "Jawaban", channel=Channel.WHATSAPP)
    failed = await add_row(driver, participant, "Pengingat", channel=Channel.WHATSAPP)
    async with driver.sessions.begin() as session:
        (await session.get(OutboxMessage, oldest.id)).error = "telegram network: Timed out"  # type: ignore[union-attr]
        (await session.get(OutboxMessage, failed.id)).status = OutboxStatus.FAILED  # type: ignore[union-attr]
        session.add_all([
            LoopPulse(holder="host:1:a", loop="inbox", started_at=now, beat_at=now - timedelta(seconds=2),
                      last_pass_at=now - timedelta(seconds=3)),
            LoopPulse(holder="host:1:a", loop="delivery", started_at=now, beat_at=now - timedelta(seconds=2),
                      last_pass_at=now - timedelta(minutes=4), failures=7,
                      last_error="OperationalError: connection refused"),
            LoopPulse(holder="host:0:b", loop="inbox", started_at=now, beat_at=now - timedelta(hours=3)),
            JobPulse(job_id="weekly_digest", holder="host:1:a", started_at=now - timedelta(minutes=10),
                     finished_at=now - timedelta(minutes=9), ok=True, messages=12),
            JobPulse(job_id="answer_deadlines", holder="host:1:a", started_at=now - timedelta(minutes=1),
                     finished_at=now - timedelta(minutes=1), ok=False, error="RuntimeError: x"),
            InboxItem(channel="whatsapp", external_id="SM-waiting", payload={}, received_at=now - timedelta(minutes=2)),
        ])

    async with driver.sessions() as session:
        text = render_status(await collect_status(session, now), "en", UTC)

    assert text.splitlines() == [
        "Klinik Bisnis state at 2026-03-04 02:00:00", "",
        "Background loops:",
        "  process host:1:a: worker",  # the roles of each running process (klinik run --only)
        "  delivery   host:1:a  last pass 4 min ago · failed 7× in a row: OperationalError: connection refused",
        "  inbox      host:1:a  last pass 3 s ago",
        "  inbox      host:0:b  NOT RUNNING (last beat 3 h ago)", "",
        "Inbound: 1 waiting, 0 to be tried again, 0 set aside (klinik inbox failed)",
        "  oldest waiting since 2026-03-04 01:58:00 (2 min ago)", "",
        "Outbound not yet sent, by channel:",
        "  telegram  pending 1 (due now 1) · held 0 · failed 0",
        "  whatsapp  pending 1 (due now 1) · held 0 · failed 1", "",
        f"Oldest waiting outbound message: #{oldest.id} telegram 5001, written 2026-03-04 01:55:00 (5 min ago), "
        "0 attempts, last: telegram network: Timed out", "",
        "Scheduled jobs, last run:",
        "  answer_deadlines       2026-03-04 01:59:00  FAILED: RuntimeError: x",
        "  weekly_digest          2026-03-04 01:51:00  ok, 12 messages"]


async def test_only_the_lease_holder_polls_and_a_crashed_holder_is_replaced_at_once(
        driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import socket

    bot, request = scripted_bot()
    for _ in range(50):
        request.answer("getUpdates", 200, {"ok": True, "result": []})
    monkeypatch.setattr(TelegramPoller, "_pause", lambda self, seconds: asyncio.sleep(0.01))
    await bot.initialize()
    dead = f"{socket.gethostname()}:{2**22 + os.getpid() % 1000}:deadbeef"  # no such process on this host
    live_other = Leadership(driver.sessions, name="telegram_polling")
    me = Leadership(driver.sessions, name="telegram_polling",
                    is_dead=lambda holder: holder == dead)

    async def keep(_inbound: Inbound) -> bool:
        return True

    assert await live_other.hold()
    standby = TelegramPoller(bot, keep, lambda: None, lease=me)
    task = asyncio.create_task(standby.run(poll_seconds=0))
    await asyncio.sleep(0.2)
    polled_while_other_held = sum(1 for method, _ in request.calls if method == "getUpdates")
    async with driver.sessions.begin() as session:
        lease = await session.get(SchedulerLease, "telegram_polling")
        assert lease is not None
        lease.holder = dead  # the other process crashed without releasing; its lease has not expired
    await asyncio.sleep(0.2)
    standby.stop()
    await asyncio.wait_for(task, 5)

    assert polled_while_other_held == 0
    assert sum(1 for method, _ in request.calls if method == "getUpdates") > 0
    assert me.is_leader
