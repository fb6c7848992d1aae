"""Broadcasts (siaran): an announcement to a group of participants, its schedule and what was skipped.

Each recipient's message is an ordinary outbox row whose `ref` is `bc:<id>` (indexed), so the
delivery report counts the outbox itself: nothing is copied, nothing can disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class BroadcastStatus(StrEnum):
    """Where a broadcast is in its life."""

    SCHEDULED = "scheduled"  # waits for send_at (or for quiet hours to end)
    SENDING = "sending"  # its outbox rows are written; the report goes when none is pending
    DONE = "done"  # every row settled and the report went to the sender
    CANCELLED = "cancelled"


class Broadcast(Base):
    """One announcement: who it is for (scope), what it says, when it goes, and the recipients skipped."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)  # None: from the CLI
    scope: Mapped[str] = mapped_column(String(20))  # all, cohort, agency, district, at_risk
    scope_value: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # Attachment.to_json() each
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.SCHEDULED)
    source: Mapped[str] = mapped_column(String(8), default="chat")
    created_at: Mapped[datetime]
    send_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]  # outbox rows written
    finished_at: Mapped[datetime | None]  # every row settled (report sent to a chat sender)
    cancelled_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(default=0)  # people whose messages were queued
    skipped: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reason -> how many
