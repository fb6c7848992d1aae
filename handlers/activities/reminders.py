"""Idempotent proactive messages: a ReminderLog row per purpose, subject, person and period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.rules import ActivitiesRules
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from storage.models import Person, ReminderLog


async def was_sent(session: AsyncSession, purpose: str, subject_id: int, person_id: int,
                   period: str = "") -> bool:
    """True when this reminder already went out."""
    query = select(ReminderLog.id).where(
        ReminderLog.purpose == purpose, ReminderLog.subject_id == subject_id,
        ReminderLog.person_id == person_id, ReminderLog.period == period)
    return (await session.execute(query)).first() is not None


def log_sent(session: AsyncSession, purpose: str, subject_id: int, person_id: int, now: datetime,
             period: str = "") -> None:
    """Record a reminder in the job's transaction, so a rerun does not repeat it."""
    session.add(ReminderLog(purpose=purpose, subject_id=subject_id, person_id=person_id,
                            period=period, sent_at=now))


async def send_history(session: AsyncSession, purpose: str, subject_id: int,
                       person_id: int) -> tuple[int, datetime | None]:
    """How many times a repeating reminder went out, and when last."""
    query = select(func.count(ReminderLog.id), func.max(ReminderLog.sent_at)).where(
        ReminderLog.purpose == purpose, ReminderLog.subject_id == subject_id,
        ReminderLog.person_id == person_id)
    count, last = (await session.execute(query)).one()
    return int(count), last


def message_to(person: Person, key: str, config: Config, *, buttons: tuple[Button, ...] = (),
               template: str | None = None, template_vars: dict[str, str] | None = None,
               ref: str | None = None, **values: Any) -> Outgoing:
    """A proactive message in the person's language (template used outside WhatsApp's 24-hour window)."""
    return Outgoing(text=t(key, person.language or config.language, **values), person_id=person.id,
                    buttons=buttons, template=template, template_vars=template_vars or {}, ref=ref)


def in_reminder_hours(now: datetime, config: Config) -> bool:
    """Nobody gets a tugas or report reminder at night (programme time zone)."""
    start, end = config.rules(ActivitiesRules).activity_reminder_hours
    return start <= now.astimezone(config.timezone).hour < end
