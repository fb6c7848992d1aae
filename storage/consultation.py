"""Consultation desk records: FAQ from real answers, ratings, deadline steps, absences, escalations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class FaqStatus(StrEnum):
    """Where a proposed FAQ entry stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class FaqEntry(Base):
    """A mentor's answer marked reusable; offered to others once a coordinator approves it."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(50), default="lainnya")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=FaqStatus.PENDING, index=True)
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_messages.id"), unique=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    proposed_at: Mapped[datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[datetime | None]
    times_offered: Mapped[int] = mapped_column(default=0)
    times_helpful: Mapped[int] = mapped_column(default=0)


class TicketRating(Base):
    """The participant's 1–5 rating of a closed ticket, with an optional comment."""

    __tablename__ = "ticket_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(index=True)


class TicketSlaStep(Base):
    """A deadline step taken for a ticket; the unique key makes each step happen once."""

    __tablename__ = "ticket_sla_steps"
    __table_args__ = (UniqueConstraint("ticket_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    step: Mapped[str] = mapped_column(String(16))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class MentorAbsence(Base):
    """A mentor away for a date range (inclusive, programme time zone) with a backup."""

    __tablename__ = "mentor_absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    backup_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    move_open: Mapped[bool] = mapped_column(default=False)
    moved_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class TicketEscalation(Base):
    """A ticket handed by its mentor to a narasumber, with the mentor's note."""

    __tablename__ = "ticket_escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
