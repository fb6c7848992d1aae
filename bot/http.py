"""The HTTP server: Twilio webhooks, Telegram webhook, media links and a health check."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from twilio.request_validator import RequestValidator

from bot import telegram as tg
from bot import whatsapp as wa
from bot.delivery import UNREACHABLE_CODES
from bot.media import MediaStore
from handlers.kernel.config import Config
from handlers.kernel.messages import Inbound
from handlers.kernel.outbox import message_of, store_message
from handlers.kernel.reachability import mark_unreachable
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

Ingest = Callable[[Inbound], Awaitable[bool]]
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class WebApp:
    """Builds the Starlette app from what is configured; every route answers fast."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], config: Config, ingest: Ingest,
                 after_ingest: Callable[[], None], media: MediaStore, public_base_url: str,
                 twilio_validator: RequestValidator | None = None, telegram_bot: Bot | None = None,
                 telegram_secret: str | None = None, after_status: Callable[[], None] | None = None) -> None:
        self.sessions, self.config, self.ingest, self.after_ingest = sessions, config, ingest, after_ingest
        self.after_status = after_status or after_ingest
        self.media, self.public_base_url = media, public_base_url.rstrip("/")
        self.validator, self.bot, self.telegram_secret = twilio_validator, telegram_bot, telegram_secret

    def build(self) -> Starlette:
        """The ASGI app."""
        routes = [Route("/healthz", self.health), Route("/media/{token}", self.serve_media)]
        if self.validator is not None:
            routes += [Route("/twilio/whatsapp", self.whatsapp_inbound, methods=["POST"]),
                       Route("/twilio/status", self.whatsapp_status, methods=["POST"])]
        if self.bot is not None and self.telegram_secret:
            routes.append(Route("/telegram/webhook", self.telegram_webhook, methods=["POST"]))
        return Starlette(routes=routes)

    async def health(self, request: Request) -> Response:
        """200 when the database answers."""
        try:
            async with self.sessions() as session:
                await session.execute(text("select 1"))
        except Exception:
            log.exception("health check failed")
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def _signed_form(self, request: Request) -> dict[str, str] | None:
        # keep_blank_values: a media message has an empty Body, and the signature covers it.
        body = (await request.body()).decode()
        form = dict(parse_qsl(body, keep_blank_values=True))
        url = self.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        assert self.validator is not None
        if not wa.is_signed(self.validator, url, form, request.headers.get("X-Twilio-Signature")):
            log.warning("rejected a Twilio webhook with a bad signature")
            return None
        return form

    async def whatsapp_inbound(self, request: Request) -> Response:
        """Store the message, then answer Twilio at once (replies go out through the REST API)."""
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid signature", status_code=403)
        if not form.get("MessageSid") or not form.get("From"):
            return PlainTextResponse("missing MessageSid or From", status_code=400)
        if await self.ingest(wa.to_inbound(form, datetime.now(UTC))):
            self.after_ingest()
        return Response(EMPTY_TWIML, media_type="application/xml")

    async def whatsapp_status(self, request: Request) -> Response:
        """Delivery callbacks: record the status; act on undeliverable and outside-window errors."""
        form = await self._signed_form(request)
        if form is None:
            return PlainTextResponse("invalid signature", status_code=403)
        await self.record_status(form.get("MessageSid", ""), form.get("MessageStatus", ""),
                                 form.get("ErrorCode") or "")
        self.after_status()  # a message to resend (63016) or to the other channel is due now
        return PlainTextResponse("ok")

    async def record_status(self, sid: str, status: str, code: str) -> None:
        """Update the outbox row the callback is about."""
        now = datetime.now(UTC)
        async with self.sessions.begin() as session:
            query = select(OutboxMessage).where(OutboxMessage.channel == "whatsapp", OutboxMessage.external_id == sid)
            row = (await session.execute(query)).scalars().first()
            if row is None:
                return
            row.delivery_status = status
            if status not in ("failed", "undelivered"):
                return
            row.error = f"twilio {code}: {status}"
            if code == str(wa.OUTSIDE_WINDOW):
                row.status, row.next_attempt_at = OutboxStatus.PENDING, now
                store_message(row, replace(message_of(row), window_closed_at=now))
            elif code in UNREACHABLE_CODES or status == "undelivered":
                row.status = OutboxStatus.FAILED
                await mark_unreachable(session, row, f"{status} ({code or 'tanpa kode'})", now, self.config)

    async def telegram_webhook(self, request: Request) -> Response:
        """Telegram's webhook: check the secret token header, store the update, then answer 200."""
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self.telegram_secret:
            return PlainTextResponse("forbidden", status_code=403)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except Exception:
            return PlainTextResponse("bad update", status_code=400)
        await tg.ingest_updates([update], self.ingest)
        self.after_ingest()
        assert self.bot is not None
        await tg.answer_callbacks(self.bot, [update])
        return PlainTextResponse("ok")

    async def serve_media(self, request: Request) -> Response:
        """A file behind an unguessable, expiring token (WhatsApp fetches media by URL)."""
        try:
            found = await self.media.serve(request.path_params["token"], datetime.now(UTC))
        except Exception:
            log.exception("media fetch failed")
            found = None
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(found.content, media_type=found.mime or "application/octet-stream",
                        headers={"Content-Disposition": f'inline; filename="{found.filename}"'})
