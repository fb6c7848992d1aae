"""Scheduled presensi work: session reminders, closing windows (alpa), consecutive-absence alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.attendance import keep_presensi_facts
from handlers.activities.audience import participants_of
from handlers.activities.reminders import log_sent, message_to, was_sent
from handlers.activities.rules import ActivitiesRules
from handlers.kernel.cohorts import local_day, resting_participants
from handlers.kernel.config import Config
from handlers.kernel.dates import format_span
from handlers.kernel.messages import Outgoing
from storage.models import Attendance, AttendanceStatus, Meeting, Person

EXCUSED = (AttendanceStatus.IZIN, AttendanceStatus.SAKIT)
ANNOUNCEMENT_IS_FRESH = timedelta(hours=3)


async def send_session_reminders(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """The day before and an hour before, each participant is reminded once (not those on izin/sakit)."""
    query = select(Meeting).where(Meeting.is_cancelled.is_(False), Meeting.starts_at > now,
                                  Meeting.starts_at <= now + timedelta(days=1))
    messages: list[Outgoing] = []
    for meeting in (await session.execute(query)).scalars():
        purpose = "meeting_hour" if meeting.starts_at - now <= timedelta(hours=1) else "meeting_day"
        if purpose == "meeting_day" and now - meeting.created_at < ANNOUNCEMENT_IS_FRESH:
            continue  # the announcement itself went out moments ago
        messages += await remind_participants(session, meeting, purpose, now, config)
    return messages


async def remind_participants(session: AsyncSession, meeting: Meeting, purpose: str, now: datetime,
                              config: Config) -> list[Outgoing]:
    """One reminder of this kind per participant, logged so a rerun does not repeat it."""
    excused = set((await session.execute(select(Attendance.participant_id).where(
        Attendance.meeting_id == meeting.id, Attendance.status.in_(EXCUSED)))).scalars())
    excused |= await resting_participants(session, local_day(now, config.timezone))  # alumni or paused cohort
    messages = []
    for person in await participants_of(session, meeting):
        if person.id in excused or not person.consent_given or await was_sent(
                session, purpose, meeting.id, person.id):
            continue
        log_sent(session, purpose, meeting.id, person.id, now)
        lang = person.language or config.language
        when = format_span(meeting.starts_at, meeting.ends_at, config.timezone, lang)
        key = "att.reminder_meeting_hour" if purpose == "meeting_hour" else "att.reminder_meeting_day"
        if purpose == "meeting_day" and meeting.starts_at.astimezone(config.timezone).date() == \
                now.astimezone(config.timezone).date():
            key = "att.reminder_meeting_today"
        messages.append(message_to(
            person, key, config, title=meeting.title, when=when,
            where=meeting.link or meeting.place, template="session_reminder",
            template_vars={"1": person.name, "2": meeting.title, "3": when}))
    return messages


async def close_checkin_windows(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Windows that have ended: mark everyone without a record alpa, then alert mentors of streaks."""
    query = select(Meeting).where(Meeting.is_cancelled.is_(False), Meeting.checkin_closed_at.is_(None),
                                  Meeting.checkin_closes_at <= now).order_by(Meeting.starts_at)
    messages: list[Outgoing] = []
    for meeting in (await session.execute(query)).scalars():
        messages += (await close_meeting(session, meeting, now, config))[1]
    return messages


async def close_meeting(session: AsyncSession, meeting: Meeting, now: datetime,
                        config: Config) -> tuple[int, list[Outgoing]]:
    """Close one window: alpa for the unrecorded, then absence alerts; returns (marked, alerts)."""
    recorded = set((await session.execute(select(Attendance.participant_id).where(
        Attendance.meeting_id == meeting.id))).scalars())
    absent = [p for p in await participants_of(session, meeting) if p.id not in recorded]
    for person in absent:
        session.add(Attendance(meeting_id=meeting.id, participant_id=person.id, status=AttendanceStatus.ALPA,
                               source="auto", created_at=now, updated_at=now))
    meeting.checkin_closed_at = now
    await keep_presensi_facts(session, select(Attendance.participant_id).where(Attendance.meeting_id == meeting.id))
    alerts = []
    for person in absent:
        alert = await absence_alert(session, person, meeting, now, config)
        if alert is not None:
            alerts.append(alert)
    return len(absent), alerts


async def absence_streak(session: AsyncSession, participant_id: int) -> int:
    """How many of the participant's latest closed sessions in a row are alpa."""
    query = (select(Attendance.status).join(Meeting, Meeting.id == Attendance.meeting_id)
             .where(Attendance.participant_id == participant_id, Meeting.checkin_closed_at.is_not(None))
             .order_by(Meeting.starts_at.desc()).limit(50))
    streak = 0
    for status in (await session.execute(query)).scalars():
        if status != AttendanceStatus.ALPA:
            break
        streak += 1
    return streak


async def absence_alert(session: AsyncSession, person: Person, meeting: Meeting, now: datetime,
                        config: Config) -> Outgoing | None:
    """Tell the mentor when the streak reaches the threshold (izin and sakit do not count as absence)."""
    streak = await absence_streak(session, person.id)
    mentor = await session.get(Person, person.mentor_id) if person.mentor_id else None
    if streak < config.rules(ActivitiesRules).absence_alert_after or mentor is None:
        return None
    if await was_sent(session, "absence_alert", meeting.id, person.id):
        return None
    log_sent(session, "absence_alert", meeting.id, person.id, now)
    return message_to(mentor, "att.absence_alert", config, participant=person.name, count=streak,
                      title=meeting.title, phone=person.phone)
