"""Erasure on request (`klinik pdp erase PHONE`): the person's personal data goes, the programme's counts stay.

Their name, number, business details, extra roster columns and Telegram account are replaced; the
texts and media of their questions (with the replies in those threads), of everything they wrote
elsewhere, of their tugas, izin and reports are removed; stored inbound and outbound messages that
carry any of it are redacted (and not sent if still queued); their unknown-number records, menus,
forms and download links are deleted. Rows stay, so counts, scores, response times and targets
keep adding up. The audit log keeps one entry saying that an erasure happened, without the data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.lifecycle import ERASED, stop_serving
from handlers.kernel.messages import Channel, Outgoing
from storage.models import (
    AuditEntry,
    FaqEntry,
    InboxItem,
    LeaveRequest,
    MediaLink,
    MonthlyReport,
    OutboxMessage,
    OutboxStatus,
    ParticipantNote,
    Person,
    Submission,
    Ticket,
    TicketMessage,
    TicketRating,
    UnknownContact,
)

MIN_TERM = 6  # shorter strings would match unrelated rows
MIN_NAME = 3  # a short name is still searched for: redacting a stranger's old message costs little
TEXT_TERM = 60  # a message is found by the start of its first line (JSON escapes the rest)
CHUNK = 500
REDACTED_INBOX: dict[str, Any] = {"redacted": True}
REDACTED_OUTBOX: dict[str, Any] = {"text": "", "part": 1, "parts": 1, "buttons": [], "attachments": [],
                                   "request_contact": False, "template": None, "template_vars": {},
                                   "redacted": True}


@dataclass
class Erasure:
    """What an erasure changed, in counts only (kept in the audit log)."""

    counts: dict[str, int] = field(default_factory=dict)
    messages: list[Outgoing] = field(default_factory=list)

    def add(self, name: str, count: int) -> None:
        """Count rows changed in one place."""
        if count:
            self.counts[name] = self.counts.get(name, 0) + count


def erased_phone(person: Person) -> str:
    """What the phone column holds after erasure (never a valid number)."""
    return f"x-{person.id}"


async def erase_person(session: AsyncSession, person: Person, now: datetime, config: Config, *,
                       actor_id: int | None, source: str) -> Erasure:
    """Remove the person's personal data in the caller's transaction; open work is handed on first."""
    result = Erasure()
    result.messages = await stop_serving(session, person, ERASED, now, config, actor_id)
    marker = t("pdp.redacted", config.language)
    terms = await personal_terms(session, person)
    ticket_ids = list((await session.execute(select(Ticket.id).where(Ticket.participant_id == person.id))).scalars())
    await _redact_threads(session, person, ticket_ids, marker, terms, result)
    await _redact_activities(session, person, marker, result)
    await _redact_messages(session, person, ticket_ids, terms, now, result)
    await _forget_contacts(session, person, result)
    await _scrub_person(session, person, now, config)
    session.add(AuditEntry(at=now, actor_id=actor_id, action="pdp_erase", subject=f"person:{person.id}",
                           detail={"source": source, "counts": dict(result.counts)}))
    await session.flush()
    return result


async def personal_terms(session: AsyncSession, person: Person) -> list[str]:
    """Strings that identify the person or that they wrote, as they may appear inside other rows."""
    found = [person.name, person.phone, person.phone.lstrip("+"), person.business_name,
             person.telegram_user_id or "", person.telegram_chat_id or ""]
    if person.phone.startswith("+62"):
        found.append("0" + person.phone[3:])
    found += [str(value) for value in (person.extra or {}).values()]
    texts = await session.execute(select(TicketMessage.text).where(TicketMessage.author_id == person.id))
    texts_of_work = await session.execute(select(Submission.text).where(Submission.participant_id == person.id))
    reasons = await session.execute(select(LeaveRequest.reason).where(LeaveRequest.participant_id == person.id))
    for text in [*texts.scalars(), *texts_of_work.scalars(), *reasons.scalars()]:
        first_line = (text or "").strip().split("\n", 1)[0]
        found.append(first_line[:TEXT_TERM])
    terms = {term.strip() for term in found if len(term.strip()) >= MIN_TERM}
    if len(person.name.strip()) >= MIN_NAME:
        terms.add(person.name.strip())
    return sorted(terms)


def _json_forms(term: str) -> set[str]:
    """The term as written and as JSON writes it inside a stored document (non-ASCII escaped)."""
    return {term, json.dumps(term)[1:-1], json.dumps(term, ensure_ascii=False)[1:-1]}


def _mentions(column: Any, terms: Iterable[str]) -> Any:
    """SQL: the column's text contains any of the terms."""
    text = cast(column, Text)
    return or_(*[text.contains(form, autoescape=True) for term in terms for form in _json_forms(term)])


def _scrub(text: str, terms: Iterable[str], marker: str) -> str:
    for term in sorted(terms, key=len, reverse=True):
        text = text.replace(term, marker)
    return text


async def _redact_threads(session: AsyncSession, person: Person, ticket_ids: list[int], marker: str,
                          terms: list[str], result: Erasure) -> None:
    """Their questions with every reply, and anything they wrote in other threads; FAQ wording from them."""
    conditions: list[Any] = [TicketMessage.author_id == person.id]
    for start in range(0, len(ticket_ids), CHUNK):
        conditions.append(TicketMessage.ticket_id.in_(ticket_ids[start:start + CHUNK]))
    changed = await session.execute(update(TicketMessage).where(or_(*conditions))
                                    .values(text=marker, attachments=[]).execution_options(synchronize_session=False))
    result.add("ticket_messages", changed.rowcount)  # type: ignore[attr-defined]
    changed = await session.execute(update(TicketRating).where(TicketRating.participant_id == person.id)
                                    .values(comment="").execution_options(synchronize_session=False))
    result.add("ratings", changed.rowcount)  # type: ignore[attr-defined]
    if not ticket_ids and not terms:
        return
    faq_query = select(FaqEntry)
    faq_conditions = [FaqEntry.source_ticket_id.in_(ticket_ids[start:start + CHUNK])
                      for start in range(0, len(ticket_ids), CHUNK)]
    if terms:
        faq_conditions += [_mentions(FaqEntry.question, terms), _mentions(FaqEntry.answer, terms)]
    for entry in (await session.execute(faq_query.where(or_(*faq_conditions)))).scalars():
        if entry.source_ticket_id in ticket_ids:
            entry.question = marker
        entry.question, entry.answer = _scrub(entry.question, terms, marker), _scrub(entry.answer, terms, marker)
        result.add("faq_entries", 1)


async def _redact_activities(session: AsyncSession, person: Person, marker: str, result: Erasure) -> None:
    """Texts and files of their tugas, izin/sakit requests and monthly reports; the numbers stay."""
    changed = await session.execute(
        update(Submission).where(Submission.participant_id == person.id)
        .values(text=marker, attachments=[], review_comment="").execution_options(synchronize_session=False))
    result.add("submissions", changed.rowcount)  # type: ignore[attr-defined]
    changed = await session.execute(
        update(LeaveRequest).where(LeaveRequest.participant_id == person.id)
        .values(reason=marker, attachments=[]).execution_options(synchronize_session=False))
    result.add("leave_requests", changed.rowcount)  # type: ignore[attr-defined]
    changed = await session.execute(
        update(MonthlyReport).where(MonthlyReport.participant_id == person.id)
        .values(main_problem="", draft={}).execution_options(synchronize_session=False))
    result.add("monthly_reports", changed.rowcount)  # type: ignore[attr-defined]


async def _redact_messages(session: AsyncSession, person: Person, ticket_ids: list[int], terms: list[str],
                           now: datetime, result: Erasure) -> None:
    """Stored inbound and outbound messages to, from or about them: redacted, and not sent any more."""
    refs = [f"ticket:{ticket_id}" for ticket_id in ticket_ids]
    addresses = {person.phone, person.telegram_chat_id or "", person.telegram_user_id or ""} - {""}
    outbox_conditions: list[Any] = [OutboxMessage.recipient_id == person.id,
                                    OutboxMessage.address.in_(sorted(addresses))]
    outbox_conditions += [OutboxMessage.ref.in_(refs[start:start + CHUNK]) for start in range(0, len(refs), CHUNK)]
    if terms:
        outbox_conditions.append(_mentions(OutboxMessage.payload, terms))
    rows = list((await session.execute(select(OutboxMessage).where(or_(*outbox_conditions)))).scalars())
    await _delete_own_files(session, rows, person)
    for row in rows:
        row.payload = dict(REDACTED_OUTBOX)
        if row.address in addresses:
            row.address = erased_phone(person)
        if row.status in (OutboxStatus.PENDING, OutboxStatus.HELD):
            row.status, row.error = OutboxStatus.FAILED, "not sent: recipient data erased"
    result.add("outbox", len(rows))
    inbox_conditions: list[Any] = [InboxItem.payload["address"].as_string().in_(sorted(addresses)),
                                   InboxItem.payload["sender_id"].as_string().in_(sorted(addresses))]
    if terms:
        inbox_conditions.append(_mentions(InboxItem.payload, terms))
    items = list((await session.execute(select(InboxItem).where(or_(*inbox_conditions)))).scalars())
    for item in items:
        item.payload = dict(REDACTED_INBOX)
        item.processed_at = item.processed_at or now
        item.error = None
    result.add("inbox", len(items))


async def _delete_own_files(session: AsyncSession, rows: list[OutboxMessage], person: Person) -> None:
    """Files the bot generated for them (e.g. their `data saya` export) and the links to them."""
    tokens = {attachment["ref"].removeprefix("media:") for row in rows if row.recipient_id == person.id
              for attachment in (row.payload or {}).get("attachments") or []
              if isinstance(attachment, dict) and str(attachment.get("ref", "")).startswith("media:")}
    if not tokens:
        return
    links = list((await session.execute(select(MediaLink).where(MediaLink.token.in_(sorted(tokens))))).scalars())
    await asyncio.to_thread(_remove_files, [link.ref for link in links if link.source == "file"])
    await session.execute(delete(MediaLink).where(MediaLink.token.in_(sorted(tokens))))


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


async def _forget_contacts(session: AsyncSession, person: Person, result: Erasure) -> None:
    """Unknown-number records of their number or Telegram chat, and the audit details about them."""
    addresses = sorted({person.phone, person.telegram_chat_id or "", person.telegram_user_id or ""} - {""})
    changed = await session.execute(
        delete(UnknownContact).where(or_(UnknownContact.phone == person.phone, UnknownContact.address.in_(addresses)))
        .execution_options(synchronize_session=False))
    result.add("unknown_contacts", changed.rowcount)  # type: ignore[attr-defined]
    changed = await session.execute(
        delete(ParticipantNote).where(ParticipantNote.participant_id == person.id)
        .execution_options(synchronize_session=False))
    result.add("participant_notes", changed.rowcount)  # type: ignore[attr-defined]  # their mentor's notes on them
    changed = await session.execute(
        update(AuditEntry).where(AuditEntry.subject == f"person:{person.id}").values(detail={})
        .execution_options(synchronize_session=False))
    result.add("audit_details", changed.rowcount)  # type: ignore[attr-defined]


async def _scrub_person(session: AsyncSession, person: Person, now: datetime, config: Config) -> None:
    """The roster record keeps its role, cohort, sector, mentor and dates; nothing that names the person."""
    person.name = t("pdp.erased_name", config.language)
    person.phone = erased_phone(person)
    person.business_name = person.district = person.topics = ""
    person.extra = {}
    person.telegram_user_id = person.telegram_chat_id = None
    person.preferred_channel = Channel.WHATSAPP.value
    person.unreachable_reason = None
    person.consent_given = False
    person.is_active = False
    person.deactivated_at = person.deactivated_at or now
    person.erased_at = now
    person.updated_at = now
