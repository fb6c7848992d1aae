"""Runs each job in one transaction: compute, write outbox rows, commit, wake delivery."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.config import Config
from handlers.outbox import enqueue_all
from scheduler import schedule  # noqa: F401  (registers every job)
from scheduler.jobs import JOBS, Job

log = logging.getLogger(__name__)


async def run_job(job: Job, sessions: async_sessionmaker[AsyncSession], config: Config,
                  now: datetime | None = None) -> int:
    """Run one job body now; returns how many messages it queued."""
    at = now or datetime.now(UTC)
    async with sessions.begin() as session:
        messages = await job.body(session, at, config)
        await enqueue_all(session, messages, at, config)
    log.info("job %s queued %s messages", job.id, len(messages))
    return len(messages)


def build_scheduler(sessions: async_sessionmaker[AsyncSession], config: Config,
                    after_run: Callable[[], None]) -> AsyncIOScheduler:
    """One AsyncIOScheduler for the process; missed runs are coalesced and caught up once."""
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    for job in JOBS:
        async def fire(job: Job = job) -> None:
            try:
                await run_job(job, sessions, config)
            except Exception:
                log.exception("job %s failed", job.id)
            after_run()
        scheduler.add_job(fire, CronTrigger(timezone=config.timezone, **job.cron), id=job.id,
                          coalesce=True, misfire_grace_time=3600, max_instances=1, replace_existing=True)
    return scheduler
