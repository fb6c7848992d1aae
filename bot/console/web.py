"""The console's plumbing: cookies, sign-in sessions, CSRF, security headers, templates and refusals."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.console.signin import find_session
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Address, Channel, Inbound, Outgoing
from handlers.kernel.outbox import enqueue_all
from handlers.kernel.roles import COORDINATORS, MANAGERS, STAFF
from handlers.people.membership import ROLE_KEYS
from storage.db import take_sqlite_writer
from storage.models import ConsoleSession, Person

if TYPE_CHECKING:
    from jinja2 import Environment

    from bot.media import MediaStore

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PREFIX = "/console"
SESSION_COOKIE = "klinik_sesi"
TICKET_COOKIE = "klinik_masuk"  # names the code row while a code is being typed
FORM_COOKIE = "klinik_form"  # CSRF before sign-in: the hidden field must equal this cookie
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # a roster file (100,000 rows of CSV are about 8 MB)
FIELD_MAX_CHARS = 4000
LANGUAGE_COOKIE = "klinik_bahasa"  # the language chosen on the sign-in page
LANGUAGES = ("id", "en")

KIND_KEYS = {"question": "web.kind_question", "answer": "web.kind_answer", "note": "web.kind_note",
             "attendance": "web.kind_attendance", "tugas": "web.kind_tugas", "report": "web.kind_report",
             "nudge": "web.kind_nudge"}  # a story's events and a thread's messages
ROLE_SETS = {"coordinators": COORDINATORS, "managers": MANAGERS, "staff": STAFF}  # what the menu offers whom
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Every console answer: no framing, no sniffing, no inline script, no caching of personal pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name.lower().encode(), value.encode()) for name, value in HEADERS.items()
                         if name.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class Refused(Exception):
    """A request the console will not do: shown as a clear page with this status."""

    def __init__(self, key: str, status: int = 403, **values: Any) -> None:
        super().__init__(key)
        self.key, self.status, self.values = key, status, values


@dataclass
class Visit:
    """One request to a console page: who, when, in which language, in one database transaction."""

    request: Request
    db: AsyncSession
    now: datetime
    config: Config
    person: Person | None = None
    signed: ConsoleSession | None = None
    form: FormData | None = None
    sent: bool = False
    notices: list[str] = field(default_factory=list)  # what the chat would have replied to the actor

    @property
    def lang(self) -> str:
        """The signed-in person's language; before sign-in the one chosen on the page, else the programme's."""
        if self.person is not None:
            return self.person.language or self.config.language
        chosen = self.request.query_params.get("lang") or self.request.cookies.get(LANGUAGE_COOKIE)
        return chosen if chosen in LANGUAGES else self.config.language

    @property
    def me(self) -> Person:
        """The signed-in person (pages that need one)."""
        assert self.person is not None
        return self.person

    def field(self, name: str) -> str:
        """A text field of the posted form, trimmed and bounded."""
        value = self.form.get(name) if self.form is not None else None
        return value.strip()[:FIELD_MAX_CHARS] if isinstance(value, str) else ""

    def text(self, key: str, **values: Any) -> str:
        """A catalog text in the visitor's language."""
        return t(key, self.lang, **values)

    async def send(self, messages: list[Outgoing]) -> None:
        """Owe these messages (outbox rows in this transaction; the worker wakes after the commit)."""
        if messages:
            await enqueue_all(self.db, messages, self.now, self.config)
            self.sent = True

    def chat_context(self) -> Context:
        """A chat Context for calling a handler function as this person; its replies become page notices."""
        address = Address(Channel.TELEGRAM, f"console:{self.me.id}")
        inbound = Inbound(address=address, external_id=f"console:{secrets.token_hex(8)}", received_at=self.now)
        return Context(session=self.db, inbound=inbound, now=self.now, config=self.config, person=self.me)

    async def finish_chat(self, ctx: Context) -> None:
        """Replies to the actor become notices on the page; messages to others go to the outbox."""
        mine = [message for message in ctx.out if message.to == ctx.inbound.address]
        self.notices += [message.text for message in mine]
        await self.send([message for message in ctx.out if message.to != ctx.inbound.address])


Page = Callable[[Visit], Awaitable[Response]]


class Pages:
    """Renders templates and runs each page in one transaction behind sign-in, role and CSRF checks."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], config: Config, secure: bool,
                 after_commit: Callable[[], None], clock: Callable[[], datetime]) -> None:
        self.sessions, self.config, self.secure = sessions, config, secure
        self.after_commit, self.clock = after_commit, clock
        self.media: MediaStore | None = None  # set by the HTTP server: fetches the files pages link to

    @cached_property
    def env(self) -> Environment:
        """The templates, at the first page (jinja2: ≈2 MB resident, not in a bot whose console nobody opens)."""
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
        env.globals["files"] = file_links  # {{ files("tugas", submission.id, submission.attachments) }}
        return env

    def render(self, visit: Visit, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page in the visitor's language; `t("web.…")` in templates reads the catalogs."""
        lang = visit.lang

        def text(key: str, **fill: Any) -> str:
            return t(key, lang, **fill)

        def role(person: Person) -> str:
            return t(ROLE_KEYS[person.role], lang)

        html = self.env.get_template(name).render(
            t=text, role=role, lang=lang, roles=ROLE_SETS, kinds=KIND_KEYS, me=visit.person, csrf=visit.signed.csrf if visit.signed else "",
            notices=visit.notices, path=visit.request.url.path, **values)
        return HTMLResponse(html, status_code=status)

    def refusal(self, visit: Visit, refused: Refused) -> HTMLResponse:
        """The clear Indonesian (or English) page for a refusal."""
        return self.render(visit, "refused.html", status=refused.status, message=visit.text(refused.key, **refused.values))

    def cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        """HttpOnly, SameSite=Lax, Secure behind https, only for the console's paths."""
        response.set_cookie(name, value, max_age=max_age, path=PREFIX, secure=self.secure, httponly=True,
                            samesite="lax")

    def forget(self, response: Response, name: str) -> None:
        """Remove a cookie."""
        response.delete_cookie(name, path=PREFIX, secure=self.secure, httponly=True, samesite="lax")

    def guarded(self, page: Page, *, roles: Collection[str] | None = None, public: bool = False) -> Callable[
            [Request], Awaitable[Response]]:
        """The endpoint: sign-in (unless public), role check, CSRF on POST, one transaction, wake the worker."""

        async def endpoint(request: Request) -> Response:
            async with self.sessions() as db:
                visit = Visit(request=request, db=db, now=self.clock(), config=self.config)
                token = request.cookies.get(SESSION_COOKIE, "")
                found = await find_session(db, token, visit.now) if token else None
                if found is not None:
                    visit.signed, visit.person = found
                try:
                    if not public and visit.person is None:
                        return RedirectResponse(f"{PREFIX}/masuk", status_code=303)
                    if roles is not None and (visit.person is None or visit.person.role not in roles):
                        raise Refused("web.refused_role")
                    if request.method == "POST":
                        visit.form = await request.form(max_files=1, max_fields=50)  # the body is capped by Edge
                        if not self._csrf_ok(visit):
                            raise Refused("web.refused_csrf")
                        await take_sqlite_writer(db)  # a form's reads then writes never meet a stale snapshot
                    response = await page(visit)
                    await db.commit()
                except Refused as refused:
                    answer = self.refusal(visit, refused)  # rendered before the rollback expires what it shows
                    await db.rollback()
                    return answer
                if visit.sent:
                    self.after_commit()
                return response

        return endpoint

    def _csrf_ok(self, visit: Visit) -> bool:
        given = visit.field("csrf")
        if visit.signed is not None:
            expected = visit.signed.csrf
        else:
            expected = visit.request.cookies.get(FORM_COOKIE, "")
        return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class FileLink:
    """A stored attachment as a link to the console's signed-in file route (never a public URL)."""

    url: str
    name: str
    is_image: bool


IMAGE_KINDS = frozenset({"photo", "sticker"})


def file_links(kind: str, owner_id: int, attachments: list[Any] | None) -> list[FileLink]:
    """The attachments of a ticket message (`tiket`), a submission (`tugas`) or an izin request (`izin`)."""
    links = []
    for index, data in enumerate(attachments or []):
        if not isinstance(data, dict):
            continue
        mime = str(data.get("mime") or "").lower()
        is_image = mime.startswith("image/") or (not mime and data.get("kind") in IMAGE_KINDS)
        name = str(data.get("name") or "") or f"{data.get('kind') or 'file'} {index + 1}"
        links.append(FileLink(f"{PREFIX}/berkas/{kind}/{owner_id}/{index}", name, is_image))
    return links


def utc_now() -> datetime:
    """The clock of a running console."""
    return datetime.now(UTC)
