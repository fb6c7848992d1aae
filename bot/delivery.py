"""The outbox worker: claims due rows per channel, sends each chat's rows in order, retries, records outcomes.

Claiming and sending are apart: the claimer takes due rows channel by channel, in bulk (never more
than a channel's share in hand), and hands them to one task per chat; each chat task sends its rows
one after the other (one in flight per chat, so a chat's order holds) within its channel's in-flight
window, sized from the channel's rate × the observed round trip (InFlightWindow), and paced by the
RateLimiter. Outcomes are written in batches (OutcomeWriter). A slow peer holds its own chats only,
and the claimer goes on claiming while rows are in flight. A row claimed by a process whose heartbeat
stopped is taken back; a chat's row is never claimed while an earlier row of that chat waits.

A row taken back from a dead process is *in doubt*: its send may have gone out without its outcome being
written. Only a chat's first such row can be (a chat's next row goes only after the previous outcome is
committed). Its channel is asked first (Reconciler: WhatsApp lists Twilio's messages to that number since
the claim) and a send found there is recorded instead of repeated. The mark is the row's `claimed_at` kept
while `claimed_by` is cleared (take-back, a send whose answer never came); a clean release clears both.
Telegram's Bot API cannot list sent messages, so a Telegram row in doubt is sent again: the in-flight
window bounds what a kill -9 repeats there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import String, Table, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
SHARE_SECONDS = 5.0  # how often a delivery worker counts the processes it shares the channels' rates with

# The claim's statements, built once (built per claim, they cost a few ms of Python each), with the status as a
# literal: the partial indexes on pending rows (migration 0032_outbox_pending) then serve plans prepared once.
# Two single-table statements rather than one with NOT EXISTS on the table itself: a queue's statistics are
# mostly stale (analysed when nothing was pending, PostgreSQL expects one pending row), and the self-join's plan
# then read every pending row of the channel for each candidate (50-70 ms a claim with 1,800 pending); a single
# table's index conditions use every indexed column the statement names, whatever the estimate.
_PENDING = literal_column("'pending'", String)
_OTHERS_ALIVE = select(LoopPulse.holder).where(LoopPulse.loop == bindparam("loop"),
                                               LoopPulse.beat_at >= bindparam("alive_since"),
                                               LoopPulse.holder != bindparam("holder"))
_FREE = or_(OutboxMessage.claimed_by.is_(None), and_(OutboxMessage.claimed_by != bindparam("holder"),
                                                     OutboxMessage.claimed_by.not_in(_OTHERS_ALIVE)))
_DUE = (select(OutboxMessage)
        .where(OutboxMessage.status == _PENDING, OutboxMessage.next_attempt_at <= bindparam("now"),
               OutboxMessage.channel == bindparam("channel"), _FREE, OutboxMessage.id > bindparam("after"))
        .order_by(OutboxMessage.id).limit(bindparam("limit")))
_DUE_SKIPPING = _DUE.where(OutboxMessage.address.not_in(bindparam("skip", expanding=True)))
# Per chat of the candidates, its first pending row that makes the later ones wait: held by another live
# process, or not due yet and not ours (a chat's rows go in order).
_FIRST_WAITING = (select(OutboxMessage.address, func.min(OutboxMessage.id))
                  .where(OutboxMessage.status == _PENDING, OutboxMessage.channel == bindparam("channel"),
                         OutboxMessage.address.in_(bindparam("addresses", expanding=True)),
                         OutboxMessage.id < bindparam("before"),
                         or_(OutboxMessage.claimed_by.in_(_OTHERS_ALIVE),
                             and_(OutboxMessage.next_attempt_at > bindparam("now"),
                                  or_(OutboxMessage.claimed_by.is_(None),
                                      OutboxMessage.claimed_by != bindparam("holder")))))
                  .group_by(OutboxMessage.address))
_MARK_CLAIMED = (update(OutboxMessage)
                 .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)), OutboxMessage.status == _PENDING, _FREE)
                 .values(claimed_by=bindparam("holder"), claimed_at=bindparam("now"))
                 .returning(OutboxMessage.id)
                 .execution_options(synchronize_session=False))


class TransientError(Exception):
    """Worth retrying later (network trouble, 429, 5xx); retry_after when the peer said so; maybe_sent when
    the request may have reached the peer and its answer never came (the retry asks the channel first)."""

    def __init__(self, reason: str, retry_after: float | None = None, *, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.maybe_sent = reason, retry_after, maybe_sent


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
    """The row went out; the channel's id of its (text) message (and, when found after a crash, the
    delivery status the channel showed then: its callbacks before the row had the id found nothing)."""

    external_id: str | None
    delivery_status: str | None = None


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


class Reconciler(Protocol):
    """A sender that can tell whether a send in doubt went out (an optional method of a Sender).

    `already_sent(row, since)`: the outcome of the row's next undelivered part (`row.parts_sent`) if the
    channel shows it was created at or after `since` (the claim under which it may have gone): Sent with the
    channel's id, Held when what went out was a held notice; None when not found. Raising means "cannot
    tell": the worker sends (a repeat is better than a loss).
    """

    async def already_sent(self, row: OutboxMessage, since: datetime) -> Sent | Held | None: ...


FailureHook = Callable[[AsyncSession, OutboxMessage, PermanentError, datetime], Awaitable[None]]


def reachability_hook(config: Config) -> FailureHook:
    """Mark people unreachable after a final failure that says so, and try their other channel."""
    async def hook(session: AsyncSession, row: OutboxMessage, error: PermanentError, now: datetime) -> None:
        if error.unreachable:
            await mark_unreachable(session, row, error.reason, now, config)
    return hook


@dataclass
class Pace:
    """Messages per second for a channel, the least gap between two messages to one chat, and how strictly.

    The gap to one chat counts from the answer to the chat's previous send, so the peer sees at least
    that gap whatever the network's delays. `strict`: besides spacing the sends at 1/per_second, a send
    waits until the one `per_second` sends before it was answered a second ago, so the peer never sees
    more than `per_second` sends arrive within any one second (Telegram's limit, which answers 429);
    without it the sends are spaced only (Twilio queues what comes faster than a sender's rate).
    """

    per_second: float
    per_chat_gap: float = 0.0
    strict: bool = False


@dataclass
class Permit:
    """One send let through by the limiter; `RateLimiter.done` records when its answer came."""

    channel: str
    address: str
    answered_at: float = math.inf


class RateLimiter:
    """Per channel: sends spaced at its rate (and, strict, never more than its rate within a second at the
    peer); per chat: a least gap after the previous answer; a peer's "slow down" holds every waiting send."""

    def __init__(self, paces: dict[str, Pace]) -> None:
        self.paces = paces
        self._next_slot: dict[str, float] = defaultdict(float)
        self._chat_ready: dict[tuple[str, str], float] = {}
        self._blocked_until: dict[str, float] = defaultdict(float)
        self._recent: dict[str, deque[Permit]] = defaultdict(deque)  # strict: the last per_second permits
        self.processes = 1  # delivery processes sharing each channel's rate (each sends at rate / processes)

    def pace(self, channel: str) -> Pace:
        """The channel's pace (10/s for a channel nobody configured)."""
        return self.paces.get(channel, Pace(10.0))

    def rate(self, channel: str) -> float:
        """This process's messages per second on the channel: its share of the channel's rate."""
        return self.pace(channel).per_second / max(1, self.processes)

    def places(self, channel: str) -> int:
        """Strict pacing: this process's sends within any one second (the shares never add up to more than the rate)."""
        return max(1, math.floor(self.pace(channel).per_second / max(1, self.processes)))

    async def wait_chat(self, channel: str, address: str) -> None:
        """Sleep until this chat's gap since its previous answer has passed (before taking a send slot)."""
        while True:
            delay = self._chat_ready.get((channel, address), 0.0) - time.monotonic()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def wait(self, channel: str, address: str) -> Permit:
        """Sleep until this channel and chat may send again (re-checked after every sleep)."""
        pace = self.pace(channel)
        await self.wait_chat(channel, address)
        permit = Permit(channel, address)
        if pace.strict:
            await self._take_window_place(channel, permit, self.places(channel))
        while True:
            await self._unblocked(channel)
            now = time.monotonic()
            slot = max(now, self._next_slot[channel])
            self._next_slot[channel] = slot + 1.0 / self.rate(channel)
            if slot > now:
                await asyncio.sleep(slot - now)
            if time.monotonic() >= self._blocked_until[channel]:
                return permit  # else the peer asked to slow down while we waited: wait for that too

    async def _unblocked(self, channel: str) -> None:
        while True:
            blocked = self._blocked_until[channel] - time.monotonic()
            if blocked <= 0:
                return
            await asyncio.sleep(blocked)

    async def _take_window_place(self, channel: str, permit: Permit, places: int) -> None:
        """Wait until the send `places` sends back was answered a second ago, then take its place."""
        recent = self._recent[channel]
        while len(recent) > places:  # fewer places now (another process joined): forget the oldest
            recent.popleft()
        while len(recent) >= places:
            ready = recent[0].answered_at + 1.0
            now = time.monotonic()
            if ready <= now:
                recent.popleft()
                break
            await asyncio.sleep(0.005 if ready == math.inf else ready - now)
        recent.append(permit)

    def done(self, permit: Permit) -> None:
        """The send's answer came (or it failed): start the chat's gap and close the permit's window place."""
        now = time.monotonic()
        permit.answered_at = min(permit.answered_at, now)  # the first part's answer frees the window place
        gap = self.pace(permit.channel).per_chat_gap
        if gap > 0:
            if len(self._chat_ready) > 10_000:  # forget chats whose gap is over
                self._chat_ready = {key: ready for key, ready in self._chat_ready.items() if ready > now}
            self._chat_ready[(permit.channel, permit.address)] = now + gap

    def sent_earlier(self, channel: str, address: str, seconds_ago: float) -> None:
        """A message to this chat was answered seconds_ago (by another process, or before a restart)."""
        ready = time.monotonic() - seconds_ago + self.pace(channel).per_chat_gap
        key = (channel, address)
        self._chat_ready[key] = max(self._chat_ready.get(key, 0.0), ready)

    def back_off(self, channel: str, seconds: float) -> None:
        """The peer said slow down (Telegram retry_after, Twilio Retry-After): hold the whole channel."""
        self._blocked_until[channel] = max(self._blocked_until[channel], time.monotonic() + seconds)


class InFlightWindow:
    """How many sends of one channel may be in flight at once, sized from its rate and round trip.

    By Little's law a channel sending `rate` messages/s that each hold a place `rtt` seconds (the peer's
    answer plus committing the outcome) needs rate × rtt places; the window is ceil(rate × p90 of the recent round trips × HEADROOM), kept within
    [low, high], re-sized every few answers. Until answers come it assumes INITIAL_RTT. `fixed` pins it.
    """

    INITIAL_RTT = 0.5  # seconds: a round trip to Twilio or Telegram from Indonesia is 0.2-0.4 s
    HEADROOM = 1.5
    SAMPLES = 200
    RESIZE_EVERY = 20
    LOG_EVERY = 500

    def __init__(self, rate: float, low: int = 4, high: int = 100, fixed: int | None = None, name: str = "") -> None:
        self.name, self.rate, self.low, self.high, self.fixed = name, rate, max(1, low), max(1, low, high), fixed
        self.in_flight = 0
        self._rtts: deque[float] = deque(maxlen=self.SAMPLES)
        self._answers = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.limit = fixed or self._size(self.INITIAL_RTT)

    def _size(self, rtt: float) -> int:
        return min(self.high, max(self.low, math.ceil(self.rate * rtt * self.HEADROOM)))

    def p90(self) -> float:
        """The 90th percentile of the recent round trips (INITIAL_RTT before any)."""
        if not self._rtts:
            return self.INITIAL_RTT
        ordered = sorted(self._rtts)
        return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]

    async def acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # release() counted us in
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._leave()
            elif waiter in self._waiters:  # _leave() may have dropped it already (cancelled before its turn)
                self._waiters.remove(waiter)
            raise

    def release(self, rtt: float | None = None) -> None:
        """A send ended after `rtt` seconds (None: it never reached the peer)."""
        if rtt is not None:
            self._rtts.append(rtt)
            self._answers += 1
            if self.fixed is None and self._answers % self.RESIZE_EVERY == 0:
                self.limit = self._size(self.p90())
            if self._answers % self.LOG_EVERY == 0:
                log.info("delivery: %s %s sends so far; in-flight window %s (p90 round trip %.0f ms at %g/s)",
                         self.name, self._answers, self.limit, 1000 * self.p90(), self.rate)
        self._leave()

    def _leave(self) -> None:
        self.in_flight -= 1
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)


class OutcomeWriter:
    """Row updates from many sends written together: one transaction per LINGER seconds (or MAX_ROWS rows).

    At 80 sends a second one commit per send would make the database the bottleneck on SQLite; the
    caller awaits its own update, so a chat's next row still goes only after the previous one is recorded.
    A crash loses at most the updates of one linger (those sends go again: one duplicate each).
    """

    LINGER = 0.02
    MAX_ROWS = 500

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 persist: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]) -> None:
        self.sessions, self.persist = sessions, persist
        self._pending: list[tuple[int, dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def update(self, row_id: int, **values: Any) -> None:
        """Set these columns of one outbox row; returns once committed."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row_id, values, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="delivery outcomes")
        await future

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (a while) for the updates not written yet: on shutdown, a send that went out is recorded."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher], timeout=timeout)

    async def _flush_all(self) -> None:
        while self._pending:
            if len(self._pending) < self.MAX_ROWS:
                await asyncio.sleep(self.LINGER)
            batch, self._pending = self._pending[:self.MAX_ROWS], self._pending[self.MAX_ROWS:]
            try:
                await self.persist(lambda batch=batch: self._write(batch))  # type: ignore[misc]
            except BaseException as error:
                for _row_id, _values, future in batch:
                    if not future.done():
                        future.set_exception(error if isinstance(error, Exception) else RuntimeError("stopped"))
                if not isinstance(error, Exception):
                    raise
                continue
            for _row_id, _values, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _write(self, batch: list[tuple[int, dict[str, Any], asyncio.Future[None]]]) -> None:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row_id, values, _future in batch:
            groups[tuple(sorted(values))].append({"row_id": row_id} | {f"set_{key}": value for key, value in values.items()})
        async with self.sessions.begin() as session:
            for columns, rows in groups.items():
                await session.execute(_set_columns(columns), rows)  # one UPDATE by primary key, executemany


@functools.cache
def _set_columns(columns: tuple[str, ...]) -> Any:
    """UPDATE outbox SET these columns WHERE id = :row_id, built once per set of columns (a Core statement: the
    ORM's bulk UPDATE by primary key cost more Python per batch of outcomes than the database's work on it)."""
    table = cast(Table, OutboxMessage.__table__)
    return (update(table).where(table.c.id == bindparam("row_id"))
            .values({column: bindparam(f"set_{column}") for column in columns}))


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
                 batch_size: int = 100, concurrency: int | None = None, min_in_flight: int = 4,
                 max_in_flight: int = 100, per_chat_in_hand: int = 4, retry: RetryPolicy | None = None,
                 holder: str | None = None,
                 max_in_hand: int | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """`concurrency` pins each channel's in-flight window; by default it is sized from the channel's
        rate and observed round trip within [min_in_flight, max_in_flight] (see InFlightWindow)."""
        self.sessions, self.senders, self.limiter = sessions, senders, limiter
        self.on_permanent_failure = on_permanent_failure
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.holder = holder or process_holder()
        self.windows = {channel: InFlightWindow(limiter.pace(channel).per_second, min_in_flight, max_in_flight,
                                                fixed=concurrency, name=channel) for channel in senders}
        high = max((concurrency or window.high for window in self.windows.values()), default=1)
        self.batch_size, self.per_chat_in_hand = batch_size, max(1, per_chat_in_hand)
        self.max_in_hand = max_in_hand or max(200, 2 * batch_size, 4 * high)  # rows claimed, not handled yet
        self.writer = OutcomeWriter(sessions, self._persist)
        self._shared_at = -math.inf
        self._queues: dict[ChatKey, deque[OutboxMessage]] = {}
        self._chats: dict[ChatKey, asyncio.Task[None]] = {}
        self._in_hand: dict[str, int] = defaultdict(int)
        self._in_doubt: dict[int, datetime] = {}  # row id -> since when its send may have gone out unrecorded
        self._sending: set[int] = set()  # rows whose send started and whose outcome is not committed yet
        self.reconciled: dict[str, int] = defaultdict(int)  # rows in doubt: found, not found, look failed, cannot look
        super().__init__()

    # ------------------------------------------------------------------ claiming

    async def pass_once(self) -> int:
        """Claim what is due and hand it to the chats' tasks, without waiting for the sends."""
        return await self.dispatch()

    async def drain_once(self) -> int:
        """Claim what is due and wait until it is handled (the terminal chat and tests); returns how many rows."""
        count = 0
        while claimed := await self.dispatch():  # a chat's rows beyond per_chat_in_hand come in later claims
            count += claimed
            await self.settle()
        return count

    async def settle(self) -> None:
        """Wait until every row in hand is handled."""
        while self._chats:
            await asyncio.gather(*list(self._chats.values()), return_exceptions=True)

    async def share_rates(self) -> int:
        """Count the delivery processes alive on this database (at most every SHARE_SECONDS) and give this
        one its share of each channel's rate: the platform's limits hold for the bot, not per process."""
        if time.monotonic() < self._shared_at + SHARE_SECONDS:
            return self.limiter.processes
        self._shared_at = time.monotonic()
        alive_since = datetime.now(UTC) - TAKEOVER
        async with self.sessions() as session:
            others = (await session.execute(
                select(func.count(LoopPulse.holder.distinct())).where(
                    LoopPulse.loop == self.name, LoopPulse.beat_at >= alive_since,
                    LoopPulse.holder != self.holder))).scalar_one()
        processes = int(others) + 1
        if processes != self.limiter.processes:
            self.limiter.processes = processes
            for channel, window in self.windows.items():
                window.rate = self.limiter.rate(channel)
            log.info("delivery: %s processes send; this one at %s", processes, ", ".join(
                f"{self.limiter.rate(channel):g}/s to {channel}" for channel in self.senders))
        return processes

    async def dispatch(self) -> int:
        """Claim due rows channel by channel, each channel up to its share in hand; returns how many."""
        await self.share_rates()
        count = 0
        for channel in self.senders:
            room = min(self.batch_size, self.max_in_hand - self._in_hand[channel])
            if room < max(1, self.batch_size // 4) and self._in_hand[channel]:
                continue  # claim in bulk: wait until a quarter batch is free
            full = [address for (kind, address), queue in self._queues.items()
                    if kind == channel and len(queue) >= self.per_chat_in_hand]
            for row in await self.claim(channel, room, skip=full):
                self._take(row)
                count += 1
        return count

    async def claim(self, channel: str, limit: int, skip: list[str] | None = None) -> list[OutboxMessage]:
        """Mark due rows of one channel as ours, oldest first, skipping chats whose earlier row waits.

        At most `per_chat_in_hand` rows of one chat are in hand (chats in `skip` have them already), so
        a chat with a long queue never fills the hand while other chats wait: it gets the rest later.
        """
        now = self.clock()
        alive_since = datetime.now(UTC) - TAKEOVER
        values: dict[str, Any] = {"now": now, "alive_since": alive_since, "loop": self.name, "holder": self.holder,
                                  "channel": channel, "limit": limit}
        async with self.sessions.begin() as session:
            if is_postgres(session):
                await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
            rows: list[OutboxMessage] = []
            held: dict[str, int] = {}
            skip, after = list(skip or ()), 0
            for _ in range(4):  # a few more looks past chats that reached their share
                query = _DUE_SKIPPING if skip else _DUE
                fetched = list((await session.execute(query, values | {"after": after, "skip": skip})).scalars())
                if fetched:
                    waiting: dict[str, int] = dict((await session.execute(_FIRST_WAITING, values | {
                        "addresses": sorted({r.address for r in fetched}), "before": fetched[-1].id})).all())
                    rows += self._capped(channel, [r for r in fetched if waiting.get(r.address, r.id) >= r.id], held)
                if len(fetched) < limit or len(rows) >= limit:
                    break
                after = fetched[-1].id
                skip += [address for address, count in held.items() if count >= self.per_chat_in_hand]
            rows = rows[:limit]
            if rows:
                # The UPDATE checks again that each row is still free: on SQLite the SELECT above reads outside
                # the write transaction, so another claimer (a second process on the file) may have taken a row
                # since; only the rows this UPDATE really marked are ours.
                taken = set((await session.execute(_MARK_CLAIMED, values | {"ids": [r.id for r in rows]})).scalars())
                kept = self._first_of_each_chat_taken(rows, taken)
                if dropped := taken - {r.id for r in kept}:  # after a chat's row another claimer took: not ours
                    await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(dropped))
                                          .values(claimed_by=None, claimed_at=None)
                                          .execution_options(synchronize_session=False))
                rows = kept
                self._note_in_doubt(channel, rows)  # the rows as read: who held them before this claim
                await self._recall_last_sends(session, channel, rows, now)
        for claimed in rows:
            claimed.claimed_by, claimed.claimed_at = self.holder, now
        return rows

    @staticmethod
    def _first_of_each_chat_taken(rows: list[OutboxMessage], taken: set[int]) -> list[OutboxMessage]:
        """The rows taken, each chat's only up to its first row another claimer got first (order holds)."""
        kept, lost = [], set()
        for row in rows:
            if row.id not in taken:
                lost.add(row.address)
            elif row.address not in lost:
                kept.append(row)
        return kept

    def _note_in_doubt(self, channel: str, rows: list[OutboxMessage]) -> None:
        """Each chat's first row left by a claimer that died (or a send whose answer never came) is in doubt
        since that claim; a chat's later rows went only after it was recorded, so they are not."""
        seen: set[str] = set()
        for row in rows:
            first = row.address not in seen and (channel, row.address) not in self._queues
            seen.add(row.address)
            left = (row.claimed_by is None and row.claimed_at is not None) or (
                row.claimed_by is not None and row.claimed_by != self.holder)
            if first and left:
                self._in_doubt[row.id] = row.claimed_at or row.created_at

    async def _recall_last_sends(self, session: AsyncSession, channel: str, rows: list[OutboxMessage],
                                 now: datetime) -> None:
        """A chat's gap holds across processes and restarts: start it from the chat's last send on record."""
        gap = self.limiter.pace(channel).per_chat_gap
        if gap <= 0:
            return
        last = (select(OutboxMessage.address, func.max(OutboxMessage.sent_at))
                .where(OutboxMessage.channel == channel, OutboxMessage.address.in_({r.address for r in rows}),
                       OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at > now - timedelta(seconds=gap))
                .group_by(OutboxMessage.address))
        for address, sent_at in await session.execute(last):
            if sent_at is not None:
                self.limiter.sent_earlier(channel, address, (now - sent_at).total_seconds())

    def _capped(self, channel: str, rows: list[OutboxMessage], held: dict[str, int]) -> list[OutboxMessage]:
        """The rows to take: per chat, up to per_chat_in_hand with those in hand (the rest stay, in order);
        `held` counts per chat across the looks of one claim."""
        kept = []
        for row in rows:
            if row.address not in held:
                held[row.address] = len(self._queues.get((channel, row.address), ()))
            if held[row.address] < self.per_chat_in_hand:
                held[row.address] += 1
                kept.append(row)
        return kept

    async def release_claims(self) -> int:
        """Give back every pending row this process claimed (clean shutdown); returns how many.
        A row whose send was cut off keeps its mark of doubt (see the module's docstring)."""
        async with self.sessions.begin() as session:
            count = 0
            for ids, values in self._releases():
                query = update(OutboxMessage).where(OutboxMessage.claimed_by == self.holder,
                                                    OutboxMessage.status == OutboxStatus.PENDING)
                if ids is not None:
                    query = query.where(OutboxMessage.id.in_(ids))
                count += int((await session.execute(query.values(**values))).rowcount or 0)  # type: ignore[attr-defined]
        self._in_doubt.clear()
        return count

    def _releases(self, ids: list[int] | None = None) -> list[tuple[list[int] | None, dict[str, Any]]]:
        """How to give rows back (all claimed when ids is None): a row still in doubt keeps `claimed_at` as
        its doubt's start, a row whose send started unrecorded keeps its claim's; the rest are cleared."""
        doubtful = {row_id: since for row_id, since in self._in_doubt.items() if ids is None or row_id in ids}
        sending = [row_id for row_id in self._sending if (ids is None or row_id in ids) and row_id not in doubtful]
        marked = set(doubtful) | set(sending)
        rest = None if ids is None else [row_id for row_id in ids if row_id not in marked]
        plan: list[tuple[list[int] | None, dict[str, Any]]] = [
            ([row_id], {"claimed_by": None, "claimed_at": since}) for row_id, since in doubtful.items()]
        if sending:
            plan.append((sending, {"claimed_by": None}))
        if rest is None:  # last: the marked rows are no longer claimed by us, so this leaves them alone
            plan.append((None, {"claimed_by": None, "claimed_at": None}))
        elif rest:
            plan.append((rest, {"claimed_by": None, "claimed_at": None}))
        return plan

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
                .values(claimed_by=None))  # claimed_at stays: since when their sends are in doubt
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
        await self.writer.drain()
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
        """Send one row and record the outcome; True when it must be retried (the chat waits).

        The window place is held from the send until its outcome is committed, so the window bounds the
        sends that went out unrecorded. A row in doubt is first looked up on its channel (_reconcile): what a
        kill -9 repeats is then only what a channel cannot look up (Telegram: the window)."""
        await self.limiter.wait_chat(row.channel, row.address)  # a chat's gap never holds a send slot
        window = self.windows[row.channel]
        await window.acquire()
        held: float | None = None
        try:
            started = time.monotonic()
            self._sending.add(row.id)
            outcome = await self._reconcile(row) if row.id in self._in_doubt else None
            if outcome is None:
                outcome, started = await self._send(row)  # held from the request on, not the wait for a rate slot
            if isinstance(outcome, TransientError) and outcome.retry_after:
                self.limiter.back_off(row.channel, outcome.retry_after)
            must_wait = bool(await self._persist(lambda: self._record(row, outcome)))
            self._sending.discard(row.id)  # recorded (a send cut off stays in doubt when its row is given back)
            self._in_doubt.pop(row.id, None)
            held = time.monotonic() - started
            return must_wait
        finally:
            window.release(held)

    async def _reconcile(self, row: OutboxMessage) -> Outcome | None:
        """The outcome of a send in doubt if its channel shows it went out; None: send it (again).

        One look per chat in doubt, only after a crash or an unanswered send. Telegram has no way to look
        (the Bot API cannot list sent messages), so its rows go again; if the look fails, the row goes again
        too: a repeat rather than a loss."""
        since = self._in_doubt[row.id]
        check = getattr(self.senders[row.channel], "already_sent", None)
        if check is None:
            self.reconciled["cannot look"] += 1
            return None
        try:
            async with asyncio.timeout(SEND_GUARD_SECONDS):
                found: Sent | Held | None = await check(row, since)
        except Exception as error:
            self.reconciled["look failed"] += 1
            log.warning("delivery: cannot tell whether %s row %s in doubt went out (%s); sending it",
                        row.channel, row.id, error_text(error))
            return None
        self.reconciled["found" if found is not None else "not found"] += 1
        if found is not None:
            log.info("delivery: %s row %s in doubt had gone out (%s); recorded, not repeated",
                     row.channel, row.id, getattr(found, "external_id", None))
        return found

    async def _send(self, row: OutboxMessage) -> tuple[Outcome, float]:
        """The send's outcome, and when (monotonic) its request started: after the limiter let it through."""
        permit = await self.limiter.wait(row.channel, row.address)
        started = time.monotonic()
        return await self._request(row, permit), started

    async def _request(self, row: OutboxMessage, permit: Permit) -> Outcome:
        try:
            async with asyncio.timeout(SEND_GUARD_SECONDS):
                return Sent(await self.senders[row.channel].send(row, self._progress(row, permit)))
        except (TransientError, PermanentError, Held) as outcome:
            return outcome
        except TimeoutError:
            return TransientError(f"no answer within {SEND_GUARD_SECONDS:.0f} s", maybe_sent=True)
        except Exception as error:
            log.exception("unexpected error sending outbox row %s", row.id)
            return TransientError(error_text(error))
        finally:
            self.limiter.done(permit)

    def _progress(self, row: OutboxMessage, permit: Permit | None = None) -> PartSent:
        async def part_sent(parts_sent: int, external_id: str | None) -> None:
            if permit is not None:
                self.limiter.done(permit)  # the peer answered: that, not our write, is what its limits see
            values: dict[str, Any] = {"parts_sent": parts_sent, "attempts": 0}  # attempts count since the last part
            if external_id is not None:
                values["external_id"] = external_id
            await self._update(row.id, **values)
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
        await self.writer.update(row_id, **values)

    async def _release(self, ids: list[int]) -> None:
        if ids:
            async with self.sessions.begin() as session:
                for some, values in self._releases(ids):
                    await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(some or ()),
                                                                      OutboxMessage.claimed_by == self.holder)
                                          .values(**values))
            for row_id in ids:
                self._in_doubt.pop(row_id, None)

    # ------------------------------------------------------------------ outcomes

    async def _record(self, row: OutboxMessage, outcome: Outcome) -> bool:
        if isinstance(outcome, Sent):
            found = {"delivery_status": outcome.delivery_status} if outcome.delivery_status else {}
            await self._update(row.id, status=OutboxStatus.SENT, sent_at=self.clock(),
                               external_id=outcome.external_id or row.external_id, attempts=row.attempts + 1,
                               error=None, claimed_by=None, claimed_at=None, **found)
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
        # A send whose answer never came stays in doubt (claimed_at kept), so its retry looks before sending.
        doubt = (self._in_doubt.get(row.id) or row.claimed_at) if error.maybe_sent else None
        await self._update(row.id, attempts=attempts, next_attempt_at=now + timedelta(seconds=delay),
                           error=error.reason[:500], claimed_by=None, claimed_at=doubt)
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
