"""Records of another mentor's group for the role matrix: the ids the console's desk pages take in their paths."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from storage.models import (
    Assignment,
    FaqEntry,
    LeaveRequest,
    MediaLink,
    Meeting,
    MentorAbsence,
    Person,
    Role,
    Submission,
)
from tests.support.driver import Driver


async def foreign_records(driver: Driver, other: Person) -> dict[str, int]:
    """A tugas with a submission and its photo, a session with an izin request, a FAQ proposal and a leave,
    all of `other`'s mentor's group."""
    now = driver.clock.now
    photo = Path(tempfile.gettempdir()) / "klinik-foreign-photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
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
        token = f"foreign-{now.timestamp():.0f}-{other.id}"
        submission = Submission(assignment_id=tugas.id, participant_id=other.id, submitted_at=now,
                                attachments=[{"kind": "photo", "ref": f"media:{token}", "channel": "whatsapp",
                                              "mime": "image/png", "name": "foto.png", "size": None}])
        session.add_all([leave, away, submission, MediaLink(token=token, source="file", ref=str(photo),
                                                             mime="image/png", created_at=now,
                                                             expires_at=now + timedelta(days=1))])
        await session.flush()
        return {"kind": "tugas", "owner_id": submission.id, "index": 0,"mentor_id": other.mentor_id, "assignment_id": tugas.id, "entry_id": faq.id, "request_id": leave.id,
                "absence_id": away.id}
