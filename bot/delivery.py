"""The outbox worker: claims due rows per channel, sends each chat's rows in order, retries, records outcomes.

Claiming and sending are apart: the claimer takes due rows channel by channel (never more than a
channel's share in hand) and hands them to one task per chat; each chat task sends its rows one
after the other under its channel's concurrency limit. A slow peer holds its own chats only, and
the claimer goes on claiming while rows are in flight. A row claimed by a process whose heartbeat
stopped is taken back; a chat's row is never claimed while an earlier row of that chat waits.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.background import DrainLoop
from bot.health import database_answers, error_text, process_holder
from handlers.kernel.config import Config
from handlers.kernel.reachability import mark_unreachable
from storage.db import is_postgres
from storage.models import LoopPulse, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

TAKEOVER = timedelta(seconds=10)  # a claimer whose heartbeat is older than this is dead
CLAIM_LOCK = 7_274_653  # PostgreSQL advisory lock: one claim at a time, so chats keep their order
SEND_GUARD_SECONDS = 300.0  # a send (text and attachments) that takes longer is cut off and retried


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


@dataclass(frozen=True)
class Sent:
    """The row went out; the channel's id of its (text) message."""

    external_id: str | None


Outcome = Sent | TransientError | PermanentError | Held
PartSent = Callable[[int, "str | None"], Awaitable[None]]  # (parts now delivered, channel id of that part)


async def no_progress(parts_sent: int, external_id: str | None) -> None:
    """For a send nobody records parts of."""


class Sender(Protocol):
    """Sends one outbox row on its channel and returns the channel's message id.

    A row may go out in parts (text, then each attachment): the sender skips the first
    `row.parts_sent` parts and awaits `progress(n, id)` after each part it delivered, so a retry never
    repeats a part. Anything else is one of the outcomes above (raised): TransientError,
    PermanentError or Held. Channels translate their own error codes; the worker knows none of them.
    """

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None: ...


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
    """A token bucket per channel plus a minimum interval per chat; a peer's "slow down" holds every waiting send."""

    def __init__(self, paces: dict[str, Pace]) -> None:
        self.paces = paces
        self._next_slot: dict[str, float] = defaultdict(float)
        self._chat_ready: dict[tuple[str, str], float] = defaultdict(float)
        self._blocked_until: dict[str, float] = defaultdict(float)

    async def wait(self, channel: str, address: str) -> None:
        """Sleep until this channel and chat may send again (re-checked after every sleep)."""
        pace = self.paces.get(channel, Pace(10.0))
        chat_key = (channel, address)
        while True:
            now = time.monotonic()
            blocked = self._blocked_until[channel]
            if blocked > now:
                await asyncio.sleep(blocked - now)
                continue
            slot = max(now, self._next_slot[channel])
            self._next_slot[channel] = slot + 1.0 / pace.per_second
            start = max(slot, self._chat_ready[chat_key])
            self._chat_ready[chat_key] = start + pace.per_chat_gap
            delay = start - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() >= self._blocked_until[channel]:
                return  # else the peer asked to slow down while we waited: wait for that too

    def back_off(self, channel: str, seconds: float) -> None:
        """The peer said slow down (Telegram retry_after, Twilio Retry-After): hold the whole channel."""
        self._blocked_until[channel] = max(self._blocked_until[channel], time.monotonic() + seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff for transient failures, for as long as the platform would still deliver."""

    first_seconds: float = 2.0
    max_seconds: float = 600.0
    retry_for: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """2, 4, 8 … s up to the cap, never shorter than the peer asked."""
        return max(retry_after or 0.0, min(self.first_seconds * 2.0 ** max(attempts - 1, 0), self.max_seconds))


ChatKey = tuple[str, str]


def is_dead_neighbour(holder: str, me: str) -> bool:
    """True when a claimer ran on this host under a process id that no longer exists."""
    host, _, pid = holder.rpartition(":")[0].rpartition(":")
    my_host, _, my_pid = me.rpartition(":")[0].rpartition(":")
    if host != my_host or not pid.isdigit() or pid == my_pid:
        return False  # another host, or this very process (an earlier app in it, as in tests)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by someone else
    return False


class DeliveryWorker(DrainLoop):
    """Sends outbox rows after their transaction committed; takes back rows of dead processes."""

    name = "delivery"
    idle_seconds = 1.0
    bound_seconds = 60.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], senders: dict[str, Sender],
                 limiter: RateLimiter, *, on_permanent_failure: FailureHook | None = None,
                 batch_size: int = 50, concurrency: int = 8, retry: RetryPolicy | None = None,
                 holder: str | None = None, max_in_hand: int = 200,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions, self.senders, self.limiter = sessions, senders, limiter
        self.on_permanent_failure = on_permanent_failure
        self.batch_size, self.max_in_hand, self.clock = batch_size, max_in_hand, clock
        self.retry = retry or RetryPolicy()
        self.holder = holder or process_holder()
        self._slots = {channel: asyncio.Semaphore(concurrency) for channel in senders}
        self._queues: dict[ChatKey, deque[OutboxMessage]] = {}
        self._chats: dict[ChatKey, asyncio.Task[None]] = {}
        self._in_hand: dict[str, int] = defaultdict(int)
        super().__init__()

    # ------------------------------------------------------------------ claiming

    async def pass_once(self) -> int:
        """Claim what is due and hand it to the chats' tasks, without waiting for the sends."""
        return await self.dispatch()

    async def drain_once(self) -> int:
        """Claim what is due and wait until it is handled (the terminal chat and tests); returns how many rows."""
        count = await self.dispatch()
        await self.settle()
        return count

    async def settle(self) -> None:
        """Wait until every row in hand is handled."""
        while self._chats:
            await asyncio.gather(*list(self._chats.values()), return_exceptions=True)

    async def dispatch(self) -> int:
        """Claim due rows channel by channel, each channel up to its share in hand; returns how many."""
        count = 0
        for channel in self.senders:
            room = min(self.batch_size, self.max_in_hand - self._in_hand[channel])
            if room <= 0:
                continue
            for row in await self.claim(channel, room):
                self._take(row)
                count += 1
        return count

    async def claim(self, channel: str, limit: int) -> list[OutboxMessage]:
        """Mark due rows of one channel as ours, oldest first, skipping chats whose earlier row waits."""
        now = self.clock()
        alive_since = datetime.now(UTC) - TAKEOVER
        async with self.sessions.begin() as session:
            if is_postgres(session):
                await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
            others_alive = select(LoopPulse.holder).where(
                LoopPulse.loop == self.name, LoopPulse.beat_at >= alive_since, LoopPulse.holder != self.holder)
            row, earlier = OutboxMessage, aliased(OutboxMessage)
            free = or_(row.claimed_by.is_(None),
                       and_(row.claimed_by != self.holder, row.claimed_by.not_in(others_alive)))
            earlier_waits = exists().where(
                earlier.channel == row.channel, earlier.address == row.address, earlier.id < row.id,
                earlier.status == OutboxStatus.PENDING,
                or_(earlier.claimed_by.in_(others_alive),
                    and_(earlier.next_attempt_at > now,
                         or_(earlier.claimed_by.is_(None), earlier.claimed_by != self.holder))))
            query = (select(row)
                     .where(row.status == OutboxStatus.PENDING, row.next_attempt_at <= now,
                            row.channel == channel, free, ~earlier_waits)
                     .order_by(row.id).limit(limit))
            rows = list((await session.execute(query)).scalars())
            if rows:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows]))
                                      .values(claimed_by=self.holder, claimed_at=now))
        for claimed in rows:
            claimed.claimed_by = self.holder
        return rows

    async def release_claims(self) -> int:
        """Give back every pending row this process claimed (clean shutdown); returns how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(OutboxMessage).where(OutboxMessage.claimed_by == self.holder,
                                            OutboxMessage.status == OutboxStatus.PENDING)
                .values(claimed_by=None, claimed_at=None))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def take_back_from_dead_neighbours(self) -> int:
        """At start: rows claimed by a process of this host that no longer runs are free at once
        (elsewhere they are taken back when the claimer's heartbeat is TAKEOVER old); returns how many."""
        async with self.sessions() as session:
            holders = (await session.execute(
                select(OutboxMessage.claimed_by).distinct()
                .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.claimed_by.is_not(None),
                       OutboxMessage.claimed_by != self.holder))).scalars().all()
        dead = [holder for holder in holders if holder and is_dead_neighbour(holder, self.holder)]
        if not dead:
            return 0
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(OutboxMessage).where(OutboxMessage.claimed_by.in_(dead),
                                            OutboxMessage.status == OutboxStatus.PENDING)
                .values(claimed_by=None, claimed_at=None))
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        log.info("delivery: %s rows claimed by stopped processes taken back", count)
        return count

    async def finish(self, grace_seconds: float = 5.0) -> None:
        """After stop(): let sends in flight end, cut the rest off, and give their rows back."""
        self.stop()
        tasks = list(self._chats.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            released = await self.release_claims()
        except Exception as error:
            log.warning("delivery: claimed rows not given back (%s); they are taken back within %s s",
                        error_text(error), int(TAKEOVER.total_seconds()))
            return
        if released:
            log.info("delivery: %s claimed rows given back for the next start", released)

    # ------------------------------------------------------------------ sending, chat by chat

    def _take(self, row: OutboxMessage) -> None:
        key = (row.channel, row.address)
        self._in_hand[row.channel] += 1
        self._queues.setdefault(key, deque()).append(row)
        if key not in self._chats:
            self._chats[key] = asyncio.create_task(self._send_chat(key), name=f"delivery {row.channel}")

    async def _send_chat(self, key: ChatKey) -> None:
        """Send one chat's rows in order; after a retry is scheduled the rest wait for it."""
        queue = self._queues[key]
        try:
            while queue:
                row = queue[0]
                must_wait = await self._deliver(row)
                queue.popleft()
                self._in_hand[row.channel] -= 1
                if must_wait and queue:
                    rest = [r.id for r in queue]
                    self._in_hand[row.channel] -= len(queue)
                    queue.clear()
                    await self._persist(functools.partial(self._release, rest))
        except Exception:
            log.exception("delivery to a %s chat stopped; its rows are given back", key[0])
            self._in_hand[key[0]] -= len(queue)
            rest = [r.id for r in queue]
            queue.clear()
            try:
                await self._release(rest)
            except Exception as error:
                log.warning("delivery: rows %s stay claimed until restart: %s", rest, error_text(error))
        finally:
            self._chats.pop(key, None)
            if not queue:
                self._queues.pop(key, None)
            self.wake()  # room in hand: claim more now

    async def _deliver(self, row: OutboxMessage) -> bool:
        """Send one row and record the outcome; True when it must be retried (the chat waits)."""
        outcome = await self._send(row)
        if isinstance(outcome, TransientError) and outcome.retry_after:
            self.limiter.back_off(row.channel, outcome.retry_after)
        return bool(await self._persist(lambda: self._record(row, outcome)))

    async def _send(self, row: OutboxMessage) -> Outcome:
        async with self._slots[row.channel]:
            await self.limiter.wait(row.channel, row.address)
            try:
                async with asyncio.timeout(SEND_GUARD_SECONDS):
                    return Sent(await self.senders[row.channel].send(row, self._progress(row)))
            except (TransientError, PermanentError, Held) as outcome:
                return outcome
            except TimeoutError:
                return TransientError(f"no answer within {SEND_GUARD_SECONDS:.0f} s")
            except Exception as error:
                log.exception("unexpected error sending outbox row %s", row.id)
                return TransientError(error_text(error))

    def _progress(self, row: OutboxMessage) -> PartSent:
        async def part_sent(parts_sent: int, external_id: str | None) -> None:
            values: dict[str, Any] = {"parts_sent": parts_sent, "attempts": 0}  # attempts count since the last part
            if external_id is not None:
                values["external_id"] = external_id
            await self._persist(lambda: self._update(row.id, **values))
            row.parts_sent, row.attempts = parts_sent, 0
            row.external_id = external_id or row.external_id
        return part_sent

    async def _persist(self, write: Callable[[], Awaitable[Any]]) -> Any:
        """Run a database write until it succeeds: a send that went out must be recorded, not repeated."""
        failures = 0
        while True:
            try:
                return await write()
            except Exception as error:
                failures += 1
                if self._stopping or (failures >= 3 and await database_answers(self.sessions)):
                    raise  # stopping, or a bug rather than an outage
                if failures == 1:
                    log.warning("delivery: outcome not recorded yet (%s); retrying", error_text(error))
                await asyncio.sleep(min(0.5 * 2 ** (failures - 1), 5.0))

    async def _update(self, row_id: int, **values: Any) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))

    async def _release(self, ids: list[int]) -> None:
        if ids:
            async with self.sessions.begin() as session:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids),
                                                                  OutboxMessage.claimed_by == self.holder)
                                      .values(claimed_by=None, claimed_at=None))

    # ------------------------------------------------------------------ outcomes

    async def _record(self, row: OutboxMessage, outcome: Outcome) -> bool:
        if isinstance(outcome, Sent):
            await self._update(row.id, status=OutboxStatus.SENT, sent_at=self.clock(),
                               external_id=outcome.external_id or row.external_id, attempts=row.attempts + 1,
                               error=None, claimed_by=None, claimed_at=None)
            return False
        if isinstance(outcome, Held):
            log.info("outbox row %s held: %s", row.id, outcome.reason)
            await self._update(row.id, status=OutboxStatus.HELD, external_id=outcome.external_id,
                               error=outcome.reason[:500], attempts=row.attempts + 1, claimed_by=None, claimed_at=None)
            return False
        if isinstance(outcome, PermanentError):
            await self._fail(row, outcome)
            return False
        return await self._retry(row, outcome)

    async def _retry(self, row: OutboxMessage, error: TransientError) -> bool:
        attempts = row.attempts + 1
        now = self.clock()
        if now - row.created_at >= self.retry.retry_for:
            hours = self.retry.retry_for.total_seconds() / 3600
            await self._fail(row, PermanentError(f"gave up after {hours:g} h and {attempts} attempts: {error.reason}"))
            return False
        delay = self.retry.delay(attempts, error.retry_after)
        log.warning("outbox row %s attempt %s failed: %s; next try in %.0f s", row.id, attempts, error.reason, delay)
        await self._update(row.id, attempts=attempts, next_attempt_at=now + timedelta(seconds=delay),
                           error=error.reason[:500], claimed_by=None, claimed_at=None)
        row.attempts = attempts
        asyncio.get_running_loop().call_later(delay, self.wake)  # claim it again as soon as it is due
        return True

    async def _fail(self, row: OutboxMessage, error: PermanentError) -> None:
        log.warning("outbox row %s failed for good: %s", row.id, error.reason)
        now = self.clock()
        async with self.sessions.begin() as session:
            stored = await session.get(OutboxMessage, row.id)
            if stored is None:
                return
            stored.status, stored.error, stored.attempts = OutboxStatus.FAILED, error.reason[:500], row.attempts + 1
            stored.claimed_by = stored.claimed_at = None
            if self.on_permanent_failure is not None:
                await self.on_permanent_failure(session, stored, error, now)
