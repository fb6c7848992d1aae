"""Twilio's inbound webhook: check the signature, check every field, turn the form into an Inbound."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from twilio.request_validator import RequestValidator

from bot.limits import MAX_ATTACHMENTS, MEDIA_MIME, MEDIA_REF, Rejected, fit_inbound, parse_form
from handlers.kernel.messages import Address, Attachment, Channel, Inbound

SID = re.compile(r"[A-Za-z0-9]{2,80}")  # Twilio SIDs: two letters and 32 hex digits
COUNT = re.compile(r"[0-9]{1,2}")
STATUS = re.compile(r"[a-z_-]{1,20}")  # outbox.delivery_status is VARCHAR(20)
ERROR_CODE = re.compile(r"[0-9]{0,10}")


def is_signed(validator: RequestValidator, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the URL Twilio called and the form it sent."""
    return bool(signature) and bool(validator.validate(url, dict(form), signature))


def signed_form(validator: RequestValidator, url: str, body: bytes, signature: str | None) -> dict[str, str] | None:
    """The posted form when Twilio signed it, else None; Rejected (400) when it is not a form at all."""
    # keep_blank_values: a media message has an empty Body, and the signature covers it.
    form = parse_form(body)
    return form if is_signed(validator, url, form, signature) else None


def status_fields(form: Mapping[str, str]) -> tuple[str, str, str]:
    """MessageSid, MessageStatus and ErrorCode of a status callback, each of its stored shape."""
    sid, status, code = form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode") or ""
    if not SID.fullmatch(sid):
        raise Rejected("bad field: MessageSid")
    if not STATUS.fullmatch(status):
        raise Rejected("bad field: MessageStatus")
    if not ERROR_CODE.fullmatch(code):
        raise Rejected("bad field: ErrorCode")
    return sid, status, code


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
    """Translate an inbound webhook form (an empty Body with media is normal); Rejected when a field is bad."""
    sid = form.get("MessageSid", "")
    if not SID.fullmatch(sid):
        raise Rejected("bad field: MessageSid")
    phone = form.get("From", "").removeprefix("whatsapp:")
    attachments = []
    unsupported = None
    for index in range(media_count(form)):
        mime, url = form.get(f"MediaContentType{index}", ""), form.get(f"MediaUrl{index}", "")
        if not url.startswith(("https://", "http://")) or len(url) > MEDIA_REF or len(mime) > MEDIA_MIME:
            raise Rejected(f"bad field: MediaUrl{index} or MediaContentType{index}")
        if mime == "image/webp":
            unsupported = "stiker"
            continue
        attachments.append(Attachment(media_kind(mime), url, Channel.WHATSAPP, mime))
    if form.get("Latitude"):
        unsupported = "lokasi"
    return fit_inbound(Inbound(
        address=Address(Channel.WHATSAPP, phone), external_id=sid,
        received_at=received_at, sender_id=phone, sender_name=form.get("ProfileName", ""),
        text=form.get("Body", ""), payload=form.get("ButtonPayload") or None,
        attachments=tuple(attachments), reply_to_external_id=form.get("OriginalRepliedMessageSid") or None,
        unsupported=unsupported if not attachments and not form.get("Body") else None,
    ))


def media_count(form: Mapping[str, str]) -> int:
    """NumMedia as a small whole number ("abc", "2.5", "∞" and "200000" are refused)."""
    count = form.get("NumMedia") or "0"
    if not COUNT.fullmatch(count) or int(count) > MAX_ATTACHMENTS:
        raise Rejected("bad field: NumMedia")
    return int(count)
