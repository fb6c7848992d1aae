"""Tickets of someone who stops being served: a mentor's go to their backup or a coordinator, a participant's close.

Registered as a leaving hook (handlers/kernel/lifecycle.py): deactivation, withdrawn consent and
erasure all hand the person's open work on here. Participants of a mentor who left are answered by
the same stand-in when they ask something new.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.sla import backup_of
from handlers.consultation.ticketing import ACTIVE, reassign
from handlers.kernel.config import Config
from handlers.kernel.lifecycle import active_people, on_leaving
from handlers.kernel.messages import Outgoing
from storage.models import AuditEntry, Person, Role, Ticket, TicketStatus


async def stand_in_for(session: AsyncSession, mentor: Person, now: datetime, config: Config) -> Person | None:
    """Who answers for a mentor who left: their backup (or whoever covers them), else a coordinator."""
    backup = await backup_of(session, mentor, now, config)
    if backup is not None and backup.is_active and backup.id != mentor.id:
        return backup
    coordinators = await active_people(session, Role.KOORDINATOR, besides=mentor.id)
    return coordinators[0] if coordinators else None


@on_leaving
async def hand_on_tickets(session: AsyncSession, person: Person, why: str, now: datetime, config: Config,
                          actor_id: int | None) -> list[Outgoing]:
    """A participant's open tickets close; a mentor's move on (the participant is told who answers now)."""
    if person.role == Role.PESERTA:
        await close_open_tickets(session, person, why, now, actor_id)
        return []
    out: list[Outgoing] = []
    query = select(Ticket).where(Ticket.mentor_id == person.id, Ticket.status.in_(ACTIVE)).order_by(Ticket.id)
    tickets = list((await session.execute(query)).scalars())
    successor = await stand_in_for(session, person, now, config) if tickets else None
    for ticket in tickets:
        if successor is not None:
            out += await reassign(session, ticket, successor, now, config, actor_id=actor_id, reason=why)
    escalated = select(Ticket).where(Ticket.expert_id == person.id, Ticket.status.in_(ACTIVE))
    for ticket in (await session.execute(escalated)).scalars():
        ticket.expert_id = None  # back with the mentor, who still has the whole thread
        session.add(AuditEntry(at=now, actor_id=actor_id, action="escalation_ended", subject=f"ticket:{ticket.id}",
                               detail={"expert": person.id, "reason": why}))
    return out


async def close_open_tickets(session: AsyncSession, participant: Person, why: str, now: datetime,
                             actor_id: int | None) -> None:
    """Close the participant's open tickets, so they leave every queue; the threads stay."""
    query = select(Ticket).where(Ticket.participant_id == participant.id, Ticket.status.in_(ACTIVE))
    for ticket in (await session.execute(query)).scalars():
        ticket.status = TicketStatus.CLOSED
        ticket.closed_by_id = actor_id
        session.add(AuditEntry(at=now, actor_id=actor_id, action="ticket_closed", subject=f"ticket:{ticket.id}",
                               detail={"reason": why}))
