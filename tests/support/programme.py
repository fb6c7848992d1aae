"""Builders for programme activity rows (sessions, presensi, tugas, reports, tickets) in tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.activities.attendance_jobs import close_meeting
from handlers.kernel.config import Config
from storage.models import (
    Assignment,
    Attendance,
    Meeting,
    MonthlyReport,
    Person,
    Submission,
    Ticket,
    TicketRating,
)
from storage.outcomes import refresh_participant_outcomes, refresh_participant_presence


class Programme:
    """Writes activity straight into the database, one committed transaction per call."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, *rows: Any) -> None:
        """Insert ready-made rows."""
        async with self.sessions.begin() as session:
            session.add_all(rows)

    async def meeting(self, starts_at: datetime, *, cohort: str = "", mentor: Person | None = None,
                      present: dict[Person, str] | None = None, closed: bool = True) -> Meeting:
        """A two-hour session; `present` maps people to their status. Closed by the real closing
        job (everyone else in the audience becomes alpa) unless `closed` is False."""
        meeting = Meeting(title="Pertemuan", cohort=cohort, mentor_id=mentor.id if mentor else None,
                          starts_at=starts_at, ends_at=starts_at + timedelta(hours=2), checkin_code="1234",
                          checkin_opens_at=starts_at - timedelta(minutes=30),
                          checkin_closes_at=starts_at + timedelta(hours=2),
                          late_after_at=starts_at + timedelta(minutes=15), created_at=starts_at - timedelta(days=7))
        await self.add(meeting)
        records = [Attendance(meeting_id=meeting.id, participant_id=person.id, status=status, source="mentor",
                              checked_in_at=starts_at, created_at=starts_at, updated_at=starts_at)
                   for person, status in (present or {}).items()]
        async with self.sessions.begin() as session:
            session.add_all(records)
            await session.flush()
            for statement in refresh_participant_presence([r.participant_id for r in records]):  # as check-ins do
                await session.execute(statement)
        if closed:
            async with self.sessions.begin() as session:
                stored = await session.get(Meeting, meeting.id)
                assert stored is not None
                await close_meeting(session, stored, meeting.checkin_closes_at, Config())  # its alerts are not sent
        return meeting

    async def tugas(self, due_at: datetime, *, cohort: str = "", mentor: Person | None = None,
                    sent: dict[Person, datetime] | None = None) -> Assignment:
        """A tugas and the submissions sent at the given times."""
        assignment = Assignment(title="Tugas", cohort=cohort, mentor_id=mentor.id if mentor else None,
                                due_at=due_at, created_at=due_at - timedelta(days=7))
        await self.add(assignment)
        await self.add(*[Submission(assignment_id=assignment.id, participant_id=person.id, submitted_at=at,
                                    is_late=at > due_at) for person, at in (sent or {}).items()])
        return assignment

    async def report(self, person: Person, month: str, submitted_at: datetime) -> None:
        """A submitted laporan bulanan (its outcome row kept, as sending it through the form does)."""
        async with self.sessions.begin() as session:
            session.add(MonthlyReport(participant_id=person.id, month=month, omzet=1_000_000, workers=1,
                                      customers=10, form_step="done", submitted_at=submitted_at,
                                      created_at=submitted_at, updated_at=submitted_at))
            await session.flush()
            for statement in refresh_participant_outcomes([person.id]):
                await session.execute(statement)

    async def keep_outcomes(self) -> None:
        """Keep everyone's outcome row from their sent reports (after reports added as ready-made rows)."""
        async with self.sessions.begin() as session:
            for statement in refresh_participant_outcomes():
                await session.execute(statement)

    async def ticket(self, person: Person, created_at: datetime, *, answered_at: datetime | None = None,
                     rating: int | None = None) -> Ticket:
        """A question to the participant's mentor, answered and rated when given."""
        ticket = Ticket(participant_id=person.id, mentor_id=person.mentor_id, status="answered" if answered_at
                        else "open", created_at=created_at, last_message_at=answered_at or created_at,
                        first_response_at=answered_at)
        await self.add(ticket)
        if rating is not None and answered_at is not None:
            await self.add(TicketRating(ticket_id=ticket.id, participant_id=person.id, mentor_id=ticket.mentor_id,
                                        score=rating, rated_at=answered_at + timedelta(hours=1)))
        return ticket

    async def set_person(self, person: Person, **fields: Any) -> None:
        """Change stored fields of a person (e.g. last_inbound_at)."""
        async with self.sessions.begin() as session:
            stored = await session.get(Person, person.id)
            assert stored is not None
            for name, value in fields.items():
                setattr(stored, name, value)
