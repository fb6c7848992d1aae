"""Figures go to the mentor of that time: the dated mentorships and the tickets' reassignments, read once.

The rules every report follows (kinerja, rekap by mentor):
- a ticket counts for the mentor who held it when it was first answered; one still unanswered for the mentor
  holding it at the end of the period counted;
- a presensi record for the participant's mentor on the day of the session;
- a tugas for the participant's mentor when it was first sent, or at its due time when it was not sent;
- a monthly report for the participant's mentor when it was sent; one still owed for the mentor at the end of
  the period counted;
- an at-risk spell for the mentor at its recovery, else at its start (or the period's start if earlier).
A participant who never moved has no periods: their current mentor holds everything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.ticket_figures import TicketFigures
from storage.models import AuditEntry, Mentorship, Person, Role

Span = tuple[datetime, datetime | None, int]


def utc(moment: datetime) -> datetime:
    """An aware UTC moment (naive values are stored UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass
class Attribution:
    """Who mentored whom when, and who held each reassigned ticket when."""

    periods: dict[int, list[Span]]
    current: dict[int, int | None]
    handovers: dict[int, list[tuple[datetime, int | None]]]

    def mentor_at(self, participant_id: int, moment: datetime) -> int | None:
        """The mentor of the period covering the moment; before the first period its mentor; else the current one."""
        spans = self.periods.get(participant_id)
        if not spans:
            return self.current.get(participant_id)
        moment = utc(moment)
        if moment < spans[0][0]:
            return spans[0][2]
        for start, end, mentor_id in reversed(spans):
            if start <= moment and (end is None or moment < end):
                return mentor_id
        return self.current.get(participant_id)

    def holder_at(self, ticket_id: int, holder_now: int, moment: datetime) -> int:
        """Who held the ticket at the moment: the one it was taken from by the first handover after it."""
        moves = self.handovers.get(ticket_id)
        if not moves:
            return holder_now
        index = bisect_right([at for at, _ in moves], utc(moment))
        if index == len(moves):
            return holder_now
        previous = moves[index][1]
        return previous if previous is not None else holder_now

    def ticket_mentor(self, figures: TicketFigures, end: datetime) -> int:
        """The mentor a ticket counts for: its holder at the first answer, else at the end of the period."""
        moment = figures.first_response_at if figures.first_response_at is not None else end
        return self.holder_at(figures.ticket_id, figures.mentor_id, moment)

    def mentored_by(self, mentor_id: int, start: datetime, end: datetime) -> set[int]:
        """Participants the mentor held at any moment of [start, end), current ones included."""
        found = {pid for pid, now in self.current.items() if now == mentor_id and not self.periods.get(pid)}
        start, end = utc(start), utc(end)
        for pid, spans in self.periods.items():
            for first, last, holder in spans:
                if holder == mentor_id and first < end and (last is None or last > start):
                    found.add(pid)
            if spans and spans[0][2] == mentor_id and start < spans[0][0]:
                found.add(pid)
        return found


async def load_attribution(session: AsyncSession, participant_ids: Iterable[int] | None = None) -> Attribution:
    """Periods of every participant (or of the given ones) and every ticket handover, oldest first."""
    periods: dict[int, list[Span]] = defaultdict(list)
    query = select(Mentorship).order_by(Mentorship.participant_id, Mentorship.started_at, Mentorship.id)
    people = select(Person.id, Person.mentor_id).where(Person.role == Role.PESERTA)
    if participant_ids is not None:
        wanted = list(participant_ids)
        query = query.where(Mentorship.participant_id.in_(wanted))
        people = people.where(Person.id.in_(wanted))
    for period in (await session.execute(query)).scalars():
        periods[period.participant_id].append(
            (utc(period.started_at), utc(period.ended_at) if period.ended_at else None, period.mentor_id))
    current: dict[int, int | None] = {}
    for pid, mentor_id in (await session.execute(people)):
        current[pid] = mentor_id
    return Attribution(dict(periods), current, await load_handovers(session))


async def load_handovers(session: AsyncSession) -> dict[int, list[tuple[datetime, int | None]]]:
    """Every ticket handover (audit `ticket_reassigned`), oldest first: ticket id → [(when, taken from)]."""
    handovers: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    audit = (select(AuditEntry.subject, AuditEntry.at, AuditEntry.detail)
             .where(AuditEntry.action == "ticket_reassigned").order_by(AuditEntry.at, AuditEntry.id))
    for subject, at, detail in (await session.execute(audit)):
        number = str(subject).removeprefix("ticket:")
        if number.isdigit():
            previous = (detail or {}).get("from")
            handovers[int(number)].append((utc(at), int(previous) if isinstance(previous, int) else None))
    return dict(handovers)
