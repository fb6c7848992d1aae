"""Durable inbox: store an inbound before acknowledging it, then process it, each sender's in order.

Different people's messages are independent, one person's are ordered: the inbox is partitioned by
sender. On PostgreSQL several workers (tasks here, and other processes) each lock a few senders nobody
holds and handle their due items in id order: transaction-scoped advisory locks on the senders are the
guard, so two processes never handle one person's messages at once or out of order. SQLite has one
writer: one worker, no locks. Either way several items go in one transaction (a batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from bot.background import DrainLoop
from bot.health import database_answers, error_text
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Inbound, Outgoing
from handlers.kernel.outbox import enqueue
from handlers.router import handle_inbox_item, load_senders
from storage.db import is_postgres, take_sqlite_writer
from storage.models import InboxItem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # an inbound that fails this often is set aside (klinik inbox failed)
RETRY_SECONDS = (2.0, 10.0)  # before the second and the third try
LOCK_CLASS = 0x4B42  # first key of our advisory locks on senders ("KB"); the second is hashtext(sender)
# PostgreSQL: due items looked at per claim (one chatty sender must not hide the others). With several workers
# in several processes each holding SENDERS_PER_CLAIM senders, a narrow window held only senders taken already:
# 256 items and 64 senders offered made a 1,500 backlog take 75 claims of two processes x 4 workers, now 55 (47 at best)
CANDIDATES = 1024
BATCH_SECONDS = 0.05  # a SQLite batch stops growing after this long: webhooks wait for the one writer
# SQLite: a batch commits after this many items when webhooks wait to be stored (their acknowledgement waits for
# the one writer); it still handles that many, so a long burst does not stop the handling
WHILE_STORING = 4
GROUP_ROWS = 200  # webhooks stored in one statement at most
# PostgreSQL: senders one worker takes per transaction (up to batch_size items). WhatsApp options (`menus` rows,
# shared by everyone who writes to one mentor) are written at commit in key order (handlers/kernel/menus.py), so
# concurrent batches of several senders do not deadlock on them. 32 rather than 8: a backlog's transaction carries
# four times the messages (0.73 -> 0.37 statements per message of bench_inbound's backlog, in one process).
SENDERS_PER_CLAIM = 32
# PostgreSQL: while webhooks wait to be stored and acknowledged, the workers take turns, one message at a time,
# each followed by a pause as long as the message took (at most this long): during a burst the webhooks get at
# least half of the event loop, and the processing still goes on at half speed (it never stops while webhooks come)
YIELD_AT_MOST = 0.005
SENDER_CANDIDATES = 256  # PostgreSQL: free senders offered to one claim; the first SENDERS_PER_CLAIM it can lock win
BUSY = -1  # a claim found due items, but every sender was held by another process: try again at once
BUSY_SECONDS = 0.01  # then, after this long
NOTIFY_CHANNEL = "klinik_inbox"  # PostgreSQL: the inbox trigger notifies every INSERT (migration 0029_inbox_notify)
LISTEN_CHECK_SECONDS = 30.0  # the listening connection is checked this often
LISTEN_RETRY_SECONDS = 5.0  # after it failed, listening starts again after this long
# One round trip: the senders of the oldest due items (first item first) that no worker of this process holds,
# locked until the transaction ends as far as no one else holds them; the LIMIT stops the locking once enough
# are locked. A last row with a NULL name says that there were free candidates (all held elsewhere: BUSY).
LOCK_SENDERS = text("""
WITH free AS MATERIALIZED (
    SELECT sender AS name, min(id) AS first FROM (
        SELECT sender, id FROM inbox
        WHERE processed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
        ORDER BY id LIMIT :candidates) AS due
    WHERE sender IS NOT NULL AND sender <> ALL(CAST(:busy AS text[]))
    GROUP BY sender ORDER BY min(id) LIMIT :offered),
locked AS (SELECT name FROM free WHERE pg_try_advisory_xact_lock(:class, hashtext(name)) LIMIT :wanted)
SELECT name FROM locked UNION ALL (SELECT NULL FROM free LIMIT 1)""")


class Locked(list[str]):
    """The senders a claim locked; when empty, `busy_elsewhere` says whether due items were all held by others."""

    def __init__(self, busy_elsewhere: int = 0) -> None:
        super().__init__()
        self.busy_elsewhere = busy_elsewhere


def sender_key(inbound: Inbound) -> str:
    """The partition of an inbound: one person on one channel ("whatsapp:+62812…", "telegram:12345")."""
    return f"{inbound.address.channel.value}:{inbound.sender_id or inbound.address.id}"[:100]


def inbox_row(inbound: Inbound, now: datetime) -> dict[str, Any]:
    """The inbox row of an inbound, as inserted."""
    return {"channel": inbound.address.channel.value, "external_id": inbound.external_id,
            "payload": inbound.to_json(), "received_at": now, "sender": sender_key(inbound), "attempts": 0}


async def ingest(sessions: async_sessionmaker[AsyncSession], inbound: Inbound, now: datetime) -> bool:
    """Store an inbound (one INSERT, nothing read); False when this update id / MessageSid was seen before."""
    try:
        async with engine_of(sessions).begin() as connection:  # Core, no ORM session: the ack path stays lean
            await connection.execute(insert(InboxItem), [inbox_row(inbound, now)])
    except IntegrityError:
        log.info("duplicate inbound %s/%s ignored", inbound.address.channel, inbound.external_id)
        return False
    return True


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine behind a session factory (made by storage.db.make_sessionmaker)."""
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


def is_lock_timeout(error: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the file too long, nothing wrong with the item."""
    return "database is locked" in str(error)


def is_due(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Not handled yet, and not waiting before a retry."""
    return InboxItem.processed_at.is_(None) & or_(InboxItem.next_attempt_at.is_(None), InboxItem.next_attempt_at <= now)


# SQLite, built once (a statement's construction costs more than SQLite's work on it)
DUE_BATCH = select(InboxItem).where(is_due(bindparam("now"))).order_by(InboxItem.id).limit(bindparam("wanted"))


class InboxProcessor(DrainLoop):
    """Processes stored inbound messages: different senders in parallel, each sender's oldest first.

    An inbound whose handling fails is tried again twice (after 2 s and 10 s) while the others go
    on; after the third failure it is set aside with its error (`failed_at`) and the sender is told
    we are on it. A failure while the database is away is not the item's fault: the loop backs off
    and tries the same item again when the database answers.
    """

    name = "inbox"
    idle_seconds = 2.0
    bound_seconds = 60.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: Config,
                 after_commit: Callable[[], None], clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 *, workers: int = 1, batch_size: int = 1) -> None:
        self.sessions, self.config, self.after_commit, self.clock = sessions, config, after_commit, clock
        self.workers, self.batch_size = max(1, workers), max(1, batch_size)
        self._lock = asyncio.Lock()
        self._in_flight: set[str] = set()  # senders a worker of this process holds
        self._working = 0  # workers of the running drain that have not finished
        self.listening = asyncio.Event()  # PostgreSQL: notified when any process stores inbound
        self._aborted = False  # a worker met a database failure: the others finish their item and stop
        self._postgres: bool | None = None
        self._write_lock = asyncio.Lock()  # SQLite: the processor's batches and the webhooks' inserts take turns
        self._arrivals: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._storing = 0  # webhooks waiting in store(): stored, not acknowledged yet
        self._store_new: Any = None  # the webhooks' INSERT, built at the first
        self._turns = asyncio.Lock()  # PostgreSQL: the workers' turns while webhooks wait
        self._group: asyncio.Task[None] | None = None
        self._sweep = self._swept = False  # SQLite: run()'s pass ends with a batch that took every due item
        self._took_all = False  # SQLite: the last batch found fewer due items than it may take, and handled them
        super().__init__()

    async def store(self, inbound: Inbound, now: datetime) -> bool:
        """Store an inbound before it is acknowledged; False when it was seen before.

        The webhooks that arrive together share one INSERT and one commit (group commit): while one
        group is written the next gathers, so under load a webhook costs a fraction of a transaction.
        On SQLite the groups take turns with the processor's batches on an asyncio lock instead of
        polling the file lock: SQLite has one writer, and its busy handler sleeps in steps of up to 100 ms.
        """
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._arrivals.append((inbox_row(inbound, now), waiter))
        if self._group is None or self._group.done():
            self._group = asyncio.create_task(self._store_arrivals())
        self._storing += 1
        try:
            return await waiter
        finally:
            self._storing -= 1

    async def _store_arrivals(self) -> None:
        while self._arrivals:
            async with self._write_lock:
                arrivals, self._arrivals = self._arrivals[:GROUP_ROWS], self._arrivals[GROUP_ROWS:]
                try:
                    stored = await self._insert_new([row for row, _ in arrivals])
                except Exception as error:
                    for _, waiter in arrivals:
                        if not waiter.done():
                            waiter.set_exception(error)
                    continue
            for row, waiter in arrivals:
                key = (row["channel"], row["external_id"])
                is_new = key in stored
                stored.discard(key)  # the same id twice in one group: the second is a repeat
                if not is_new:
                    log.info("duplicate inbound %s/%s ignored", *key)
                if not waiter.done():
                    waiter.set_result(is_new)

    async def _insert_new(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Insert the rows not seen before (one statement); returns the keys inserted."""
        if self._store_new is None:  # built once: SQLAlchemy sends the rows as one multi-row INSERT it compiled once
            # the dialect's module by name: PostgreSQL's (≈2 MB resident) never loads in a bot on SQLite
            dialect_insert = import_module("sqlalchemy.dialects.postgresql" if self._is_postgres()
                                           else "sqlalchemy.dialects.sqlite").insert
            self._store_new = (dialect_insert(InboxItem).on_conflict_do_nothing()
                               .returning(InboxItem.channel, InboxItem.external_id))
        for attempt in (1, 2):
            try:
                async with engine_of(self.sessions).begin() as connection:
                    return {(channel, external_id) for channel, external_id in
                            await connection.execute(self._store_new, rows)}
            except DBAPIError as error:
                # A pooled connection the server dropped since it last answered (a restart; the pool checks only
                # connections idle for a second, storage.db): nothing was stored, once more on a new connection.
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    async def run(self) -> None:
        """The drain loop; on PostgreSQL beside it a listener that wakes it when any process stores inbound."""
        listener = asyncio.create_task(self._listen()) if self._is_postgres() else None
        try:
            await super().run()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        """LISTEN on a connection of its own for the inbox trigger's NOTIFY (migration 0029_inbox_notify), so a
        worker handles what another process (`--only web`) stored at once, not at its next look. When the
        connection fails, the idle look stands in until it is back."""
        while not self._stopping:
            try:
                await self._listen_once()
            except Exception as error:  # the database away, or a URL option asyncpg does not take: the idle look
                log.info("inbox: not listening for new inbound (%s); looking every %.0f s", error_text(error),
                         self.idle_seconds)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _listen_once(self) -> None:
        import asyncpg  # PostgreSQL only (≈2.6 MB resident): a bot on SQLite never loads it

        engine = engine_of(self.sessions)
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        connection = await asyncpg.connect(*args, **kwargs)
        try:
            closed = asyncio.Event()
            connection.add_termination_listener(lambda _connection: closed.set())
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_args: self.wake())
            self.listening.set()
            self.wake()  # anything stored while no one listened
            while not closed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), LISTEN_CHECK_SECONDS)
                if not closed.is_set():
                    await connection.fetchval("SELECT 1", timeout=LISTEN_CHECK_SECONDS)  # still there?
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), LISTEN_CHECK_SECONDS)

    def _is_postgres(self) -> bool:
        if self._postgres is None:
            self._postgres = engine_of(self.sessions).dialect.name == "postgresql"
        return self._postgres

    async def drain_once(self) -> int:
        """Process every item that is due; returns how many (set-aside and retried tries included)."""
        async with self._lock:
            self._aborted = False
            workers = self.workers if self._is_postgres() else 1  # SQLite: one writer, batches instead
            results = await asyncio.gather(*(self._work() for _ in range(workers)), return_exceptions=True)
        handled = sum(result for result in results if isinstance(result, int))
        if handled:
            self.after_commit()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return handled

    async def pass_once(self) -> int:
        """run()'s pass. SQLite: a batch that took every due item ends it without a look that would find
        nothing, and run() then waits (a webhook stored during the pass has woken it already, and the tick
        finds what another process stored): three statements fewer per message when they come one by one."""
        if self._is_postgres():
            return await self.drain_once()
        self._sweep, self._swept = True, False
        try:
            handled = await self.drain_once()
        finally:
            self._sweep = False
        return 0 if self._swept else handled

    async def _work(self) -> int:
        count = 0
        self._working += 1
        try:
            async with contextlib.AsyncExitStack() as stack:
                # PostgreSQL: one connection for the worker's transactions (a checkout pings the server first)
                sessions = (self.sessions if not self._is_postgres() else
                            async_sessionmaker(await stack.enter_async_context(engine_of(self.sessions).connect()),
                                               expire_on_commit=False))
                while not self._stopping and not self._aborted:
                    if self._is_postgres():
                        done = await self._handle_partitions(sessions)
                    else:
                        async with self._write_lock:
                            done = await self._handle_batch()
                    if done == BUSY:  # another process holds what is due now: its items will commit shortly
                        if self._working > 1:
                            break  # one worker of this process looks again, not each of them
                        await asyncio.sleep(BUSY_SECONDS)
                        continue
                    if not done:
                        break
                    count += done
                    self.after_commit()  # the replies leave now, not when the whole backlog is handled
                    self.pulse.passed()  # a long backlog is progress, not a stall
                    if self._sweep and self._took_all and not self._is_postgres():
                        self._swept = True  # nothing was left: no look that finds nothing (see pass_once)
                        break
        except BaseException:
            self._aborted = True
            raise
        finally:
            self._working -= 1
        return count

    # ------------------------------------------------------------------ SQLite: batches

    async def _handle_batch(self) -> int:
        """Handle the oldest due items in one transaction, in id order; 0 when there is none.

        When one of them fails, the whole batch rolls back and its items are handled one per
        transaction, so only the failing one is retried later (and the others still commit).
        """
        self._took_all = False
        if self.batch_size == 1:
            return await self._handle_one()
        handled = 0
        try:
            async with self.sessions.begin() as session:
                await take_sqlite_writer(session)  # a second processor on the file waits
                due = {"now": self.clock(), "wanted": self.batch_size}
                items = list((await session.execute(DUE_BATCH, due)).scalars())
                await load_senders(session, items)
                started = time.monotonic()
                for item in items:
                    await handle_inbox_item(session, item, self.clock(), self.config)
                    handled += 1
                    if time.monotonic() - started > BATCH_SECONDS or (self._arrivals and handled >= WHILE_STORING):
                        break
                    # With everyone loaded in bulk, a message may need no statement at all: the webhooks and
                    # the delivery worker get the event loop between messages
                    await asyncio.sleep(0)
                took_all = handled == len(items) < self.batch_size
        except Exception as error:
            if is_lock_timeout(error) or not await database_answers(self.sessions):
                raise  # the database, not an item: the loop backs off
            log.info("inbox batch rolled back (%s); its items are handled one at a time", error_text(error))
            return sum([await self._handle_one() for _ in range(handled + 1)])
        self._took_all = took_all
        return handled

    async def _handle_one(self) -> int:
        """Handle the oldest due item in its own transaction; 0 when there is none."""
        now = self.clock()
        item_id: int | None = None
        try:
            async with self.sessions.begin() as session:
                await take_sqlite_writer(session)  # a second processor on the file waits
                query = select(InboxItem).where(is_due(now)).order_by(InboxItem.id).limit(1)
                item = (await session.execute(query)).scalar_one_or_none()
                if item is None:
                    return 0
                item_id = item.id
                await load_senders(session, [item])
                await handle_inbox_item(session, item, now, self.config)
        except Exception as error:
            await self._after_failure(item_id, None, error, now)
        return 1

    # ------------------------------------------------------------------ PostgreSQL: partitions

    async def _handle_partitions(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Lock a few free senders and handle their due items in id order in one transaction; 0 when none
        is free. When one item fails, the batch rolls back and items are then taken one at a time."""
        if self.batch_size == 1:
            return await self._claim_and_handle(sessions)
        now = self.clock()
        senders: list[str] = []
        handled = 0
        try:
            async with sessions.begin() as session:
                senders = await self._lock_free_senders(session, now, SENDERS_PER_CLAIM)
                if not senders:
                    return senders.busy_elsewhere
                query = (select(InboxItem).where(InboxItem.sender.in_(senders), is_due(now))
                         .order_by(InboxItem.id).limit(self.batch_size).with_for_update())
                items = list((await session.execute(query)).scalars())
                await load_senders(session, items)
                started, paused = time.monotonic(), 0.0
                for item in items:
                    if self._storing:  # webhooks wait: one worker at a time, and as long a pause (see YIELD_AT_MOST)
                        waited = time.monotonic()
                        async with self._turns:
                            began = time.monotonic()
                            await handle_inbox_item(session, item, self.clock(), self.config)
                            pause = min(time.monotonic() - began, YIELD_AT_MOST)
                            await asyncio.sleep(pause)
                        paused += began - waited + pause  # the batch's time is its work (BATCH_SECONDS)
                    else:
                        await handle_inbox_item(session, item, self.clock(), self.config)
                        # everyone was loaded in bulk, a message may need no statement: the webhooks and the
                        # delivery get the event loop between messages
                        await asyncio.sleep(0)
                    handled += 1
                    if time.monotonic() - started - paused > BATCH_SECONDS:
                        break
        except Exception as error:
            if not senders or not await database_answers(self.sessions):
                raise  # the database, not an item: the loop backs off
            log.info("inbox batch rolled back (%s); items are taken one at a time", error_text(error))
            self._in_flight.difference_update(senders)
            senders = []
            return sum([max(0, await self._claim_and_handle(sessions)) for _ in range(handled + 1)])
        finally:
            self._in_flight.difference_update(senders)
        return handled

    async def _lock_free_senders(self, session: AsyncSession, now: datetime, wanted: int) -> Locked:
        """Up to `wanted` senders with due items that no one holds, locked (one statement); the items are
        read in the next statement, whose snapshot sees what the previous holders committed."""
        rows = (await session.execute(LOCK_SENDERS, {
            "now": now, "candidates": CANDIDATES, "busy": sorted(self._in_flight), "offered": SENDER_CANDIDATES,
            "class": LOCK_CLASS, "wanted": wanted})).scalars().all()
        locked = Locked(busy_elsewhere=BUSY if rows else 0)
        locked.extend(name for name in rows if name is not None)
        self._in_flight.update(locked)
        return locked

    async def _claim_and_handle(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Take the oldest due item of a sender no one holds and handle it; 0 when none is free."""
        now = self.clock()
        item_id: int | None = None
        sender: str | None = None
        try:
            async with sessions.begin() as session:
                locked = await self._lock_free_senders(session, now, 1)
                if not locked:
                    return locked.busy_elsewhere
                sender = locked[0]
                query = (select(InboxItem).where(InboxItem.sender == sender, is_due(now))
                         .order_by(InboxItem.id).limit(1).with_for_update())
                item = (await session.execute(query)).scalar_one_or_none()
                if item is None:  # handled by the previous holder meanwhile
                    return BUSY
                item_id = item.id
                await load_senders(session, [item])
                await handle_inbox_item(session, item, now, self.config)
        except Exception as error:
            await self._after_failure(item_id, sender, error, now)
        finally:
            if sender is not None:  # kept until the failure is recorded: no other worker retries it meanwhile
                self._in_flight.discard(sender)
        return 1

    # ------------------------------------------------------------------ failures

    async def _after_failure(self, item_id: int | None, sender: str | None, error: Exception, now: datetime) -> None:
        if item_id is None or is_lock_timeout(error) or not await database_answers(self.sessions):
            raise error  # the database, not the item: the loop backs off and tries this item again
        log.exception("inbound %s failed", item_id, exc_info=error)
        await self._record_failure(item_id, sender, error, now)

    async def _record_failure(self, item_id: int, sender: str | None, error: Exception, now: datetime) -> None:
        # Keep the message (nothing a user sent is lost): try again soon, or set it aside.
        async with self.sessions.begin() as session:
            if sender is not None and is_postgres(session):  # no other worker handles this sender meanwhile
                await session.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(sender))))
            item = await session.get(InboxItem, item_id, populate_existing=True)
            if item is None or item.processed_at is not None or (item.next_attempt_at or now) > now:
                return  # handled meanwhile, or this failure is already recorded (another process tried too)
            item.attempts += 1
            item.error = error_text(error)
            if item.attempts < MAX_ATTEMPTS:
                item.next_attempt_at = now + timedelta(seconds=RETRY_SECONDS[item.attempts - 1])
                return
            item.processed_at = item.failed_at = now
            payload = item.payload
        log.error("inbound %s set aside after %s failed tries (klinik inbox failed): %s",
                  item_id, MAX_ATTEMPTS, error_text(error))
        try:  # tell the person we are on it; this may fail too (a malformed address), which changes nothing
            async with self.sessions.begin() as session:
                inbound = Inbound.from_json(payload)
                await enqueue(session, Outgoing(text=t("core.internal_error", self.config.language),
                                                to=inbound.address), now, self.config)
        except Exception as notice_error:
            log.warning("inbound %s: the sender could not be told: %s", item_id, error_text(notice_error))
