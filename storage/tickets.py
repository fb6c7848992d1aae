"""Consultation tickets: a participant's question and the thread that answers it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class TicketStatus(StrEnum):
    """Where a ticket stands."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Ticket(Base):
    """One question thread; its id is the short number people quote (#12)."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN, index=True)
    topic: Mapped[str] = mapped_column(String(50), default="lainnya")
    created_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    reassignments: Mapped[int] = mapped_column(default=0, server_default="0")
    escalations: Mapped[int] = mapped_column(default=0, server_default="0")
    rating_requested_at: Mapped[datetime | None]


class TicketMessage(Base):
    """A message in a ticket thread: question, answer, follow-up or private note."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
