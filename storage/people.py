"""People in a programme: participants, mentors, experts and coordinators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class Role(StrEnum):
    """Roles as the programme names them."""

    PESERTA = "peserta"
    PENDAMPING = "pendamping"
    NARASUMBER = "narasumber"
    KOORDINATOR = "koordinator"


class Person(Base):
    """Someone on the roster, reachable on Telegram, WhatsApp or both."""

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_role_name", "role", "name"),)  # lists by name (the console's, one page at a time)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    backup_mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    cohort: Mapped[str] = mapped_column(String(100), default="")
    business_name: Mapped[str] = mapped_column(String(200), default="")
    sector: Mapped[str] = mapped_column(String(100), default="")
    district: Mapped[str] = mapped_column(String(100), default="")
    topics: Mapped[str] = mapped_column(String(500), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(5), default="id")
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    telegram_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32))
    consent_given: Mapped[bool | None] = mapped_column(default=None)
    consent_at: Mapped[datetime | None]
    # Which consent text was agreed to (handlers/kernel/consent.py) and on which channel; history in consent_records.
    consent_version: Mapped[str | None] = mapped_column(String(40))
    consent_channel: Mapped[str | None] = mapped_column(String(16))
    last_inbound_at: Mapped[datetime | None]
    last_whatsapp_inbound_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[datetime | None]  # left the programme: treated as an unknown number, history kept
    erased_at: Mapped[datetime | None]  # personal fields and message texts removed on request (UU PDP)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def topic_list(self) -> list[str]:
        """Fields of expertise of a mentor or expert, lower-cased."""
        return [t.strip().lower() for t in self.topics.split(";") if t.strip()]


class UnknownContact(Base):
    """A number that wrote to the bot but is not on the roster, kept for the coordinator."""

    __tablename__ = "unknown_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    last_text: Mapped[str] = mapped_column(String(500), default="")
    message_count: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class ConsentRecord(Base):
    """One consent decision: agreed, declined or withdrawn, to which text version, on which channel."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    at: Mapped[datetime]
    given: Mapped[bool]
    action: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(40), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")


class AuditEntry(Base):
    """Who changed what and when: consent, corrections, reassignments."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
