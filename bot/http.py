"""The HTTP server: Twilio webhooks, Telegram webhook, media links and a health check."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.console import Console
from bot.console.web import UPLOAD_MAX_BYTES
from bot.limits import (
    MAX_BODY_BYTES,
    Edge,
    Rejected,
    fit_inbound,
    parse_json_object,
    reject,
    secret_matches,
)
from bot.media import MediaStore, media_headers
from bot.whatsapp.webhooks import WhatsAppWebhooks
from handlers.kernel.messages import Inbound

if TYPE_CHECKING:  # python-telegram-bot loads only with Telegram configured (its webhook imports it)
    from telegram import Bot

log = logging.getLogger(__name__)

Ingest = Callable[[Inbound], Awaitable[bool]]
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")  # media_links.token


class WebApp:
    """Builds the Starlette app from what is configured; every route answers fast."""

    # (healthy, report): the database and every background loop; set by the app (else: the database only)
    check_health: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], ingest: Ingest,
                 after_ingest: Callable[[], None], media: MediaStore,
                 whatsapp: WhatsAppWebhooks | None = None, telegram_bot: Bot | None = None,
                 telegram_secret: str | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 console: Console | None = None) -> None:
        self.sessions, self.ingest, self.after_ingest = sessions, ingest, after_ingest
        self.console = console
        if console is not None:
            console.pages.media = media  # the console serves ticket, tugas and izin files to signed-in staff
        self.media, self.whatsapp = media, whatsapp
        self.bot, self.telegram_secret = telegram_bot, telegram_secret
        self.max_body_bytes = max_body_bytes

    def build(self) -> Starlette:
        """The ASGI app."""
        routes = [Route("/healthz", self.health), Route("/media/{token}", self.serve_media)]
        if self.whatsapp is not None:
            routes += [Route("/twilio/whatsapp", self.whatsapp.inbound, methods=["POST"]),
                       Route("/twilio/status", self.whatsapp.status, methods=["POST"])]
        if self.bot is not None and self.telegram_secret:
            routes.append(Route("/telegram/webhook", self.telegram_webhook, methods=["POST"]))
        larger: dict[str, int] = {}
        if self.console is not None:
            routes += self.console.routes()
            larger["/console/roster"] = max(UPLOAD_MAX_BYTES, self.max_body_bytes)  # a roster file
        return Starlette(routes=routes, middleware=[Middleware(Edge, max_body_bytes=self.max_body_bytes,
                                                               larger=larger)])

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
        from telegram import Update  # loaded already: the bot this route needs made it

        from bot import telegram as tg
        assert self.bot is not None
        assert self.telegram_secret is not None
        if not secret_matches(request.headers.get("X-Telegram-Bot-Api-Secret-Token"), self.telegram_secret):
            return PlainTextResponse("forbidden", status_code=403)
        data = parse_json_object(await request.body())
        update_id = data.get("update_id")
        if type(update_id) is not int or not 0 <= update_id < 2**63:
            raise Rejected("bad field: update_id")
        try:
            update = Update.de_json(data, self.bot)
            inbounds = tg.group_albums([update], datetime.now(UTC))
        except Exception as error:  # PTB trusts Telegram's shapes: anything else fails somewhere inside
            raise Rejected(f"bad update: {type(error).__name__}") from None
        try:
            inbounds = [fit_inbound(inbound) for inbound in inbounds]
        except Rejected as error:
            reject("Telegram update", error)
            return PlainTextResponse("ok")  # Telegram would resend it forever; it is logged and counted
        for inbound in inbounds:
            await self.ingest(inbound)
        if inbounds:
            self.after_ingest()
        await tg.answer_callbacks(self.bot, [update])
        return PlainTextResponse("ok")

    async def serve_media(self, request: Request) -> Response:
        """A file behind an unguessable, expiring token (WhatsApp fetches media by URL)."""
        token = request.path_params["token"]
        if not TOKEN.fullmatch(token):
            return PlainTextResponse("not found", status_code=404)
        try:
            found = await self.media.serve(token, datetime.now(UTC))
        except (OperationalError, InterfaceError):
            raise  # the database is down: 503, and Twilio tries again
        except Exception:
            log.exception("media fetch failed")
            found = None
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        media_type, headers = media_headers(found.mime, found.filename)
        return Response(found.content, media_type=media_type, headers=headers)
