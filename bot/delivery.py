"""The outbox worker: claims due rows, paces them per channel and chat, retries, records failures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import DrainLoop
from handlers.kernel.config import Config
from handlers.kernel.reachability import mark_unreachable
from storage.db import is_postgres
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


class TransientError(Exception):
    """Worth retrying later (network trouble, 429, 5xx); retry_after when the peer said so."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class PermanentError(Exception):
    """Will never succeed as is; unreachable when the person cannot get messages on that channel at all."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.unreachable = reason, unreachable


class Held(Exception):
    """Not sendable now (the channel's messaging window is closed); kept until the person writes again."""

    def __init__(self, reason: str, external_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.external_id = reason, external_id


class Sender(Protocol):
    """Sends one outbox row on its channel and returns the channel's message id.

    Anything else is one of the outcomes above (raised): TransientError, PermanentError or Held.
    Channels translate their own error codes; the worker knows none of them.
    """

    async def send(self, row: OutboxMessage) -> str | None: ...


FailureHook = Callable[[AsyncSession, OutboxMessage, PermanentError, datetime], Awaitable[None]]


def reachability_hook(config: Config) -> FailureHook:
    """Mark people unreachable after a final failure that says so, and try their other channel."""
    async def hook(session: AsyncSession, row: OutboxMessage, error: PermanentError, now: datetime) -> None:
        if error.unreachable:
            await mark_unreachable(session, row, error.reason, now, config)
    return hook


@dataclass
class Pace:
    """Messages per second for a channel, and the least gap between two messages to one chat."""

    per_second: float
    per_chat_gap: float = 0.0


class RateLimiter:
    """A token bucket per channel plus a minimum interval per chat."""

    def __init__(self, paces: dict[str, Pace]) -> None:
        self.paces = paces
        self._next_slot: dict[str, float] = defaultdict(float)
        self._chat_ready: dict[tuple[str, str], float] = defaultdict(float)
        self._blocked_until: dict[str, float] = defaultdict(float)
        self._lock = asyncio.Lock()

    async def wait(self, channel: str, address: str) -> None:
        """Sleep until this channel and chat may send again."""
        pace = self.paces.get(channel, Pace(10.0))
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot[channel], self._blocked_until[channel])
            self._next_slot[channel] = slot + 1.0 / pace.per_second
        chat_key = (channel, address)
        start = max(slot, self._chat_ready[chat_key])
        self._chat_ready[chat_key] = start + pace.per_chat_gap
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def back_off(self, channel: str, seconds: float) -> None:
        """The peer said slow down (Telegram retry_after): hold the whole channel."""
        self._blocked_until[channel] = max(self._blocked_until[channel], time.monotonic() + seconds)


def backoff_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff (2, 4, 8 … s, at most 10 min), never shorter than the peer asked."""
    return max(retry_after or 0.0, min(2.0 ** attempts, 600.0))


class DeliveryWorker(DrainLoop):
    """Sends outbox rows after their transaction committed; resumes pending rows at start."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], senders: dict[str, Sender],
                 limiter: RateLimiter, *, on_permanent_failure: FailureHook | None = None,
                 batch_size: int = 50, concurrency: int = 8,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions, self.senders, self.limiter = sessions, senders, limiter
        self.on_permanent_failure = on_permanent_failure
        self.batch_size, self.clock = batch_size, clock
        self._slots = asyncio.Semaphore(concurrency)
        super().__init__()

    async def drain_once(self) -> int:
        """Claim one batch of due rows and deliver them; returns how many rows were handled."""
        rows = await self.claim()
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[(row.channel, row.address)].append(row)
        await asyncio.gather(*(self._deliver_chat(chat_rows) for chat_rows in by_chat.values()))
        return len(rows)

    async def claim(self) -> list[OutboxMessage]:
        """Take due rows for a short lease so other workers (PostgreSQL) skip them."""
        now = self.clock()
        async with self.sessions.begin() as session:
            query = (select(OutboxMessage)
                     .where(OutboxMessage.status == OutboxStatus.PENDING,
                            OutboxMessage.next_attempt_at <= now,
                            OutboxMessage.channel.in_(list(self.senders)))
                     .order_by(OutboxMessage.id).limit(self.batch_size))
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            if rows:
                await session.execute(update(OutboxMessage)
                                      .where(OutboxMessage.id.in_([r.id for r in rows]))
                                      .values(next_attempt_at=now + CLAIM_LEASE))
        return rows

    async def _deliver_chat(self, rows: list[OutboxMessage]) -> None:
        # Rows to one chat go in order; after a failure the rest wait for the retry.
        for row in rows:
            held_until = await self._deliver(row)
            if held_until is not None:
                await self._hold([r.id for r in rows if r.id > row.id], held_until)
                return

    async def _deliver(self, row: OutboxMessage) -> datetime | None:
        """Send one row; returns when to try again if it must be retried, else None."""
        async with self._slots:
            await self.limiter.wait(row.channel, row.address)
            try:
                external_id = await self.senders[row.channel].send(row)
            except TransientError as error:
                if error.retry_after:
                    self.limiter.back_off(row.channel, error.retry_after)
                return await self._retry(row, error)
            except PermanentError as error:
                await self._fail(row, error)
                return None
            except Held as held:
                await self._hold_row(row, held)
                return None
            except Exception as error:
                log.exception("unexpected error sending outbox row %s", row.id)
                return await self._retry(row, TransientError(f"{type(error).__name__}: {error}"))
        await self._mark_sent(row, external_id)
        return None

    async def _mark_sent(self, row: OutboxMessage, external_id: str | None) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                status=OutboxStatus.SENT, sent_at=self.clock(), external_id=external_id,
                attempts=row.attempts + 1, error=None))

    async def _hold_row(self, row: OutboxMessage, held: Held) -> None:
        log.info("outbox row %s held: %s", row.id, held.reason)
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                status=OutboxStatus.HELD, external_id=held.external_id, error=held.reason[:500],
                attempts=row.attempts + 1))

    async def _retry(self, row: OutboxMessage, error: TransientError) -> datetime | None:
        attempts = row.attempts + 1
        log.warning("outbox row %s attempt %s failed: %s", row.id, attempts, error.reason)
        if attempts >= MAX_ATTEMPTS:
            await self._fail(row, PermanentError(f"gave up after {attempts} attempts: {error.reason}"))
            return None
        due = self.clock() + timedelta(seconds=backoff_delay(attempts, error.retry_after))
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                attempts=attempts, next_attempt_at=due, error=error.reason[:500]))
        return due

    async def _fail(self, row: OutboxMessage, error: PermanentError) -> None:
        log.warning("outbox row %s failed for good: %s", row.id, error.reason)
        now = self.clock()
        async with self.sessions.begin() as session:
            stored = await session.get(OutboxMessage, row.id)
            if stored is None:
                return
            stored.status, stored.error, stored.attempts = OutboxStatus.FAILED, error.reason[:500], row.attempts + 1
            if self.on_permanent_failure is not None:
                await self.on_permanent_failure(session, stored, error, now)

    async def _hold(self, ids: list[int], until: datetime) -> None:
        if not ids:
            return
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                  .values(next_attempt_at=until))
