"""The real WebApp (Starlette, every route and the Edge middleware) in process, on the test's database.

Requests go through httpx's ASGI transport, so the body arrives in the chunks the client sends; Twilio
forms are signed with twilio's own RequestValidator, Telegram updates carry the secret header.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from twilio.request_validator import RequestValidator

from bot.http import WebApp
from bot.inbox import ingest
from bot.media import MediaStore
from bot.whatsapp.webhooks import WhatsAppWebhooks
from handlers.kernel.config import Config
from handlers.kernel.messages import Inbound
from storage.models import (
    AuditEntry,
    ConversationState,
    InboxItem,
    Menu,
    OutboxMessage,
    Person,
    Ticket,
    TicketMessage,
    UnknownContact,
)
from tests.bot.fake_telegram import ScriptedRequest, scripted_bot

BASE_URL = "https://klinik.test"
AUTH_TOKEN = "b" * 32
ACCOUNT_SID = "AC" + "0" * 32
SECRET = "rahasia-" + "7" * 24
TABLES = (InboxItem, OutboxMessage, Person, UnknownContact, AuditEntry, Ticket, TicketMessage, ConversationState,
          Menu)


def new_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def whatsapp_form(phone: str, body: str = "", **extra: str) -> dict[str, str]:
    """The form Twilio posts for an inbound WhatsApp message."""
    sid = new_sid()
    return {"SmsMessageSid": sid, "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{phone}", "To": "whatsapp:+14155238886", "Body": body, "NumMedia": "0",
            "NumSegments": "1", "ProfileName": "", "WaId": phone.lstrip("+"), "SmsStatus": "received",
            "ApiVersion": "2010-04-01"} | extra


def telegram_update(update_id: int, chat_id: int, text: str = "Halo") -> dict[str, Any]:
    """A private-chat text message update as Telegram posts it."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Tono"}
    return {"update_id": update_id, "message": {"message_id": 1, "date": 1_700_000_000, "from": user,
                                                "chat": {"id": chat_id, "type": "private", "first_name": "Tono"},
                                                "text": text}}


@dataclass
class Web:
    """One WebApp and a client for it."""

    sessions: async_sessionmaker[AsyncSession]
    config: Config
    max_body_bytes: int = 64 * 1024
    ingested: list[Inbound] = field(default_factory=list)
    failure: Exception | None = None  # raised by ingest instead of storing, when set
    bot: Bot = field(init=False)
    bot_requests: ScriptedRequest = field(init=False)
    app: WebApp = field(init=False)

    def __post_init__(self) -> None:
        self.bot, self.bot_requests = scripted_bot()
        self.media = MediaStore(self.sessions)
        webhooks = WhatsAppWebhooks(validator=RequestValidator(AUTH_TOKEN), public_base_url=BASE_URL,
                                    sessions=self.sessions, config=self.config, ingest=self.ingest,
                                    after_ingest=lambda: None, after_status=lambda: None)
        self.app = WebApp(sessions=self.sessions, ingest=self.ingest, after_ingest=lambda: None, media=self.media,
                          whatsapp=webhooks, telegram_bot=self.bot, telegram_secret=SECRET,
                          max_body_bytes=self.max_body_bytes)
        self.asgi = self.app.build()

    async def ingest(self, inbound: Inbound) -> bool:
        if self.failure is not None:
            raise self.failure
        self.ingested.append(inbound)
        return await ingest(self.sessions, inbound, datetime.now(UTC))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi), base_url=BASE_URL, timeout=10)

    async def post(self, path: str, **content: Any) -> httpx.Response:
        async with self.client() as client:
            return await client.post(path, **content)

    async def get(self, path: str) -> httpx.Response:
        async with self.client() as client:
            return await client.get(path)

    @staticmethod
    def signature(path: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
        return str(RequestValidator(token).compute_signature(BASE_URL + path, form))

    async def signed(self, path: str, form: dict[str, str]) -> httpx.Response:
        """POST a form as Twilio does, signed with the account's auth token."""
        return await self.post(path, data=form, headers={"X-Twilio-Signature": self.signature(path, form)})

    async def update(self, update: Any, secret: str | bytes | None = SECRET) -> httpx.Response:
        """POST a Telegram update (any JSON value) with the webhook secret."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.post("/telegram/webhook", json=update, headers=headers)

    async def counts(self) -> dict[str, int]:
        async with self.sessions() as session:
            return {model.__tablename__: int((await session.execute(
                select(func.count()).select_from(model))).scalar_one()) for model in TABLES}


async def chunks(total: int, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    """A streamed body of ``total`` bytes; ``sent`` counts what the server pulled."""
    while sum(sent) < total:
        sent.append(size)
        yield b"a" * size
