"""Honest health: every background loop reports its passes, the database is asked, a heartbeat stores both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import LoopPulse

log = logging.getLogger(__name__)

DATABASE_CHECK_SECONDS = 5.0
PULSE_KEPT = timedelta(days=7)  # pulses of processes gone longer than this are forgotten


def process_holder() -> str:
    """This process's name in claims and pulses: host, pid and a random part (a pid may be reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def error_text(error: BaseException) -> str:
    """An error in one line, short enough for a status column."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}"[:500] if message else type(error).__name__


@dataclass
class Pulse:
    """One loop's progress in this process: when it last completed a pass, and its failures since."""

    name: str
    bound_seconds: float  # a healthy loop completes a pass at least this often
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    last_pass: float | None = None
    last_pass_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def passed(self) -> None:
        """A pass (or a unit of work) completed."""
        self.last_pass, self.last_pass_at, self.failures = self.clock(), datetime.now(UTC), 0

    def failed(self, error: BaseException) -> None:
        """A pass failed; the loop backs off and tries again."""
        self.failures += 1
        self.last_error, self.last_error_at = error_text(error), datetime.now(UTC)

    def seconds_since_pass(self) -> float:
        """Seconds since the last completed pass (since start when there was none yet)."""
        return self.clock() - (self.last_pass if self.last_pass is not None else self.started)

    def is_stale(self) -> bool:
        """True when no pass completed within the bound."""
        return self.seconds_since_pass() > self.bound_seconds

    def report(self) -> dict[str, Any]:
        """What /healthz says about this loop."""
        found: dict[str, Any] = {"ok": not self.is_stale(), "seconds_since_pass": round(self.seconds_since_pass(), 1),
                                 "bound_seconds": self.bound_seconds, "failures": self.failures}
        if self.last_error:
            found["last_error"] = self.last_error
        return found


async def database_answers(sessions: async_sessionmaker[AsyncSession],
                           timeout: float = DATABASE_CHECK_SECONDS) -> bool:  # noqa: ASYNC109
    """True when the database answers a trivial query in time."""
    return await database_problem(sessions, timeout) is None


async def database_problem(sessions: async_sessionmaker[AsyncSession],
                           timeout: float = DATABASE_CHECK_SECONDS) -> str | None:  # noqa: ASYNC109
    """None when the database answers a trivial query in time, else why not."""
    try:
        async with asyncio.timeout(timeout), sessions() as session:
            await session.execute(text("select 1"))
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except Exception as error:
        return error_text(error)
    return None


class Health:
    """Answers /healthz: the database and every loop of this process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], pulses: Sequence[Pulse]) -> None:
        self.sessions, self.pulses = sessions, list(pulses)

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, report); the report names every problem."""
        problems: list[str] = []
        database = await database_problem(self.sessions)
        if database is not None:
            problems.append(f"database unreachable: {database}")
        loops = {pulse.name: pulse.report() for pulse in self.pulses}
        for pulse in self.pulses:
            if pulse.is_stale():
                problems.append(f"{pulse.name}: no pass for {pulse.seconds_since_pass():.0f} s"
                                + (f" ({pulse.last_error})" if pulse.last_error else ""))
        report: dict[str, Any] = {"status": "ok" if not problems else "unhealthy", "database": database or "ok",
                                  "loops": loops}
        if problems:
            report["problems"] = problems
        return not problems, report


class Heartbeat:
    """Writes this process's pulses to the database every few seconds, for `klinik status` and for
    other processes (a delivery worker whose beat stops is dead, and its claimed rows are taken back)."""

    interval_seconds = 2.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], holder: str, pulses: Sequence[Pulse]) -> None:
        self.sessions, self.holder, self.pulses = sessions, holder, list(pulses)
        self.started_at = datetime.now(UTC)
        self._stop = asyncio.Event()
        self._failures = 0

    def stop(self) -> None:
        """Leave run() after the current beat."""
        self._stop.set()

    async def beat(self) -> None:
        """Store every pulse of this process now."""
        now = datetime.now(UTC)
        async with self.sessions.begin() as session:
            stored = {row.loop: row for row in (await session.execute(
                select(LoopPulse).where(LoopPulse.holder == self.holder))).scalars()}
            for pulse in self.pulses:
                row = stored.get(pulse.name)
                if row is None:
                    row = LoopPulse(holder=self.holder, loop=pulse.name, started_at=self.started_at, beat_at=now)
                    session.add(row)
                row.beat_at, row.last_pass_at, row.failures = now, pulse.last_pass_at, pulse.failures
                row.last_error, row.last_error_at = pulse.last_error, pulse.last_error_at

    async def forget_old(self) -> None:
        """Drop pulses of processes gone for a week."""
        async with self.sessions.begin() as session:
            await session.execute(delete(LoopPulse).where(LoopPulse.beat_at < datetime.now(UTC) - PULSE_KEPT))

    async def run(self) -> None:
        """Beat until stopped; a failed beat (database away) is logged once per outage and retried."""
        while not self._stop.is_set():
            try:
                await self.beat()
            except Exception as error:
                self._failures += 1
                if self._failures == 1:
                    log.warning("heartbeat not stored: %s", error_text(error))
            else:
                if self._failures:
                    log.info("heartbeat stored again after %s failures", self._failures)
                self._failures = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_seconds)
