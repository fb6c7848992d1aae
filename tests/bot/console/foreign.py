"""Records of another mentor's group for the role matrix: the ids the console's desk pages take in their paths."""

from __future__ import annotations

from datetime import timedelta

from storage.models import Assignment, FaqEntry, LeaveRequest, Meeting, Person
from tests.support.driver import Driver


async def foreign_records(driver: Driver, other: Person) -> dict[str, int]:
    """A tugas, a session with an izin request and a FAQ proposal, all of `other`'s mentor's group."""
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
        session.add(leave)
        await session.flush()
        return {"mentor_id": other.mentor_id, "assignment_id": tugas.id, "entry_id": faq.id, "request_id": leave.id}
