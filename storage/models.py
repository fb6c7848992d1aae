"""Every model, imported in one place so metadata and migrations see them all."""

from storage.base import Base
from storage.messaging import (
    ConversationState,
    InboxItem,
    MediaLink,
    Menu,
    OutboxMessage,
    OutboxStatus,
)
from storage.people import AuditEntry, Person, Role, UnknownContact
from storage.tickets import Ticket, TicketMessage, TicketStatus

__all__ = [
    "AuditEntry",
    "Base",
    "ConversationState",
    "InboxItem",
    "MediaLink",
    "Menu",
    "OutboxMessage",
    "OutboxStatus",
    "Person",
    "Role",
    "Ticket",
    "TicketMessage",
    "TicketStatus",
    "UnknownContact",
]
