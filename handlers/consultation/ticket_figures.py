"""Figures per ticket and per mentor, in working hours, for digests and mentor performance reports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import waiting_since
from handlers.consultation.worktime import WorkCalendar, calendar_of, working_hours_between
from handlers.kernel.config import Config
from storage.models import Ticket, TicketRating, TicketStatus


@dataclass(frozen=True)
class TicketFigures:
    """One ticket's timeline and counts; *_hours are working hours (None until it happened)."""

    ticket_id: int
    participant_id: int
    mentor_id: int
    expert_id: int | None
    topic: str
    status: str
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    reassignments: int
    escalations: int
    rating: int | None
    first_response_hours: float | None
    resolution_hours: float | None


@dataclass(frozen=True)
class RatingSummary:
    """Average score and how many ratings it rests on."""

    average: float
    count: int


@dataclass(frozen=True)
class AgeBucket:
    """Open tickets waiting at least `from_hours` and less than `to_hours` working hours (None: no upper end)."""

    from_hours: float
    to_hours: float | None
    count: int


def figures_of(ticket: Ticket, rating: int | None, calendar: WorkCalendar) -> TicketFigures:
    """A ticket's figures, with working-hours durations."""
    def hours_until(moment: datetime | None) -> float | None:
        return None if moment is None else round(working_hours_between(ticket.created_at, moment, calendar), 2)

    return TicketFigures(
        ticket_id=ticket.id, participant_id=ticket.participant_id, mentor_id=ticket.mentor_id,
        expert_id=ticket.expert_id, topic=ticket.topic, status=ticket.status, created_at=ticket.created_at,
        first_response_at=ticket.first_response_at, resolved_at=ticket.resolved_at,
        reassignments=ticket.reassignments, escalations=ticket.escalations, rating=rating,
        first_response_hours=hours_until(ticket.first_response_at), resolution_hours=hours_until(ticket.resolved_at))


async def ticket_figures(session: AsyncSession, *, since: datetime, until: datetime, config: Config,
                         mentor_id: int | None = None) -> list[TicketFigures]:
    """Figures of the tickets created in [since, until), optionally of one mentor, oldest first."""
    query = select(Ticket, TicketRating.score).outerjoin(TicketRating, TicketRating.ticket_id == Ticket.id).where(
        Ticket.created_at >= since, Ticket.created_at < until)
    if mentor_id is not None:
        query = query.where(Ticket.mentor_id == mentor_id)
    calendar = calendar_of(config)
    rows = (await session.execute(query.order_by(Ticket.created_at, Ticket.id))).all()
    return [figures_of(ticket, score, calendar) for ticket, score in rows]


async def mentor_first_response_medians(session: AsyncSession, *, since: datetime, until: datetime,
                                        config: Config) -> dict[int, float]:
    """Per mentor: the median working hours to the first response, over tickets created in the period."""
    hours: dict[int, list[float]] = defaultdict(list)
    for figures in await ticket_figures(session, since=since, until=until, config=config):
        if figures.first_response_hours is not None:
            hours[figures.mentor_id].append(figures.first_response_hours)
    return {mentor_id: round(median(values), 2) for mentor_id, values in hours.items()}


async def mentor_ratings(session: AsyncSession, *, since: datetime, until: datetime) -> dict[int, RatingSummary]:
    """Per mentor: the average rating given in [since, until) and the number of ratings."""
    query = (select(TicketRating.mentor_id, func.avg(TicketRating.score), func.count())
             .where(TicketRating.rated_at >= since, TicketRating.rated_at < until).group_by(TicketRating.mentor_id))
    return {int(mentor_id): RatingSummary(round(float(average), 2), int(count))
            for mentor_id, average, count in (await session.execute(query)).all()}


async def unanswered_by_age(session: AsyncSession, *, now: datetime, config: Config,
                            mentor_id: int | None = None) -> list[AgeBucket]:
    """Open tickets by working hours waited, in buckets cut at the deadline steps (8 / 16 / 24 by default)."""
    query = select(Ticket).where(Ticket.status == TicketStatus.OPEN)
    if mentor_id is not None:
        query = query.where(Ticket.mentor_id == mentor_id)
    calendar = calendar_of(config)
    ages = [working_hours_between(waiting_since(ticket), now, calendar)
            for ticket in (await session.execute(query)).scalars()]
    rules = config.rules(ConsultationRules)
    cuts = [0.0, rules.sla_remind_hours, rules.sla_alert_hours, rules.sla_handover_hours]
    uppers: list[float | None] = [*cuts[1:], None]
    return [AgeBucket(low, high, sum(1 for age in ages if age >= low and (high is None or age < high)))
            for low, high in zip(cuts, uppers, strict=True)]
