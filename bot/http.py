"""The HTTP server: Twilio webhooks, Telegram webhook, media links and a health check."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from bot import telegram as tg
from bot.media import MediaStore
from bot.whatsapp.webhooks import WhatsAppWebhooks
from handlers.kernel.messages import Inbound

log = logging.getLogger(__name__)

Ingest = Callable[[Inbound], Awaitable[bool]]


class WebApp:
    """Builds the Starlette app from what is configured; every route answers fast."""

    # (healthy, report): the database and every background loop; set by the app (else: the database only)
    check_health: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], ingest: Ingest,
                 after_ingest: Callable[[], None], media: MediaStore,
                 whatsapp: WhatsAppWebhooks | None = None, telegram_bot: Bot | None = None,
                 telegram_secret: str | None = None) -> None:
        self.sessions, self.ingest, self.after_ingest = sessions, ingest, after_ingest
        self.media, self.whatsapp = media, whatsapp
        self.bot, self.telegram_secret = telegram_bot, telegram_secret

    def build(self) -> Starlette:
        """The ASGI app."""
        routes = [Route("/healthz", self.health), Route("/media/{token}", self.serve_media)]
        if self.whatsapp is not None:
            routes += [Route("/twilio/whatsapp", self.whatsapp.inbound, methods=["POST"]),
                       Route("/twilio/status", self.whatsapp.status, methods=["POST"])]
        if self.bot is not None and self.telegram_secret:
            routes.append(Route("/telegram/webhook", self.telegram_webhook, methods=["POST"]))
        return Starlette(routes=routes)

    async def health(self, request: Request) -> Response:
        """200 when the database answers and every loop completed a pass in time; else 503 saying which."""
        if self.check_health is not None:
            healthy, report = await self.check_health()
            return JSONResponse(report, status_code=200 if healthy else 503)
        try:
            async with self.sessions() as session:
                await session.execute(text("select 1"))
        except Exception:
            log.exception("health check failed")
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

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
