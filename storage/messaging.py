"""Durable inbox, transactional outbox, conversation state and WhatsApp menus."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class InboxItem(Base):
    """An inbound update, stored before it is acknowledged; the unique key dedupes repeats."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "external_id"),
                      Index("ix_inbox_sender", "sender", "processed_at"))  # the oldest pending item of one sender

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # failed tries so far
    next_attempt_at: Mapped[datetime | None]  # after a failed try: not before this
    failed_at: Mapped[datetime | None]  # set aside after repeated failures (klinik inbox failed)
    # The partition key: one sender's items are handled one at a time, in id order ("whatsapp:+62…").
    sender: Mapped[str | None] = mapped_column(String(100))


class OutboxStatus(StrEnum):
    """Delivery state of a message the bot owes someone."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"


class OutboxMessage(Base):
    """A message the bot owes someone; written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_external", "channel", "address", "external_id"),
        Index("ix_outbox_ref", "ref"),  # a broadcast's rows (bc:<id>) for its delivery report
        # what is still to send, for the delivery claim (migration 0032_outbox_pending)
        Index("ix_outbox_pending", "channel", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_pending_chat", "channel", "address", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    payload: Mapped[dict[str, Any]]
    ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(80))
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # the process sending it now
    claimed_at: Mapped[datetime | None]
    parts_sent: Mapped[int] = mapped_column(default=0, server_default="0")  # text and attachments already delivered


class ConversationState(Base):
    """Which form or reply a person is in the middle of; kept per person, not per channel."""

    __tablename__ = "conversation_states"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class ParkedFlow(Base):
    """A form or draft a person left for something else; kept until resumed, sent or dropped."""

    __tablename__ = "parked_flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    flow: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parked_at: Mapped[datetime]
    offered_at: Mapped[datetime | None] = mapped_column(default=None)  # told once that it waits


class Menu(Base):
    """The numbered options last shown to a WhatsApp address, so "2" can mean a button."""

    __tablename__ = "menus"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    payloads: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class MediaLink(Base):
    """An unguessable, expiring token under which the bot serves a file (WhatsApp needs a URL)."""

    __tablename__ = "media_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(1000))
    mime: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
