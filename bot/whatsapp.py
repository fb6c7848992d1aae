"""WhatsApp through Twilio: webhook forms become Inbound; outbox rows become Messages API calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aiohttp import ClientError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.delivery import Held, PermanentError, TransientError
from bot.media import MediaStore
from bot.twilio_http import RedirectingAsyncTwilioHttpClient
from handlers.kernel.messages import Address, Attachment, Channel, Inbound, OutgoingPart
from handlers.kernel.outbox import message_of
from storage.models import OutboxMessage, OutboxStatus, Person

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=5)
OUTSIDE_WINDOW = 63016


def make_client(account_sid: str, auth_token: str, api_base_url: str | None) -> Client:
    """A Twilio client on the async HTTP client (optionally aimed at a local mock)."""
    http_client = (RedirectingAsyncTwilioHttpClient(api_base_url) if api_base_url
                   else AsyncTwilioHttpClient())
    return Client(account_sid, auth_token, http_client=http_client)


def is_signed(validator: RequestValidator, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the URL Twilio called and the form it sent."""
    return bool(signature) and bool(validator.validate(url, dict(form), signature))


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


def classify(error: TwilioRestException) -> TransientError | PermanentError:
    """429 and 5xx are worth retrying; other errors are final, with Twilio's code kept."""
    if error.status == 429 or error.status >= 500:
        return TransientError(f"twilio {error.status}: {error.msg}")
    return PermanentError(f"twilio {error.code}: {error.msg}", code=str(error.code))


class WhatsAppSender:
    """Sends rows through Twilio; outside the 24-hour window it sends an approved template instead."""

    def __init__(self, client: Client, sessions: async_sessionmaker[AsyncSession], *, sender: str,
                 status_callback: str | None, templates: Mapping[str, str], media: MediaStore) -> None:
        self.client, self.sessions, self.sender = client, sessions, sender
        self.status_callback, self.templates, self.media = status_callback, templates, media

    async def send(self, row: OutboxMessage) -> str | None:
        """Free text inside the window; a template (own or the 'held' notice) outside it."""
        now = datetime.now(UTC)
        message = message_of(row)
        person = await self._person(row.recipient_id)
        if person is not None and needs_template(person, message, now):
            return await self._send_outside_window(row, person)
        media_urls = [await self.media.public_url(a, now) for a in message.attachments]
        try:
            return await self._create(row.address, body=message.text, media_url=media_urls or None)
        except PermanentError as error:
            if person is not None and error.code == str(OUTSIDE_WINDOW):
                return await self._send_outside_window(row, person)
            raise

    async def _person(self, person_id: int | None) -> Person | None:
        if person_id is None:
            return None  # a reply to an unknown number answers their own message
        async with self.sessions() as session:
            return await session.get(Person, person_id)

    async def _send_outside_window(self, row: OutboxMessage, person: Person) -> str:
        message = message_of(row)
        own = message.template
        if own and own in self.templates:
            return await self._create(row.address, content_sid=self.templates[own],
                                      content_variables=json.dumps(dict(message.template_vars)))
        if await self._notice_pending(person.id):
            raise Held("a template notice already went out; waiting for the person to reply")
        template = self.templates.get("held")
        if template is None:
            raise Held("no 'held' template configured; delivered when the person writes again")
        first_name = person.name.split()[0] if person.name else ""
        sid = await self._create(row.address, content_sid=template,
                                 content_variables=json.dumps({"1": first_name}))
        raise Held("outside the 24-hour window: template notice sent", external_id=sid)

    async def _notice_pending(self, person_id: int) -> bool:
        async with self.sessions() as session:
            query = select(OutboxMessage.id).where(
                OutboxMessage.recipient_id == person_id, OutboxMessage.channel == Channel.WHATSAPP.value,
                OutboxMessage.status == OutboxStatus.HELD, OutboxMessage.external_id.is_not(None)).limit(1)
            return (await session.execute(query)).first() is not None

    async def _create(self, address: str, **fields: object) -> str:
        extra = {key: value for key, value in fields.items() if value is not None}
        if self.status_callback:
            extra["status_callback"] = self.status_callback
        try:
            message = await self.client.messages.create_async(
                from_=f"whatsapp:{self.sender}", to=f"whatsapp:{address}", **extra)
        except TwilioRestException as error:
            raise classify(error) from error
        except (ClientError, TimeoutError, OSError) as error:
            raise TransientError(f"twilio network: {error}") from error
        return str(message.sid)


def window_is_open(person: Person, now: datetime) -> bool:
    """WhatsApp allows free text only within 24 hours of the person's last message."""
    last = person.last_whatsapp_inbound_at
    return last is not None and now - last < WINDOW - WINDOW_MARGIN


def needs_template(person: Person, message: OutgoingPart, now: datetime) -> bool:
    """Outside the window, or Twilio refused free text (63016) and the person has not written since."""
    if not window_is_open(person, now):
        return True
    closed_at = message.window_closed_at
    last = person.last_whatsapp_inbound_at
    return closed_at is not None and last is not None and last <= closed_at
