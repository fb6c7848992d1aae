"""The job table: a fixed id, a cron schedule in the programme's time zone, and a body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.messages import Outgoing

JobBody = Callable[[AsyncSession, datetime, Config], Awaitable[list[Outgoing]]]


@dataclass(frozen=True)
class Job:
    """A scheduled use case; `cron` holds APScheduler CronTrigger fields."""

    id: str
    body: JobBody
    cron: dict[str, Any] = field(default_factory=dict)


JOBS: list[Job] = []


def job(job_id: str, **cron: Any) -> Callable[[JobBody], JobBody]:
    """Register a job body under a fixed id with its cron fields."""
    def register(body: JobBody) -> JobBody:
        if any(existing.id == job_id for existing in JOBS):
            raise ValueError(f"job {job_id!r} registered twice")
        JOBS.append(Job(job_id, body, cron))
        return body
    return register
