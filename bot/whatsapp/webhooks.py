"""Twilio's two webhooks as Starlette endpoints: inbound messages and delivery status callbacks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from bot.limits import Rejected, reject
from bot.whatsapp.inbound import signed_form, status_fields, to_inbound
from bot.whatsapp.status import record_status
from handlers.kernel.config import Config
from handlers.kernel.messages import Inbound

log = logging.getLogger(__name__)

Ingest = Callable[[Inbound], Awaitable[bool]]
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class WhatsAppWebhooks:
    """Answers Twilio at once: inbound messages go to the inbox, status callbacks to the outbox."""

    def __init__(self, *, validator: RequestValidator, public_base_url: str,
                 sessions: async_sessionmaker[AsyncSession], config: Config, ingest: Ingest,
                 after_ingest: Callable[[], None], after_status: Callable[[], None]) -> None:
        self.validator, self.public_base_url = validator, public_base_url.rstrip("/")
        self.sessions, self.config, self.ingest = sessions, config, ingest
        self.after_ingest, self.after_status = after_ingest, after_status

    async def _signed_form(self, request: Request) -> dict[str, str] | None:
        url = self.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        form = signed_form(self.validator, url, await request.body(), request.headers.get("X-Twilio-Signature"))
        if form is None:
            log.warning("rejected a Twilio webhook with a bad signature")
        return form

    async def inbound(self, request: Request) -> Response:
        """Store the message, then answer Twilio at once (replies go out through the REST API)."""
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            inbound = to_inbound(form, datetime.now(UTC))
        except Rejected as error:  # signed, but a field cannot be stored as it is: refused, never a 500
            return reject("signed WhatsApp message", error)
        if await self.ingest(inbound):
            self.after_ingest()
        return Response(EMPTY_TWIML, media_type="application/xml")

    async def status(self, request: Request) -> Response:
        """Delivery callbacks: record the status; act on undeliverable and outside-window errors."""
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            sid, status, code = status_fields(form)
        except Rejected as error:
            return reject("signed status callback", error)
        async with self.sessions.begin() as session:
            await record_status(session, sid, status, code, datetime.now(UTC), self.config)
        self.after_status()  # a message to resend (63016) or to the other channel is due now
        return PlainTextResponse("ok")
