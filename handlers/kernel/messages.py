"""The channel boundary: one inbound and one outgoing message type for every channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Where a message travels."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class Address:
    """A chat on one channel: a Telegram chat id or a WhatsApp E.164 number."""

    channel: Channel
    id: str


@dataclass(frozen=True)
class Button:
    """An option: an inline button on Telegram, a numbered reply on WhatsApp."""

    label: str
    payload: str

    def to_json(self) -> dict[str, str]:
        """Plain form for JSON columns."""
        return {"label": self.label, "payload": self.payload}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Button:
        """Inverse of to_json."""
        return cls(label=str(data["label"]), payload=str(data["payload"]))


@dataclass(frozen=True)
class Attachment:
    """Media as the channel gave it: Telegram file_id or Twilio media URL, plus metadata."""

    kind: str
    ref: str
    channel: Channel
    mime: str = ""
    name: str = ""
    size: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain form for JSON columns."""
        return {"kind": self.kind, "ref": self.ref, "channel": self.channel.value,
                "mime": self.mime, "name": self.name, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        """Inverse of to_json."""
        return cls(kind=data["kind"], ref=data["ref"], channel=Channel(data["channel"]),
                   mime=data.get("mime", ""), name=data.get("name", ""), size=data.get("size"))


@dataclass(frozen=True)
class Inbound:
    """Anything a person sent: text, a button press, media, a shared contact."""

    address: Address
    external_id: str
    received_at: datetime
    sender_id: str = ""
    sender_name: str = ""
    text: str = ""
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    contact_phone: str | None = None
    contact_user_id: str | None = None
    reply_to_external_id: str | None = None
    unsupported: str | None = None
    is_private: bool = True  # False in a Telegram group or channel: the bot serves people in private chats only

    def to_json(self) -> dict[str, Any]:
        """Plain form for the inbox table."""
        return {
            "channel": self.address.channel.value, "address": self.address.id,
            "external_id": self.external_id, "received_at": self.received_at.isoformat(),
            "sender_id": self.sender_id, "sender_name": self.sender_name, "text": self.text,
            "payload": self.payload, "attachments": [a.to_json() for a in self.attachments],
            "contact_phone": self.contact_phone, "contact_user_id": self.contact_user_id,
            "reply_to_external_id": self.reply_to_external_id, "unsupported": self.unsupported,
            "is_private": self.is_private,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inbound:
        """Inverse of to_json."""
        return cls(
            address=Address(Channel(data["channel"]), data["address"]),
            external_id=data["external_id"],
            received_at=datetime.fromisoformat(data["received_at"]),
            sender_id=data.get("sender_id", ""), sender_name=data.get("sender_name", ""),
            text=data.get("text", ""), payload=data.get("payload"),
            attachments=tuple(Attachment.from_json(a) for a in data.get("attachments", [])),
            contact_phone=data.get("contact_phone"), contact_user_id=data.get("contact_user_id"),
            reply_to_external_id=data.get("reply_to_external_id"),
            unsupported=data.get("unsupported"), is_private=data.get("is_private", True) is not False,
        )


@dataclass(frozen=True)
class Outgoing:
    """A message the bot owes someone, to a person (routed to their channel) or an address."""

    text: str
    person_id: int | None = None
    to: Address | None = None
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    request_contact: bool = False
    template: str | None = None
    template_vars: dict[str, str] = field(default_factory=dict)
    ref: str | None = None
    keeps_options: bool = False  # a WhatsApp hint about the options shown leaves them standing


@dataclass(frozen=True)
class OutgoingPart:
    """One outbox row: a part of an Outgoing's text; the last part carries its options, media and template."""

    text: str
    part: int = 1
    parts: int = 1
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    request_contact: bool = False
    template: str | None = None
    template_vars: Mapping[str, str] = field(default_factory=dict)
    window_closed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain form for the outbox table."""
        data: dict[str, Any] = {
            "text": self.text, "part": self.part, "parts": self.parts,
            "buttons": [b.to_json() for b in self.buttons],
            "attachments": [a.to_json() for a in self.attachments],
            "request_contact": self.request_contact,
            "template": self.template, "template_vars": dict(self.template_vars),
        }
        if self.window_closed_at is not None:
            data["window_closed_at"] = self.window_closed_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutgoingPart:
        """Inverse of to_json; also reads rows written before this type (keys missing on earlier parts)."""
        closed_at = data.get("window_closed_at")
        return cls(
            text=str(data.get("text") or ""), part=int(data.get("part") or 1),
            parts=int(data.get("parts") or 1),
            buttons=tuple(Button.from_json(b) for b in data.get("buttons") or []),
            attachments=tuple(Attachment.from_json(a) for a in data.get("attachments") or []),
            request_contact=bool(data.get("request_contact")), template=data.get("template") or None,
            template_vars={str(k): str(v) for k, v in (data.get("template_vars") or {}).items()},
            window_closed_at=datetime.fromisoformat(closed_at) if isinstance(closed_at, str) else None,
        )
