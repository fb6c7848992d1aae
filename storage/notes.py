"""Mentors' notes on their participants (not on one ticket): private to staff, kept until the participant is erased."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class ParticipantNote(Base):
    """One note a mentor wrote about one of their participants (`catatan 0812… teks` or the console)."""

    __tablename__ = "participant_notes"
    __table_args__ = (Index("ix_participant_notes_participant", "participant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
