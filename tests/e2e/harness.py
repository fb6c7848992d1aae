"""The real KlinikApp on loopback, wired to the Telegram emulator, Prism and a temp SQLite file.

One ``Klinik`` per test: its own bot token, database and HTTP port. The test drives the user
side (the emulator's client API for Telegram, signed webhooks for WhatsApp) and reads what the
bot sent (emulator queues for Telegram, the Twilio requests recorded by the HTTP client each app
is given, for WhatsApp).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator

from bot.app import KlinikApp
from bot.settings import Settings, load_settings
from storage.db import make_engine, make_sessionmaker
from storage.models import (
    AuditEntry,
    ConversationState,
    InboxItem,
    Menu,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Ticket,
    TicketMessage,
    UnknownContact,
)
from tests.support.peers import (
    PrismTwilio,
    RecordedRequest,
    RecordingTwilioHttpClient,
    TelegramEmulator,
    free_port,
)

T = TypeVar("T")

WHATSAPP_FROM = "+14155238886"
HELD_TEMPLATE = "HX" + "b1" * 16  # a Content SID: HX + 32 hex (Prism checks the shape)
WATCHED_TABLES = (Person, UnknownContact, AuditEntry, Ticket, TicketMessage, InboxItem, OutboxMessage,
                  ConversationState, Menu)


def new_sid(prefix: str = "SM") -> str:
    """A fresh Twilio-shaped SID (prefix + 32 hex)."""
    return prefix + uuid.uuid4().hex


async def eventually(check: Callable[[], Any], *, timeout: float = 5.0, what: str = "condition") -> Any:  # noqa: ASYNC109
    """Poll an async or plain ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class Klinik:
    """One test's bot: settings, database, the running app(s) and both user sides."""

    emulator: TelegramEmulator
    prism: PrismTwilio
    db_url: str
    token: str = field(default_factory=TelegramEmulator.new_token)
    port: int = field(default_factory=free_port)
    apps: list[KlinikApp] = field(default_factory=list)
    twilio_clients: list[RecordingTwilioHttpClient] = field(default_factory=list)
    running: KlinikApp | None = None
    _engine: AsyncEngine | None = None
    _consumed: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ set-up

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, **overrides: Any) -> Settings:
        """Settings aimed at the peers; ``telegram``/``twilio`` dicts are merged into the defaults."""
        telegram = {"token": self.token, "api_base_url": self.emulator.url,
                    "per_chat_interval_seconds": 0.0} | overrides.pop("telegram", {})
        twilio = {"account_sid": self.prism.account_sid, "auth_token": self.prism.auth_token,
                  "whatsapp_from": WHATSAPP_FROM, "api_base_url": self.prism.url,
                  "templates": {"held": HELD_TEMPLATE}} | overrides.pop("twilio", {})
        # _env_file=None: a developer's .env must not leak into the tests (KLINIK_* variables are
        # cleared by the fixture).
        return load_settings(_env_file=None, database_url=self.db_url, telegram=telegram, twilio=twilio,
                             public_base_url=self.base_url, http_host="127.0.0.1", http_port=self.port,
                             coordinator_contact="Dinas KUKM Kota Depok (021-000)", **overrides)

    def build(self, **overrides: Any) -> KlinikApp:
        """A KlinikApp on this test's peers and database, not started yet."""
        twilio_http = self.prism.http_client()
        app = KlinikApp(self.settings(**overrides), twilio_http=twilio_http)
        self.apps.append(app)
        self.twilio_clients.append(twilio_http)
        return app

    async def start(self, app: KlinikApp | None = None, **overrides: Any) -> KlinikApp:
        """Start (a new) app and wait until its HTTP server answers."""
        app = app or self.build(**overrides)
        await app.start()
        self.running = app
        await eventually(self._healthy, what="app HTTP server up")
        return app

    async def _healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                return (await client.get(f"{self.base_url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def stop(self) -> None:
        """Stop the running app (the database and peers stay); a webhook is removed first."""
        if self.running is not None:
            app, self.running = self.running, None
            if app.bot is not None and app.settings.telegram.mode == "webhook":
                await app.bot.delete_webhook()
            await app.stop()

    async def close(self) -> None:
        await self.stop()
        for client in self.twilio_clients:
            await client.close()  # also those of apps that never started or had WhatsApp off
        if self._engine is not None:
            await self._engine.dispose()

    # ------------------------------------------------------------------ database

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The test's own connection to the app's database."""
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return make_sessionmaker(self._engine)

    async def add_person(self, **fields: Any) -> Person:
        """Someone on the roster, consented unless told otherwise."""
        now = datetime.now(UTC)
        defaults: dict[str, Any] = {"consent_given": True, "consent_at": now, "created_at": now,
                                    "updated_at": now, "extra": {}}
        async with self.sessions.begin() as session:
            person = Person(**(defaults | fields))
            session.add(person)
        return person

    async def update_person(self, person_id: int, **fields: Any) -> None:
        async with self.sessions.begin() as session:
            person = await session.get(Person, person_id)
            assert person is not None
            for key, value in fields.items():
                setattr(person, key, value)

    async def count(self, model: type[Any], *where: Any) -> int:
        async with self.sessions() as session:
            query = select(func.count()).select_from(model).where(*where)
            return int((await session.execute(query)).scalar_one())

    async def counts(self) -> dict[str, int]:
        """Rows per table the bot writes to, to show what a message did (and did not) change."""
        return {model.__tablename__: await self.count(model) for model in WATCHED_TABLES}

    async def changes(self, before: dict[str, int]) -> dict[str, int]:
        """Tables whose row count moved since ``before``, with the difference (after settling)."""
        await self.settled()
        after = await self.counts()
        return {name: after[name] - before[name] for name in after if after[name] != before[name]}

    async def all(self, model: type[T], *where: Any) -> list[T]:
        async with self.sessions() as session:
            query = select(model).where(*where)
            if hasattr(model, "id"):
                query = query.order_by(model.id)  # type: ignore[attr-defined]
            return list((await session.execute(query)).scalars())

    async def settled(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every inbound is processed and no outbox row is due to be sent."""
        async def quiet() -> bool:
            now = datetime.now(UTC)
            unprocessed = await self.count(InboxItem, InboxItem.processed_at.is_(None))
            due = await self.count(OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING,
                                   OutboxMessage.next_attempt_at <= now)
            return unprocessed == 0 and due == 0
        await eventually(quiet, timeout=timeout, what="inbox processed and outbox delivered")

    # ------------------------------------------------------------------ WhatsApp user side

    def signature(self, path: str, params: dict[str, str], auth_token: str | None = None) -> str:
        """X-Twilio-Signature as Twilio computes it for our public URL (with the account's token)."""
        validator = RequestValidator(auth_token or self.prism.auth_token)
        return str(validator.compute_signature(f"{self.base_url}{path}", params))

    async def post(self, path: str, *, headers: dict[str, str] | None = None, **content: Any) -> httpx.Response:
        """A plain POST to the app (``data=`` a form, ``json=`` a body)."""
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.base_url}{path}", headers=headers or {}, **content)

    async def post_signed(self, path: str, params: dict[str, str]) -> httpx.Response:
        """POST a form as Twilio does, signed with the account's auth token."""
        return await self.post(path, data=params, headers={"X-Twilio-Signature": self.signature(path, params)})

    def whatsapp_form(self, phone: str, body: str = "", *, sid: str | None = None, **extra: str) -> dict[str, str]:
        """The form Twilio posts for an inbound WhatsApp message."""
        sid = sid or new_sid()
        form = {"SmsMessageSid": sid, "MessageSid": sid, "SmsSid": sid, "AccountSid": self.prism.account_sid,
                "From": f"whatsapp:{phone}", "To": f"whatsapp:{WHATSAPP_FROM}", "Body": body,
                "NumMedia": "0", "NumSegments": "1", "ProfileName": "", "WaId": phone.lstrip("+"),
                "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        return form | extra

    async def whatsapp(self, phone: str, body: str = "", **extra: str) -> httpx.Response:
        """Someone writes to the bot on WhatsApp; the webhook must accept it."""
        response = await self.post_signed("/twilio/whatsapp", self.whatsapp_form(phone, body, **extra))
        assert response.status_code == 200, response.text
        return response

    async def status_callback(self, sid: str, status: str, error_code: str = "") -> httpx.Response:
        """Twilio reports on a message it was asked to send."""
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                "AccountSid": self.prism.account_sid, "From": f"whatsapp:{WHATSAPP_FROM}", "ApiVersion": "2010-04-01"}
        if error_code:
            form["ErrorCode"] = error_code
        return await self.post_signed("/twilio/status", form)

    def twilio_messages(self, to: str | None = None) -> list[RecordedRequest]:
        """Every Messages API request the app(s) made, optionally to one number, oldest first."""
        return [request for client in self.twilio_clients for request in client.requests
                if request.method == "POST" and request.url.endswith("/Messages.json")
                and (to is None or request.data.get("To") == f"whatsapp:{to}")]

    async def wait_whatsapp(self, to: str, predicate: Callable[[RecordedRequest], bool] = lambda r: True,
                            timeout: float = 5.0) -> RecordedRequest:  # noqa: ASYNC109
        """The next Messages API request to ``to`` matching ``predicate``; earlier ones are consumed."""
        def find() -> RecordedRequest | None:
            requests = self.twilio_messages(to)
            for index in range(self._consumed.get(to, 0), len(requests)):
                if predicate(requests[index]):
                    self._consumed[to] = index + 1
                    return requests[index]
            return None
        try:
            return await eventually(find, timeout=timeout, what=f"WhatsApp message to {to}")
        except AssertionError:
            bodies = [r.data.get("Body") or r.data.get("ContentSid") for r in self.twilio_messages(to)]
            raise AssertionError(f"no matching WhatsApp message to {to} within {timeout} s; sent: {bodies}") from None


# ---------------------------------------------------------------------- the roster of most tests

MENTOR_PHONE = "+6281100000001"
MENTOR_CHAT = 5001
PARTICIPANT_PHONE = "+6281200000001"
PARTICIPANT_CHAT = 6001


async def mentor_on_telegram(klinik: Klinik, **fields: Any) -> Person:
    """A pendamping who already linked Telegram (user id = chat id in a private chat)."""
    defaults: dict[str, Any] = {"role": Role.PENDAMPING, "name": "Budi Santoso", "phone": MENTOR_PHONE,
                                "telegram_user_id": str(MENTOR_CHAT), "telegram_chat_id": str(MENTOR_CHAT),
                                "preferred_channel": "telegram", "topics": "legalitas;pemasaran"}
    return await klinik.add_person(**(defaults | fields))


async def participant_on_whatsapp(klinik: Klinik, mentor: Person, **fields: Any) -> Person:
    """A peserta who writes on WhatsApp, with the given mentor."""
    defaults: dict[str, Any] = {"role": Role.PESERTA, "name": "Sari Wulandari", "phone": PARTICIPANT_PHONE,
                                "mentor_id": mentor.id, "business_name": "Keripik Sari", "cohort": "Angkatan 1",
                                "preferred_channel": "whatsapp"}
    return await klinik.add_person(**(defaults | fields))


QUESTION = "Bagaimana cara daftar NIB untuk usaha keripik rumahan?"
ANSWER = "Daftar NIB gratis lewat oss.go.id; pilih KBLI 10794 untuk makanan ringan."


async def ask_on_whatsapp(klinik: Klinik, phone: str, question: str = QUESTION) -> None:
    """The participant writes a question and confirms the guessed topic with "1"."""
    await klinik.whatsapp(phone, question)
    await klinik.wait_whatsapp(phone, lambda r: "1. ✅" in body(r))
    await klinik.whatsapp(phone, "1")


def body(request: RecordedRequest) -> str:
    """The free text of a recorded Messages API request ('' for a template)."""
    return str(request.data.get("Body") or "")


def copy_database(template: Path, target: Path) -> str:
    """A migrated SQLite file for one test."""
    target.write_bytes(template.read_bytes())
    return f"sqlite+aiosqlite:///{target}"
