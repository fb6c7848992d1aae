"""The inbox partitioned by sender: parallel workers (and two processors) keep each person's order,
lose nothing and handle nothing twice; batches on SQLite; a failing item is still retried and set aside;
webhooks stored together are deduplicated. Run with --postgres for the PostgreSQL partitions."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

import bot.inbox as inbox_module
from bot.inbox import InboxProcessor, ingest
from handlers.kernel.messages import Address, Channel, Inbound
from storage.db import make_engine
from storage.models import InboxItem, OutboxMessage, Person, Role
from tests.support.driver import Driver

SENDERS, EACH = 12, 6


def message(phone: str, text: str, sid: str, now: datetime) -> Inbound:
    return Inbound(address=Address(Channel.WHATSAPP, phone), external_id=sid, received_at=now,
                   sender_id=phone, text=text)


async def interleaved_burst(driver: Driver) -> list[str]:
    """SENDERS participants, each writing 'pesan 0' … 'pesan 5', interleaved as they would arrive."""
    phones = [f"+6281290000{n:03d}" for n in range(SENDERS)]
    for phone in phones:
        await driver.add_person(role=Role.PESERTA, name=f"Peserta {phone[-3:]}", phone=phone, cohort="Angkatan 1")
    for number in range(EACH):
        for phone in phones:
            await ingest(driver.sessions, message(phone, f"pesan {number}", f"SM{phone[-3:]}x{number}", driver.clock.now),
                         driver.clock.now)
    return phones


def recording_handler(monkeypatch: pytest.MonkeyPatch, handled: list[tuple[str, str]]) -> None:
    """Each item records (sender, text) after a random pause, so workers overtake each other."""
    real = inbox_module.handle_inbox_item

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        await asyncio.sleep(random.uniform(0, 0.004))
        await real(session, item, now, config)
        handled.append((item.payload["address"], item.payload["text"]))

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)


async def test_parallel_workers_keep_each_senders_order_and_handle_everything_once(
        driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    phones = await interleaved_burst(driver)
    handled: list[tuple[str, str]] = []
    recording_handler(monkeypatch, handled)
    processors = [InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                                 clock=lambda: driver.clock.now, workers=4, batch_size=5) for _ in range(2)]

    counts = await asyncio.gather(*(processor.drain_once() for processor in processors))

    assert sum(counts) == SENDERS * EACH
    for phone in phones:
        assert [text for who, text in handled if who == phone] == [f"pesan {n}" for n in range(EACH)]
    async with driver.sessions() as session:
        unprocessed = await session.scalar(select(func.count()).where(InboxItem.processed_at.is_(None)))
        replies = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert (unprocessed, replies) == (0, SENDERS * EACH)  # one answer per message: none handled twice


async def test_two_processors_on_postgres_take_different_senders_at_the_same_time(
        driver: Driver, db_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite has one writer: one processor per database")
    await interleaved_burst(driver)
    in_hand: set[str] = set()
    overlaps: list[str] = []
    most_at_once = 0
    real = inbox_module.handle_inbox_item

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        nonlocal most_at_once
        if item.sender in in_hand:
            overlaps.append(str(item.sender))
        in_hand.add(str(item.sender))
        most_at_once = max(most_at_once, len(in_hand))
        try:
            await asyncio.sleep(0.01)
            await real(session, item, now, config)
        finally:
            in_hand.discard(str(item.sender))

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)
    processors = [InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                                 clock=lambda: driver.clock.now, workers=3) for _ in range(2)]

    await asyncio.gather(*(processor.drain_once() for processor in processors))

    assert overlaps == []
    assert most_at_once > 1


async def test_a_worker_on_postgres_takes_at_once_what_another_process_stored(driver: Driver, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite has one process")
    phone = "+6281290000999"
    await driver.add_person(role=Role.PESERTA, name="Peserta Rina", phone=phone, cohort="Angkatan 1")
    worker = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None, clock=lambda: driver.clock.now)
    worker.idle_seconds = 60.0  # without a notification it would look again in a minute
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.listening.wait(), 10)
        await asyncio.sleep(0.2)  # its first passes found nothing: it waits
        # stored by "another process": a plain INSERT, nothing in this one wakes the worker
        await ingest(driver.sessions, message(phone, "kak mau tanya soal NIB", "SMnotify1", driver.clock.now),
                     driver.clock.now)
        async with asyncio.timeout(10):
            while True:
                async with driver.sessions() as session:
                    if await session.scalar(select(InboxItem.processed_at).where(InboxItem.external_id == "SMnotify1")):
                        break
                await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
    assert not worker.listening.is_set()


async def test_a_failing_item_in_a_batch_is_retried_alone_and_the_rest_commit(
        driver: Driver, participant: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    real = inbox_module.handle_inbox_item

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        if item.payload["text"] == "BOOM":
            raise ValueError("value too long for type character varying(64)")
        await real(session, item, now, config)

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)
    for number, text in enumerate(["halo kak", "BOOM", "menu", "makasih kak"]):
        await ingest(driver.sessions, message(participant.phone or "", text, f"SM-batch-{number}", driver.clock.now),
                     driver.clock.now)
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                               clock=lambda: driver.clock.now, workers=4, batch_size=32)

    assert await processor.drain_once() == 4
    async with driver.sessions() as session:
        items = list((await session.execute(select(InboxItem).order_by(InboxItem.id))).scalars())
    assert [(i.payload["text"], i.attempts, i.processed_at is not None) for i in items] == [
        ("halo kak", 0, True), ("BOOM", 1, False), ("menu", 0, True), ("makasih kak", 0, True)]

    for seconds in (3, 11):
        driver.clock.advance(seconds=seconds)
        assert await processor.drain_once() == 1
    async with driver.sessions() as session:
        boom = (await session.execute(select(InboxItem).where(InboxItem.external_id == "SM-batch-1"))).scalar_one()
    assert (boom.attempts, boom.failed_at is not None) == (3, True)


async def test_webhooks_stored_together_keep_one_copy_of_a_repeated_message(driver: Driver, participant: Person) -> None:
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None, clock=lambda: driver.clock.now)
    phone = participant.phone or ""
    inbounds = [message(phone, f"pesan {n}", f"SM-group-{n % 3}", driver.clock.now) for n in range(6)]

    stored = await asyncio.gather(*(processor.store(inbound, driver.clock.now) for inbound in inbounds))

    assert [sum(stored[n::3]) for n in range(3)] == [1, 1, 1]  # each id stored once, whichever copy came first
    async with driver.sessions() as session:
        rows = list((await session.execute(select(InboxItem.external_id, InboxItem.sender))).all())
    assert sorted(tuple(row) for row in rows) == [(f"SM-group-{n}", f"whatsapp:{phone}") for n in range(3)]


async def test_a_database_outage_during_a_batch_backs_off_and_costs_no_item_a_try(
        driver: Driver, participant: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*_args: Any) -> None:
        raise ConnectionRefusedError("[Errno 111] Connect call failed")

    async def unreachable(*_args: Any) -> bool:
        return False

    monkeypatch.setattr(inbox_module, "handle_inbox_item", refused)
    monkeypatch.setattr(inbox_module, "database_answers", unreachable)
    for number in range(3):
        await ingest(driver.sessions, message(participant.phone or "", "halo kak", f"SM-away-{number}", driver.clock.now),
                     driver.clock.now)
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                               clock=lambda: driver.clock.now, workers=4, batch_size=32)

    with pytest.raises(ConnectionRefusedError):
        await processor.drain_once()

    async with driver.sessions() as session:
        items = list((await session.execute(select(InboxItem))).scalars())
    assert [(i.attempts, i.processed_at, i.error) for i in items] == [(0, None, None)] * 3



async def test_while_webhooks_wait_the_postgresql_workers_take_turns_and_still_handle_everything(
        driver: Driver, monkeypatch: pytest.MonkeyPatch, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite has one worker (its batches commit early instead)")
    phones = await interleaved_burst(driver)
    handled: list[tuple[str, str]] = []
    real = inbox_module.handle_inbox_item
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                               clock=lambda: driver.clock.now, workers=4, batch_size=32)
    at_once, most = [0], {True: 0, False: 0}  # messages in hand at once, while webhooks waited or not

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        at_once[0] += 1
        waiting = processor._storing > 0
        most[waiting] = max(most[waiting], at_once[0])
        await asyncio.sleep(0.002)  # a message that awaits something: another worker could start one meanwhile
        await real(session, item, now, config)
        handled.append((item.payload["address"], item.payload["text"]))
        at_once[0] -= 1

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)
    monkeypatch.setattr(inbox_module, "SENDERS_PER_CLAIM", 3)  # the 12 senders are shared by the 4 workers
    processor._storing = 1  # as while webhooks wait to be stored and acknowledged
    assert await processor.drain_once() == SENDERS * EACH  # slower, never stopped
    for phone in phones:
        assert [text for who, text in handled if who == phone] == [f"pesan {n}" for n in range(EACH)]
    assert most[True] == 1  # one message at a time, each followed by a pause

    processor._storing = 0  # no webhook waits: the workers handle their senders at once again
    for phone in phones:
        await ingest(driver.sessions, message(phone, "lagi", f"SM{phone[-3:]}again", driver.clock.now), driver.clock.now)
    assert await processor.drain_once() == SENDERS
    assert most[False] > 1


async def test_a_webhook_stored_on_a_connection_the_server_just_dropped_is_stored_on_a_new_one(
        driver: Driver, participant: Person, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("PostgreSQL's pooled connections (SQLite connections are files)")
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None, clock=lambda: driver.clock.now)
    phone = participant.phone or ""
    assert await processor.store(message(phone, "halo kak", "SM-before-drop", driver.clock.now), driver.clock.now)
    other = make_engine(driver.sessions.kw["bind"].url.render_as_string(hide_password=False), pool_size=1)
    try:  # the server ends the bot's connections (as a restart would), the one that just stored included
        async with other.connect() as connection:
            ended = (await connection.execute(sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))).scalar_one()
        assert ended >= 1
    finally:
        await other.dispose()
    await asyncio.sleep(0.1)

    assert await processor.store(message(phone, "masih ada kak?", "SM-after-drop", driver.clock.now), driver.clock.now)

    async with driver.sessions() as session:
        stored = list((await session.execute(select(InboxItem.external_id).order_by(InboxItem.id))).scalars())
    assert stored == ["SM-before-drop", "SM-after-drop"]
