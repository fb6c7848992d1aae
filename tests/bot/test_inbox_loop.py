"""The inbox's run loop on SQLite: a pass that took every due item ends without a look that finds nothing,
and what arrives meanwhile is still handled at once (not at the next tick)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

import bot.inbox as inbox_module
from bot.inbox import InboxProcessor, engine_of
from handlers.kernel.messages import Address, Channel, Inbound
from storage.models import InboxItem, OutboxMessage, Person, Role
from tests.support.driver import Driver


def message(phone: str, text: str, sid: str, now: datetime) -> Inbound:
    return Inbound(address=Address(Channel.WHATSAPP, phone), external_id=sid, received_at=now,
                   sender_id=phone, text=text)


async def participants(driver: Driver, count: int) -> list[Person]:
    return [await driver.add_person(role=Role.PESERTA, name=f"Peserta {n}", phone=f"+62812700000{n:02d}",
                                    cohort="Angkatan 1") for n in range(count)]


async def handled_count(driver: Driver) -> int:
    async with driver.sessions() as session:
        return int(await session.scalar(select(func.count()).where(InboxItem.processed_at.is_not(None))) or 0)


async def test_a_message_stored_while_a_pass_runs_is_handled_before_the_tick(
        driver: Driver, db_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if db_kind != "sqlite":
        pytest.skip("the SQLite batch loop")
    people = await participants(driver, 2)
    handled: list[str] = []
    both = asyncio.Event()
    processor = InboxProcessor(driver.sessions, driver.config, clock=lambda: driver.clock.now, batch_size=8,
                               after_commit=lambda: both.set() if len(handled) == 2 else None)
    processor.idle_seconds = 30.0  # a message left to the tick would not be handled within this test
    real = inbox_module.handle_inbox_item
    arrived: list[bool] = []

    async def handle(session: Any, item: InboxItem, now: datetime, config: Any) -> None:
        await real(session, item, now, config)
        handled.append(item.external_id)
        if not arrived:  # a webhook stores the second person's message while the first is handled
            arrived.append(True)
            store = asyncio.create_task(processor.store(
                message(people[1].phone, "kak mau tanya soal NIB", "SMloop2", driver.clock.now), driver.clock.now))
            store.add_done_callback(lambda _: processor.wake())

    monkeypatch.setattr(inbox_module, "handle_inbox_item", handle)
    assert await processor.store(message(people[0].phone, "halo kak", "SMloop1", driver.clock.now), driver.clock.now)
    running = asyncio.create_task(processor.run())
    try:
        async with asyncio.timeout(5):
            await both.wait()
    finally:
        processor.stop()
        await running
    async with driver.sessions() as session:
        replies = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert handled == ["SMloop1", "SMloop2"]
    assert await handled_count(driver) == 2
    assert (replies or 0) >= 2  # each of them answered


async def test_a_pass_that_took_everything_ends_without_looking_again(driver: Driver, db_kind: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if db_kind != "sqlite":
        pytest.skip("the SQLite batch loop")
    # the batch's time budget is not what this test is about: on a loaded machine three items can take longer
    # than 50 ms, the batch stops early, and the pass rightly looks again (seen once in a clean-clone CI run)
    monkeypatch.setattr(inbox_module, "BATCH_SECONDS", 60.0)
    people = await participants(driver, 3)
    for number, person in enumerate(people):
        await processor_store(driver, person, number)
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None,
                               clock=lambda: driver.clock.now, batch_size=8)
    looks: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SELECT inbox."):
            looks.append(statement)

    engine = engine_of(driver.sessions).sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = await processor.pass_once()  # three due, fewer than a batch: one look
        looks_in_pass = len(looks)
        drained = await processor.drain_once()  # drain_once still looks until it finds nothing
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert (first, looks_in_pass) == (0, 1)  # 0: run() waits for a wake-up, having handled all three
    assert (drained, len(looks)) == (0, 2)
    assert await handled_count(driver) == 3


async def processor_store(driver: Driver, person: Person, number: int) -> None:
    processor = InboxProcessor(driver.sessions, driver.config, after_commit=lambda: None)
    assert await processor.store(message(person.phone, "halo kak", f"SMsweep{number}", driver.clock.now),
                                 driver.clock.now)
