"""What every consultation feature does with a ticket: who may act, threads, notices, moves."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, object_session

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.topics import find_topic
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from storage.models import AuditEntry, Person, Role, Ticket, TicketMessage, TicketStatus

ACTIVE = (TicketStatus.OPEN, TicketStatus.ANSWERED)
ROLE_KEYS: dict[str, str] = {
    Role.PESERTA: "core.role_peserta", Role.PENDAMPING: "core.role_pendamping",
    Role.NARASUMBER: "core.role_narasumber", Role.KOORDINATOR: "core.role_koordinator"}


def language_of(person: Person, config: Config) -> str:
    """The person's language, else the programme's."""
    return person.language or config.language


def message_to(person: Person, key: str, config: Config, *, buttons: tuple[Button, ...] = (),
               attachments: tuple[Attachment, ...] = (), ref: str | None = None, **values: Any) -> Outgoing:
    """A text for a person on their own channel, in their own language."""
    return Outgoing(text=t(key, language_of(person, config), **values), person_id=person.id,
                    buttons=buttons, attachments=attachments, ref=ref)


def topic_label(config: Config, key: str, language: str) -> str:
    """A ticket topic as people read it (the key itself for a topic the programme dropped)."""
    topic = find_topic(config.rules(ConsultationRules).topics, key)
    return topic.label(language) if topic else key


def role_label(person: Person, language: str) -> str:
    """The person's role in words: pendamping, narasumber…"""
    return t(ROLE_KEYS[person.role], language)


async def open_ticket_of(session: AsyncSession, participant_id: int) -> Ticket | None:
    """The participant's ticket that is still open or awaiting their reaction, newest first."""
    known: dict[int, Ticket | None] = session.info.get(OPEN_TICKETS, {})
    if participant_id in known:
        ticket = known[participant_id]
        if ticket is None or ticket not in session.deleted:
            return ticket
    query = (select(Ticket).where(Ticket.participant_id == participant_id, Ticket.status.in_(ACTIVE))
             .order_by(Ticket.id.desc()).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


# session.info: participant id → their open ticket (None: none), for the participants behind an inbox batch,
# loaded in one query; kept right as tickets are opened, closed or reopened in the transaction
OPEN_TICKETS = "klinik.open_tickets"
OPEN_TICKETS_QUERY = (select(Ticket).where(Ticket.participant_id.in_(bindparam("ids", expanding=True)),
                                           Ticket.status.in_(ACTIVE)).order_by(Ticket.id))


async def load_open_tickets(session: AsyncSession, participant_ids: Collection[int]) -> None:
    """Read these participants' open tickets in one query, so open_ticket_of asks the database nothing."""
    if not participant_ids:
        return
    known: dict[int, Ticket | None] = dict.fromkeys(participant_ids)
    for ticket in (await session.execute(OPEN_TICKETS_QUERY, {"ids": sorted(known)})).scalars():
        known[ticket.participant_id] = ticket  # the newest wins
    session.info.setdefault(OPEN_TICKETS, {}).update(known)


@event.listens_for(Ticket.status, "set")
def _status_set(ticket: Ticket, value: str, _old: object, _initiator: object) -> None:
    session = object_session(ticket)
    known: dict[int, Ticket | None] = session.info.get(OPEN_TICKETS, {}) if session is not None else {}
    if ticket.participant_id not in known:
        return
    if value in ACTIVE:
        if known[ticket.participant_id] is not ticket:  # another ticket open again: the newest is not known
            del known[ticket.participant_id]
    elif known[ticket.participant_id] is ticket:
        del known[ticket.participant_id]


@event.listens_for(Session, "transient_to_pending")
def _ticket_added(session: Session, instance: object) -> None:
    known: dict[int, Ticket | None] | None = session.info.get(OPEN_TICKETS)
    if known is not None and isinstance(instance, Ticket):
        known.pop(instance.participant_id, None)  # asked again (after a flush) when needed


@event.listens_for(Session, "after_transaction_end")
def _forget_open_tickets(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(OPEN_TICKETS, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_savepoint(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        session.info.pop(OPEN_TICKETS, None)


def may_handle(person: Person, ticket: Ticket) -> bool:
    """A coordinator handles any ticket; a mentor their own; a narasumber those escalated to them."""
    return person.role == Role.KOORDINATOR or person.id in (ticket.mentor_id, ticket.expert_id)


async def ticket_for_staff(ctx: Context, number: str) -> Ticket | None:
    """The ticket if this staff member may act on it; a clear reply otherwise."""
    number, ticket_id = number.lstrip("#")[:24], record_id(number)
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None or not may_handle(ctx.person, ticket):
        ctx.reply("core.ticket_not_yours", number=number)
        return None
    return ticket


async def handlers_of(session: AsyncSession, ticket: Ticket) -> list[Person]:
    """The mentor and, after an escalation, the narasumber."""
    ids = [ticket.mentor_id] + ([ticket.expert_id] if ticket.expert_id else [])
    people = [await session.get(Person, person_id) for person_id in ids]
    return [person for person in people if person is not None]


def add_message(ctx: Context, ticket: Ticket, kind: str, attachments: tuple[Attachment, ...] = (),
                text: str | None = None) -> TicketMessage:
    """Append a message from the sender to a ticket's thread (notes do not move the clock)."""
    message = TicketMessage(ticket_id=ticket.id, author_id=ctx.person.id, kind=kind,
                            text=ctx.text if text is None else text,
                            attachments=[a.to_json() for a in attachments], created_at=ctx.now)
    ctx.session.add(message)
    if kind != "note":
        ticket.last_message_at = ctx.now
    return message


def mentor_buttons(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """What a mentor can do from a notification."""
    return (Button(t("core.btn_answer", language), f"ans:{ticket.id}"),
            Button(t("core.btn_close", language), f"close:{ticket.id}"))


def open_button(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """Open the ticket in the mentor's workspace (thread, record, notes, escalation)."""
    return (Button(t("cons.btn_open", language, number=ticket.id), f"tk:{ticket.id}"),)


def participant_buttons(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """What a participant can do after an answer."""
    return (Button(t("core.btn_close_done", language), f"close:{ticket.id}"),)


def notify(ctx: Context, recipient: Person, key: str, ticket: Ticket, *, buttons: tuple[Button, ...] = (),
           **values: str) -> None:
    """Tell someone about a ticket, carrying the sender's media along."""
    ctx.send(message_to(recipient, key, ctx.config, buttons=buttons, attachments=ctx.inbound.attachments,
                        ref=f"ticket:{ticket.id}", number=str(ticket.id), **values))


def waiting_since(ticket: Ticket) -> datetime:
    """Since when the participant waits: the question, or their latest follow-up after an answer."""
    return ticket.created_at if ticket.first_response_at is None else ticket.last_message_at


def age_text(age: timedelta, language: str) -> str:
    """An age as people say it: "15 menit", "3 jam", "2 hari"."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 60:
        return t("cons.age_minutes", language, n=minutes)
    if minutes < 24 * 60:
        return t("cons.age_hours", language, n=minutes // 60)
    return t("cons.age_days", language, n=minutes // (24 * 60))


def short_line(text: str, limit: int = 60) -> str:
    """One line of a message, cut to fit a phone screen."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


async def first_question(session: AsyncSession, ticket: Ticket) -> TicketMessage | None:
    """The message that opened the ticket."""
    query = (select(TicketMessage).where(TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "question")
             .order_by(TicketMessage.id).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


async def reassign(session: AsyncSession, ticket: Ticket, mentor: Person, now: datetime, config: Config, *,
                   actor_id: int | None, reason: str) -> list[Outgoing]:
    """Hand a ticket with its history to another mentor; tell them, the previous one and the participant."""
    previous = await session.get(Person, ticket.mentor_id)
    participant = await session.get(Person, ticket.participant_id)
    assert participant is not None
    ticket.mentor_id = mentor.id
    ticket.reassignments += 1
    session.add(AuditEntry(at=now, actor_id=actor_id, action="ticket_reassigned", subject=f"ticket:{ticket.id}",
                           detail={"from": previous.id if previous else None, "to": mentor.id, "reason": reason}))
    question = await first_question(session, ticket)
    lang = language_of(mentor, config)
    out = [message_to(mentor, "cons.handed_to_you", config, buttons=mentor_buttons(ticket, lang) + open_button(ticket, lang),
                      ref=f"ticket:{ticket.id}", number=ticket.id, participant=participant.name,
                      business=participant.business_name or "-", topic=topic_label(config, ticket.topic, lang),
                      text=short_line(question.text, 300) if question and question.text else "📎")]
    if previous is not None and previous.id != mentor.id:
        out.append(message_to(previous, "cons.handed_away", config, number=ticket.id, mentor=mentor.name))
    out.append(message_to(participant, "cons.now_answered_by", config, number=ticket.id, name=mentor.name,
                          role=role_label(mentor, language_of(participant, config))))
    return out


async def answer_message(ctx: Context, message_id: str) -> tuple[TicketMessage, Ticket] | None:
    """An answer in a ticket this staff member may act on."""
    number = record_id(message_id)
    message = await ctx.session.get(TicketMessage, number) if number is not None else None
    ticket = await ctx.session.get(Ticket, message.ticket_id) if message else None
    if message is None or ticket is None or message.kind != "answer" or not may_handle(ctx.person, ticket):
        ctx.reply("core.unknown_button")
        return None
    return message, ticket
