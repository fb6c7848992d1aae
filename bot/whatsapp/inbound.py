"""Twilio's inbound webhook: check the signature, turn the form into an Inbound."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from handlers.kernel.messages import Address, Attachment, Channel, Inbound


def is_signed(validator: RequestValidator, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the URL Twilio called and the form it sent."""
    return bool(signature) and bool(validator.validate(url, dict(form), signature))


def signed_form(validator: RequestValidator, url: str, body: bytes, signature: str | None) -> dict[str, str] | None:
    """The posted form when Twilio signed it, else None."""
    # keep_blank_values: a media message has an empty Body, and the signature covers it.
    form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return form if is_signed(validator, url, form, signature) else None


def media_kind(mime: str) -> str:
    """Attachment kind for a MIME type."""
    if mime.startswith("image/"):
        return "photo"
    if mime.startswith("audio/"):
        return "voice"
    if mime.startswith("video/"):
        return "video"
    return "document"


def to_inbound(form: Mapping[str, str], received_at: datetime) -> Inbound:
    """Translate an inbound webhook form (an empty Body with media is normal)."""
    phone = form.get("From", "").removeprefix("whatsapp:")
    count = int(form.get("NumMedia") or 0)
    attachments = []
    unsupported = None
    for index in range(count):
        mime = form.get(f"MediaContentType{index}", "")
        if mime == "image/webp":
            unsupported = "stiker"
            continue
        attachments.append(Attachment(media_kind(mime), form.get(f"MediaUrl{index}", ""), Channel.WHATSAPP, mime))
    if form.get("Latitude"):
        unsupported = "lokasi"
    return Inbound(
        address=Address(Channel.WHATSAPP, phone), external_id=form.get("MessageSid", ""),
        received_at=received_at, sender_id=phone, sender_name=form.get("ProfileName", ""),
        text=form.get("Body", ""), payload=form.get("ButtonPayload") or None,
        attachments=tuple(attachments), reply_to_external_id=form.get("OriginalRepliedMessageSid") or None,
        unsupported=unsupported if not attachments and not form.get("Body") else None,
    )
