"""Outbound pacing against the peers: many sends in flight without reordering a chat, Telegram's
limits as the emulator enforces them (counted at the emulator), and its retry_after obeyed."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryWorker, Pace, RateLimiter, RetryPolicy
from bot.media import MediaStore
from bot.telegram import TelegramSender, make_bot
from bot.whatsapp.http import make_client
from bot.whatsapp.sender import WhatsAppSender
from handlers.kernel.messages import OutgoingPart
from storage.db import make_engine, make_sessionmaker
from storage.models import LoopPulse, OutboxMessage, OutboxStatus
from tests.support.peers import TelegramEmulator
from tests.support.twilio_mock import SlowTwilio

ACCOUNT_SID = "AC" + "0" * 32


async def add_rows(sessions: async_sessionmaker[AsyncSession], channel: str,
                   chats: list[str], per_chat: int) -> dict[str, list[str]]:
    """per_chat rows for each chat, written round-robin (chat order interleaved); the texts each chat expects."""
    now = datetime.now(UTC)
    expected: dict[str, list[str]] = defaultdict(list)
    async with sessions.begin() as session:
        for number in range(1, per_chat + 1):
            for chat in chats:
                text = f"pesan {number} buat {chat}"
                expected[chat].append(text)
                session.add(OutboxMessage(channel=channel, address=chat, payload=OutgoingPart(text=text).to_json(),
                                          status=OutboxStatus.PENDING, created_at=now, next_attempt_at=now))
    return expected


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxMessage.status))).scalars())


@pytest.fixture
async def peer_sessions(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """SQLite only: these tests are about the peers' limits, not the database (the claim tests run on both)."""
    path = tmp_path / "klinik.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def slow_twilio() -> AsyncIterator[SlowTwilio]:
    peer = SlowTwilio(delay=0.02, jitter=0.15)  # answers come back in a shuffled order
    await peer.start()
    yield peer
    await peer.stop()


async def test_a_wide_window_keeps_each_chats_order_at_the_peer(
        peer_sessions: async_sessionmaker[AsyncSession], slow_twilio: SlowTwilio) -> None:
    chats = [f"+62812{n:07d}" for n in range(40)]
    expected = await add_rows(peer_sessions, "whatsapp", chats, per_chat=4)
    client = make_client(ACCOUNT_SID, "token", slow_twilio.url)
    sender = WhatsAppSender(client, peer_sessions, sender="+14155238886", status_callback=None, templates={},
                            media=MediaStore(peer_sessions))
    worker = DeliveryWorker(peer_sessions, {"whatsapp": sender}, RateLimiter({"whatsapp": Pace(1000)}), concurrency=64)
    try:
        while await worker.drain_once():
            pass
    finally:
        await client.close()

    assert slow_twilio.max_in_flight >= 30  # one per chat, many chats at once
    for chat in chats:
        assert slow_twilio.bodies_to(chat) == expected[chat]
    assert set(await statuses(peer_sessions)) == {OutboxStatus.SENT}


async def test_a_chat_with_a_long_queue_does_not_hold_the_others(
        sessions: async_sessionmaker[AsyncSession], slow_twilio: SlowTwilio) -> None:
    slow_twilio.delay, slow_twilio.jitter = 0.02, 0.0
    busy, others = "+6281100000000", [f"+62813{n:07d}" for n in range(20)]
    await add_rows(sessions, "whatsapp", [busy], per_chat=40)  # written first: the oldest rows
    await add_rows(sessions, "whatsapp", others, per_chat=1)
    client = make_client(ACCOUNT_SID, "token", slow_twilio.url)
    sender = WhatsAppSender(client, sessions, sender="+14155238886", status_callback=None, templates={},
                            media=MediaStore(sessions))
    worker = DeliveryWorker(sessions, {"whatsapp": sender}, RateLimiter({"whatsapp": Pace(1000)}),
                            batch_size=20, max_in_hand=20, per_chat_in_hand=4)
    try:
        while await worker.drain_once():
            pass
    finally:
        await client.close()

    order = [arrival.to for arrival in slow_twilio.arrivals]
    assert order.count(f"whatsapp:{busy}") == 40
    last_other = max(order.index(f"whatsapp:{chat}") for chat in others)
    assert order[:last_other].count(f"whatsapp:{busy}") <= 8  # the others did not wait for the long queue


async def emulator_worker(sessions: async_sessionmaker[AsyncSession], emulator: TelegramEmulator, token: str,
                          pace: Pace, **options: object) -> tuple[DeliveryWorker, object]:
    bot = make_bot(token, emulator.url, connections=64)
    await bot.initialize()
    worker = DeliveryWorker(sessions, {"telegram": TelegramSender(bot, MediaStore(sessions))},
                            RateLimiter({"telegram": pace}), **options)  # type: ignore[arg-type]
    return worker, bot


async def test_telegram_limits_hold_at_the_emulator_and_nothing_is_refused(
        peer_sessions: async_sessionmaker[AsyncSession], telegram_emulator: TelegramEmulator) -> None:
    token = telegram_emulator.new_token()
    await telegram_emulator.set_limits(token, per_second=30, per_chat_interval_ms=1000)
    chats = [str(7000 + n) for n in range(45)]
    expected = await add_rows(peer_sessions, "telegram", chats, per_chat=2)
    worker, bot = await emulator_worker(peer_sessions, telegram_emulator, token, Pace(30, 1.0, strict=True))
    try:
        while await worker.drain_once():
            pass
    finally:
        await bot.shutdown()  # type: ignore[attr-defined]

    stats = await telegram_emulator.limit_stats(token)
    assert stats["rejected"] == []
    accepted = stats["accepted"]
    assert len(accepted) == 90
    times = sorted(entry["time"] for entry in accepted)
    assert max(sum(1 for t in times[i:i + 31] if t - start < 1000) for i, start in enumerate(times)) <= 30
    by_chat: dict[str, list[float]] = defaultdict(list)
    for entry in accepted:
        by_chat[entry["chat_id"]].append(entry["time"])
    assert min(b - a for chat_times in by_chat.values() for a, b in itertools.pairwise(chat_times)) >= 1000
    for chat in chats[:3]:
        assert [m.text for m in await telegram_emulator.get_updates(token, chat)] == expected[chat]


async def test_telegrams_retry_after_is_waited_out_before_the_chat_gets_more(
        peer_sessions: async_sessionmaker[AsyncSession], telegram_emulator: TelegramEmulator) -> None:
    token = telegram_emulator.new_token()
    await telegram_emulator.set_limits(token, per_second=0, per_chat_interval_ms=1000)
    expected = await add_rows(peer_sessions, "telegram", ["7101"], per_chat=3)
    worker, bot = await emulator_worker(peer_sessions, telegram_emulator, token, Pace(1000),  # the bot paces too fast
                                        retry=RetryPolicy(first_seconds=0.05, max_seconds=0.1))
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            if set(await statuses(peer_sessions)) == {OutboxStatus.SENT}:
                break
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await running
        await worker.finish()
        await bot.shutdown()  # type: ignore[attr-defined]

    stats = await telegram_emulator.limit_stats(token)
    assert stats["rejected"], "the emulator never had to refuse: the test proves nothing"
    tries = sorted([(e["time"], "accepted", 0) for e in stats["accepted"]]
                   + [(e["time"], "rejected", e["retry_after"]) for e in stats["rejected"]])
    for (at, verdict, retry_after), (next_at, _, _) in itertools.pairwise(tries):
        if verdict == "rejected":
            assert next_at - at >= retry_after * 1000
    assert len(stats["accepted"]) == 3
    assert [m.text for m in await telegram_emulator.get_updates(token, "7101")] == expected["7101"]


async def test_two_delivery_processes_share_telegrams_limit(
        sessions: async_sessionmaker[AsyncSession], telegram_emulator: TelegramEmulator) -> None:
    token = telegram_emulator.new_token()
    await telegram_emulator.set_limits(token, per_second=30, per_chat_interval_ms=1000)
    await add_rows(sessions, "telegram", [str(7200 + n) for n in range(80)], per_chat=1)
    now = datetime.now(UTC)
    workers, bots = [], []
    for name in ("host:1:a", "host:2:b"):
        worker, bot = await emulator_worker(sessions, telegram_emulator, token, Pace(30, 1.0, strict=True),
                                            holder=name, batch_size=40, max_in_hand=40)
        workers.append(worker)
        bots.append(bot)
    async with sessions.begin() as session:  # both alive: their heartbeats
        session.add_all([LoopPulse(holder=worker.holder, loop="delivery", started_at=now, beat_at=now)
                         for worker in workers])
    try:
        counts = await asyncio.gather(*(worker.drain_once() for worker in workers))
        while sum(counts):
            counts = await asyncio.gather(*(worker.drain_once() for worker in workers))
    finally:
        for bot in bots:
            await bot.shutdown()  # type: ignore[attr-defined]

    stats = await telegram_emulator.limit_stats(token)
    assert [worker.limiter.processes for worker in workers] == [2, 2]
    assert stats["rejected"] == []
    times = sorted(entry["time"] for entry in stats["accepted"])
    assert len(times) == 80
    assert max(sum(1 for t in times[i:i + 31] if t - start < 1000) for i, start in enumerate(times)) <= 30



async def test_a_chats_gap_holds_across_a_restart(
        sessions: async_sessionmaker[AsyncSession], telegram_emulator: TelegramEmulator) -> None:
    token = telegram_emulator.new_token()
    await telegram_emulator.set_limits(token, per_second=30, per_chat_interval_ms=1000)
    await add_rows(sessions, "telegram", ["7301"], per_chat=1)
    first, first_bot = await emulator_worker(sessions, telegram_emulator, token, Pace(30, 1.0, strict=True))
    await first.drain_once()
    await first_bot.shutdown()  # type: ignore[attr-defined]
    await add_rows(sessions, "telegram", ["7301"], per_chat=1)  # the next message, for a process that knows nothing

    second, second_bot = await emulator_worker(sessions, telegram_emulator, token, Pace(30, 1.0, strict=True))
    try:
        await second.drain_once()
    finally:
        await second_bot.shutdown()  # type: ignore[attr-defined]

    stats = await telegram_emulator.limit_stats(token)
    assert stats["rejected"] == []
    first_at, second_at = (entry["time"] for entry in stats["accepted"])
    assert second_at - first_at >= 1000


async def test_two_claimers_at_once_never_take_the_same_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Two delivery processes claiming at the same moment (on SQLite the claim reads before it writes):
    every row ends in exactly one hand, and each chat's rows stay with one claimer, in order."""
    await add_rows(sessions, "telegram", [str(7400 + n) for n in range(30)], per_chat=3)
    now = datetime.now(UTC)
    workers = [DeliveryWorker(sessions, {}, RateLimiter({"telegram": Pace(30)}), holder=name, batch_size=200)
               for name in ("host:1:a", "host:2:b")]
    async with sessions.begin() as session:
        session.add_all([LoopPulse(holder=worker.holder, loop="delivery", started_at=now, beat_at=now)
                         for worker in workers])

    async def connect() -> None:  # two connections ready in the pool, so both claims read at the same moment
        async with sessions() as session:
            await session.execute(select(1))
            await asyncio.sleep(0.05)
    await asyncio.gather(connect(), connect())
    hands = await asyncio.gather(*(worker.claim("telegram", 200) for worker in workers))

    ids = [[row.id for row in hand] for hand in hands]
    assert not set(ids[0]) & set(ids[1])
    async with sessions() as session:
        held = dict((await session.execute(select(OutboxMessage.id, OutboxMessage.claimed_by))).all())
    for worker, hand in zip(workers, hands, strict=True):
        assert all(held[row.id] == worker.holder for row in hand)  # what a worker holds is its claim on record
    assert sum(len(hand) for hand in hands) == sum(1 for holder in held.values() if holder is not None)
