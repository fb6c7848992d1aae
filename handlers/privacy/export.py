"""Everything the programme holds about one person, as a JSON file: `data saya` and `klinik pdp export`.

Profile, consent history, their questions with every reply (mentors' private notes excepted),
what they wrote elsewhere, presensi, izin/sakit requests, tugas submissions, monthly reports and
ratings. Times are in the programme's time zone.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.messages import Attachment, Channel
from handlers.privacy.rules import PrivacyRules
from storage.models import (
    Assignment,
    Attendance,
    ConsentRecord,
    LeaveRequest,
    MediaLink,
    Meeting,
    MonthlyReport,
    Person,
    Submission,
    Ticket,
    TicketMessage,
    TicketRating,
)

JSON_MIME = "application/json"
EXPORT_PREFIX = "data-saya-"


def _when(value: datetime | None, config: Config) -> str | None:
    return value.astimezone(config.timezone).isoformat() if value is not None else None


def _files(attachments: list[Any]) -> list[dict[str, Any]]:
    return [{"kind": item.get("kind", ""), "name": item.get("name", ""), "mime": item.get("mime", "")}
            for item in attachments if isinstance(item, dict)]


async def personal_data(session: AsyncSession, person: Person, config: Config) -> dict[str, Any]:
    """The person's data, ready for json.dumps."""
    return {
        "programme": config.programme_name,
        "profile": {
            "id": person.id, "role": person.role, "name": person.name, "phone": person.phone,
            "cohort": person.cohort, "business_name": person.business_name, "sector": person.sector,
            "district": person.district, "topics": person.topics, "other_columns": dict(person.extra or {}),
            "mentor": await _name(session, person.mentor_id), "language": person.language,
            "preferred_channel": person.preferred_channel, "telegram_account": person.telegram_user_id,
            "active": person.is_active, "registered_at": _when(person.created_at, config),
            "last_message_at": _when(person.last_inbound_at, config),
            "deactivated_at": _when(person.deactivated_at, config),
        },
        "consent": {
            "given": person.consent_given, "at": _when(person.consent_at, config),
            "text_version": person.consent_version, "channel": person.consent_channel,
            "history": await _consents(session, person, config),
        },
        "questions": await _tickets(session, person, config),
        "messages_written_elsewhere": await _written(session, person, config),
        "attendance": await _attendance(session, person, config),
        "leave_requests": await _leave(session, person, config),
        "tugas": await _submissions(session, person, config),
        "monthly_reports": await _reports(session, person, config),
    }


async def _name(session: AsyncSession, person_id: int | None) -> str | None:
    person = await session.get(Person, person_id) if person_id is not None else None
    return person.name if person is not None else None


async def _consents(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = select(ConsentRecord).where(ConsentRecord.person_id == person.id).order_by(ConsentRecord.id)
    return [{"at": _when(record.at, config), "given": record.given, "action": record.action,
             "text_version": record.version, "channel": record.channel}
            for record in (await session.execute(query)).scalars()]


async def _tickets(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    tickets = list((await session.execute(select(Ticket).where(Ticket.participant_id == person.id)
                                          .order_by(Ticket.id))).scalars())
    ids = [ticket.id for ticket in tickets]
    messages: dict[int, list[dict[str, Any]]] = {ticket_id: [] for ticket_id in ids}
    ratings: dict[int, TicketRating] = {}
    if ids:
        query = (select(TicketMessage).where(TicketMessage.ticket_id.in_(ids), TicketMessage.kind != "note")
                 .order_by(TicketMessage.id))
        for message in (await session.execute(query)).scalars():
            messages[message.ticket_id].append({
                "at": _when(message.created_at, config), "kind": message.kind,
                "from": "you" if message.author_id == person.id else await _name(session, message.author_id),
                "text": message.text, "files": _files(message.attachments)})
        query_ratings = select(TicketRating).where(TicketRating.ticket_id.in_(ids))
        ratings = {rating.ticket_id: rating for rating in (await session.execute(query_ratings)).scalars()}
    return [{"number": ticket.id, "topic": ticket.topic, "status": ticket.status,
             "asked_at": _when(ticket.created_at, config), "answered_by": await _name(session, ticket.mentor_id),
             "rating": ratings[ticket.id].score if ticket.id in ratings else None,
             "rating_comment": ratings[ticket.id].comment if ticket.id in ratings else None,
             "messages": messages[ticket.id]} for ticket in tickets]


async def _written(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = (select(TicketMessage).join(Ticket, Ticket.id == TicketMessage.ticket_id)
             .where(TicketMessage.author_id == person.id, Ticket.participant_id != person.id)
             .order_by(TicketMessage.id))
    return [{"at": _when(message.created_at, config), "question": message.ticket_id, "kind": message.kind,
             "text": message.text, "files": _files(message.attachments)}
            for message in (await session.execute(query)).scalars()]


async def _attendance(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = (select(Attendance, Meeting).join(Meeting, Meeting.id == Attendance.meeting_id)
             .where(Attendance.participant_id == person.id).order_by(Meeting.starts_at))
    return [{"session": meeting.title, "starts_at": _when(meeting.starts_at, config), "status": record.status,
             "checked_in_at": _when(record.checked_in_at, config)}
            for record, meeting in (await session.execute(query)).all()]


async def _leave(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = (select(LeaveRequest, Meeting).join(Meeting, Meeting.id == LeaveRequest.meeting_id)
             .where(LeaveRequest.participant_id == person.id).order_by(LeaveRequest.id))
    return [{"session": meeting.title, "kind": request.kind, "reason": request.reason, "status": request.status,
             "files": _files(request.attachments), "asked_at": _when(request.created_at, config)}
            for request, meeting in (await session.execute(query)).all()]


async def _submissions(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = (select(Submission, Assignment).join(Assignment, Assignment.id == Submission.assignment_id)
             .where(Submission.participant_id == person.id).order_by(Submission.id))
    return [{"tugas": assignment.title, "version": submission.version, "text": submission.text,
             "files": _files(submission.attachments), "status": submission.status,
             "submitted_at": _when(submission.submitted_at, config), "review_comment": submission.review_comment}
            for submission, assignment in (await session.execute(query)).all()]


async def _reports(session: AsyncSession, person: Person, config: Config) -> list[dict[str, Any]]:
    query = (select(MonthlyReport).where(MonthlyReport.participant_id == person.id,
                                         MonthlyReport.submitted_at.is_not(None)).order_by(MonthlyReport.month))
    return [{"month": report.month, "omzet": report.omzet, "workers": report.workers, "customers": report.customers,
             "permits": list(report.permits or []), "main_problem": report.main_problem,
             "submitted_at": _when(report.submitted_at, config)}
            for report in (await session.execute(query)).scalars()]


def as_json(data: dict[str, Any]) -> bytes:
    """Readable UTF-8 JSON."""
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


async def export_file(session: AsyncSession, person: Person, now: datetime, config: Config) -> Attachment:
    """Write the person's data to an unguessable file served as `media:<token>` for a short while."""
    content = as_json(await personal_data(session, person, config))
    token = secrets.token_urlsafe(24)
    path = await asyncio.to_thread(_write, Path(config.media_dir), f"{token}.json", content)
    name = f"{EXPORT_PREFIX}{now.astimezone(config.timezone):%Y%m%d}.json"
    hours = config.rules(PrivacyRules).export_link_hours
    session.add(MediaLink(token=token, source="file", ref=str(path), mime=JSON_MIME, name=name, created_at=now,
                          expires_at=now + timedelta(hours=hours)))
    # The file is ours: every channel fetches `media:` refs from the media table, whatever `channel` says.
    return Attachment(kind="document", ref=f"media:{token}", channel=Channel.WHATSAPP, mime=JSON_MIME, name=name)


def _write(folder: Path, name: str, content: bytes) -> Path:
    path = folder.absolute() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
