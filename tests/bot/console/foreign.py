"""Records of another mentor's group for the role matrix: the ids the console's desk pages take in their paths."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from storage.models import Assignment, FaqEntry, LeaveRequest, Meeting, MentorAbsence, Person, Role
from tests.support.driver import Driver


async def foreign_records(driver: Driver, other: Person) -> dict[str, int]:
    """A tugas, a session with an izin request, a FAQ proposal and a leave, all of `other`'s mentor's group."""
    now = driver.clock.now
    starts = now + timedelta(days=1)
    async with driver.sessions.begin() as session:
        tugas = Assignment(title="Tugas kelompok lain", mentor_id=other.mentor_id, due_at=starts, created_at=now)
        meeting = Meeting(title="Sesi kelompok lain", mentor_id=other.mentor_id, starts_at=starts,
                          ends_at=starts + timedelta(hours=2), checkin_code="1234", checkin_opens_at=starts,
                          checkin_closes_at=starts + timedelta(hours=2), late_after_at=starts + timedelta(minutes=15),
                          created_at=now)
        assert other.mentor_id is not None
        faq = FaqEntry(question="Izin PIRT berapa lama?", answer="Sekitar 2 minggu.", proposed_by_id=other.mentor_id,
                       proposed_at=now)
        session.add_all([tugas, meeting, faq])
        await session.flush()
        leave = LeaveRequest(meeting_id=meeting.id, participant_id=other.id, kind="izin", reason="ada acara keluarga",
                             created_at=now)
        coordinator = (await session.execute(select(Person.id).where(Person.role == Role.KOORDINATOR).limit(1))).scalar()
        away = MentorAbsence(mentor_id=other.mentor_id, backup_id=coordinator or other.mentor_id,
                             starts_on=date(2026, 3, 10), ends_on=date(2026, 3, 12), created_at=now)
        session.add_all([leave, away])
        await session.flush()
        return {"mentor_id": other.mentor_id, "assignment_id": tugas.id, "entry_id": faq.id, "request_id": leave.id,
                "absence_id": away.id}
