"""Scheduled tugas reminders that check the real state before sending anything."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import participants_of
from handlers.activities.reminders import (
    in_reminder_hours,
    log_sent,
    message_to,
    send_history,
    was_sent,
)
from handlers.activities.rules import ActivitiesRules
from handlers.kernel.cohorts import local_day, resting_participants
from handlers.kernel.config import Config
from handlers.kernel.dates import format_moment
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from storage.models import Assignment, Extension, Person, Submission

OVERDUE_LOOKBACK_DAYS = 30


async def send_tugas_reminders(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Due-soon once, overdue at most N times; never to those who submitted or have an extension."""
    if not in_reminder_hours(now, config):
        return []
    query = select(Assignment).where(
        Assignment.due_at <= now + timedelta(hours=config.rules(ActivitiesRules).tugas_due_reminder_hours),
        Assignment.due_at >= now - timedelta(days=OVERDUE_LOOKBACK_DAYS),
        or_(Assignment.cutoff_at.is_(None), Assignment.cutoff_at > now))
    messages: list[Outgoing] = []
    resting = await resting_participants(session, local_day(now, config.timezone))  # alumni or paused cohort
    for assignment in (await session.execute(query)).scalars():
        excused = await already_handled(session, assignment.id) | resting
        for person in await participants_of(session, assignment):
            if person.id in excused or not person.consent_given:
                continue
            message = await reminder_for(session, assignment, person, now, config)
            if message is not None:
                messages.append(message)
    return messages


async def already_handled(session: AsyncSession, assignment_id: int) -> set[int]:
    """Participants who submitted anything or were given an extension."""
    submitted = select(Submission.participant_id).where(Submission.assignment_id == assignment_id)
    extended = select(Extension.participant_id).where(Extension.assignment_id == assignment_id)
    return set((await session.execute(submitted.union(extended))).scalars())


async def reminder_for(session: AsyncSession, assignment: Assignment, person: Person, now: datetime,
                       config: Config) -> Outgoing | None:
    """The one reminder this participant is owed now, logged so it is not repeated."""
    if assignment.due_at > now:
        if await was_sent(session, "tugas_due", assignment.id, person.id):
            return None
        log_sent(session, "tugas_due", assignment.id, person.id, now)
        return tugas_message(person, "tgs.reminder_due", assignment, config)
    count, last_at = await send_history(session, "tugas_overdue", assignment.id, person.id)
    spacing = timedelta(hours=config.rules(ActivitiesRules).tugas_overdue_reminder_every_hours)
    if count >= config.rules(ActivitiesRules).tugas_overdue_reminder_max or (last_at is not None and now - last_at < spacing):
        return None
    log_sent(session, "tugas_overdue", assignment.id, person.id, now, period=str(count + 1))
    return tugas_message(person, "tgs.reminder_overdue", assignment, config)


def tugas_message(person: Person, key: str, assignment: Assignment, config: Config) -> Outgoing:
    """A reminder with the submit button (WhatsApp template outside the 24-hour window)."""
    lang = person.language or config.language
    due = format_moment(assignment.due_at, config.timezone, lang)
    return message_to(person, key, config, title=assignment.title, due=due,
                      buttons=(Button(t("tgs.btn_send", lang), f"tgs:send:{assignment.id}"),),
                      template="tugas_reminder", template_vars={"1": person.name, "2": assignment.title, "3": due})
