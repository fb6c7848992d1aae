"""Runs each job in one transaction: compute, write outbox rows, commit, wake delivery.

With several processes on one database, only the holder of the scheduler lease runs jobs; a
lease that is not renewed expires and another process takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.outbox import enqueue_all
from scheduler import schedule  # noqa: F401  (registers every job)
from scheduler.jobs import JOBS, Job
from storage.participation import acquire_lease, release_lease

log = logging.getLogger(__name__)

LEASE_SECONDS = 90.0
RENEW_SECONDS = 30.0


async def run_job(job: Job, sessions: async_sessionmaker[AsyncSession], config: Config,
                  now: datetime | None = None) -> int:
    """Run one job body now; returns how many messages it queued."""
    at = now or datetime.now(UTC)
    async with sessions.begin() as session:
        messages = await job.body(session, at, config)
        await enqueue_all(session, messages, at, config)
    log.info("job %s queued %s messages", job.id, len(messages))
    return len(messages)


class Leadership:
    """This process's claim on the scheduler lease."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions, self.clock = sessions, clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False

    async def hold(self) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        async with self.sessions.begin() as session:
            leader = await acquire_lease(session, self.holder, self.clock(), LEASE_SECONDS)
        if leader != self.is_leader:
            log.info("scheduler leadership %s (%s)", "taken" if leader else "lost", self.holder)
        self.is_leader = leader
        return leader

    async def release(self) -> None:
        """Hand over at once on a clean shutdown."""
        if self.is_leader:
            async with self.sessions.begin() as session:
                await release_lease(session, self.holder, self.clock())
            self.is_leader = False


def build_scheduler(sessions: async_sessionmaker[AsyncSession], config: Config,
                    after_run: Callable[[], None], leadership: Leadership) -> AsyncIOScheduler:
    """One AsyncIOScheduler for the process; missed runs are coalesced and caught up once."""
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    for job in JOBS:
        async def fire(job: Job = job) -> None:
            try:
                if await leadership.hold():
                    await run_job(job, sessions, config)
            except Exception:
                log.exception("job %s failed", job.id)
            after_run()
        scheduler.add_job(fire, CronTrigger(timezone=config.timezone, **job.cron), id=job.id,
                          coalesce=True, misfire_grace_time=3600, max_instances=1, replace_existing=True)
    scheduler.add_job(leadership.hold, IntervalTrigger(seconds=RENEW_SECONDS), id="scheduler_lease",
                      coalesce=True, max_instances=1, replace_existing=True)
    return scheduler
