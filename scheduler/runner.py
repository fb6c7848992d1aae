"""Runs each job in one transaction: compute, write outbox rows, commit, wake delivery.

With several processes on one database, only the holder of the scheduler lease runs jobs; a
lease that is not renewed expires and another process takes over. A failing job (or lease
renewal) is logged and tried again at its next tick; each job's last run is stored for
`klinik status`.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.outbox import enqueue_all, owe_in_bulk
from scheduler import schedule  # noqa: F401  (registers every job)
from scheduler.jobs import JOBS, Job
from storage.participation import acquire_lease, lease_holder, release_lease, take_lease_from
from storage.runtime import JobPulse

log = logging.getLogger(__name__)

LEASE_SECONDS = 90.0
RENEW_SECONDS = 30.0


async def run_job(job: Job, sessions: async_sessionmaker[AsyncSession], config: Config,
                  now: datetime | None = None) -> int:
    """Run one job body now; returns how many messages it queued."""
    at = now or datetime.now(UTC)
    before = resident_mb()
    async with sessions.begin() as session:
        messages = await job.body(session, at, config)
        owe_in_bulk(session)  # rows as plain dicts in one INSERT at the commit, not an ORM object each
        await enqueue_all(session, messages, at, config)
    queued = len(messages)
    del messages, session  # what the job made goes before the release (the digest at 100k: 8 MB more kept)
    log.info("job %s queued %s messages", job.id, queued)
    if resident_mb() - before >= RELEASE_AFTER_MB:
        release_memory()
    return queued


RELEASE_AFTER_MB = 8.0  # a job that grew the process by this much gives what it freed back to the system


def resident_mb() -> float:
    """This process's resident memory in MB (Linux; 0 elsewhere): one read of /proc/self/statm."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def release_memory() -> None:
    """After a big job (the weekly scores, the digest: 100,000 rows at scale) collect its cycles and hand freed
    heap pages back (glibc malloc_trim), so the next job starts from the app's size instead of the last one's peak."""
    gc.collect()
    if LIBC is not None:
        LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6") if sys.platform == "linux" else None
    except OSError:
        return None


LIBC = _libc()
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Beat(Protocol):
    """Where the scheduler reports that it is alive (the bot's pulse of this loop)."""

    def passed(self) -> None: ...

    def failed(self, error: BaseException) -> None: ...


async def record_job_run(sessions: async_sessionmaker[AsyncSession], job_id: str, holder: str,
                         started_at: datetime, messages: int, error: BaseException | None) -> None:
    """Store a job's last run (best effort: a database that is away is logged, not raised)."""
    finished_at = datetime.now(UTC)
    try:
        async with sessions.begin() as session:
            pulse = await session.get(JobPulse, job_id)
            if pulse is None:
                pulse = JobPulse(job_id=job_id, holder=holder, started_at=started_at)
                session.add(pulse)
            pulse.holder, pulse.started_at, pulse.finished_at = holder, started_at, finished_at
            pulse.ok, pulse.messages = error is None, messages
            pulse.error = None if error is None else f"{type(error).__name__}: {error}"[:500]
            if error is None:
                pulse.last_ok_at = finished_at
    except Exception as failure:
        log.warning("job %s: run not recorded: %s", job_id, failure)


class Leadership:
    """This process's claim on a lease: the scheduler's, or another one-process-only duty (Telegram polling)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *, name: str = "scheduler",
                 holder: str | None = None, is_dead: Callable[[str], bool] | None = None) -> None:
        self.sessions, self.clock, self.name, self.is_dead = sessions, clock, name, is_dead
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False

    async def hold(self) -> bool:
        """Take or renew the lease; False while another live process holds it.

        A holder known to be dead (is_dead, e.g. a crashed process on this host) is replaced at
        once, so a restart after a crash does not wait for the lease to expire.
        """
        async with self.sessions.begin() as session:
            now = self.clock()
            leader = await acquire_lease(session, self.holder, now, LEASE_SECONDS, name=self.name)
            if not leader and self.is_dead is not None:
                current = await lease_holder(session, name=self.name)
                if current and self.is_dead(current):
                    leader = await take_lease_from(session, current, self.holder, now, LEASE_SECONDS,
                                                   name=self.name)
        if leader != self.is_leader:
            log.info("%s lease %s (%s)", self.name, "taken" if leader else "lost", self.holder)
        self.is_leader = leader
        return leader

    async def release(self) -> None:
        """Hand over at once on a clean shutdown."""
        if self.is_leader:
            async with self.sessions.begin() as session:
                await release_lease(session, self.holder, self.clock(), name=self.name)
            self.is_leader = False


def build_scheduler(sessions: async_sessionmaker[AsyncSession], config: Config,
                    after_run: Callable[[], None], leadership: Leadership,
                    beat: Beat | None = None) -> AsyncIOScheduler:
    """One AsyncIOScheduler for the process; missed runs are coalesced and caught up once."""
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    for job in JOBS:
        async def fire(job: Job = job) -> None:
            started_at, messages, error = datetime.now(UTC), 0, None
            try:
                if not await leadership.hold():
                    return
                messages = await run_job(job, sessions, config)
            except Exception as failure:
                log.exception("job %s failed; it runs again at its next tick", job.id)
                error = failure
            finally:
                after_run()
            await record_job_run(sessions, job.id, leadership.holder, started_at, messages, error)
        scheduler.add_job(fire, CronTrigger(timezone=config.timezone, **job.cron), id=job.id,
                          coalesce=True, misfire_grace_time=3600, max_instances=1, replace_existing=True)

    async def keep_lease() -> None:
        try:
            await leadership.hold()
        except Exception as error:
            log.warning("scheduler lease not renewed: %s", error)
            if beat is not None:
                beat.failed(error)
            return
        if beat is not None:
            beat.passed()
    scheduler.add_job(keep_lease, IntervalTrigger(seconds=RENEW_SECONDS), id="scheduler_lease",
                      coalesce=True, max_instances=1, replace_existing=True)
    return scheduler
