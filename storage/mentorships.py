"""Who mentored whom, and when: one dated period per participant and mentor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class Mentorship(Base):
    """A participant's mentor from started_at until ended_at (open while it lasts)."""

    __tablename__ = "mentorships"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
