"""The real WebApp with the console mounted, on the test's database and clock, and a signed-in browser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.console import Console
from bot.http import WebApp
from bot.media import MediaStore
from handlers.kernel.config import Config
from handlers.kernel.messages import Inbound
from handlers.kernel.outbox import message_of
from storage.models import OutboxMessage, Person
from tests.support.driver import Clock

BASE_URL = "https://klinik.test"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CODE = re.compile(r"\*(\d{6})\*")


def csrf_of(html: str) -> str:
    """The hidden CSRF field of the first form on the page."""
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


@dataclass
class Site:
    """`klinik run`'s HTTP app (webhooks, media, console) in process; requests through httpx's ASGI transport."""

    sessions: async_sessionmaker[AsyncSession]
    config: Config
    clock: Clock
    wakes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.console = Console(sessions=self.sessions, config=self.config, public_base_url=BASE_URL,
                               after_commit=lambda: self.wakes.append(1), clock=lambda: self.clock.now)
        self.app = WebApp(sessions=self.sessions, ingest=self._ingest, after_ingest=lambda: None,
                          media=MediaStore(self.sessions), console=self.console).build()

    @staticmethod
    async def _ingest(_inbound: Inbound) -> bool:
        return True

    def browser(self) -> httpx.AsyncClient:
        """A browser: keeps cookies, does not follow redirects (tests look at them)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL, timeout=10)

    async def texts_to(self, person: Person) -> list[str]:
        """Every text owed to a person, oldest first."""
        async with self.sessions() as session:
            rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient_id == person.id)
                                          .order_by(OutboxMessage.id))).scalars()
            return [message_of(row).text for row in rows]

    async def last_code(self, person: Person) -> str:
        """The newest sign-in code the bot owes the person."""
        codes = [found.group(1) for text in await self.texts_to(person) if (found := CODE.search(text))]
        assert codes, "no code was sent"
        return codes[-1]

    async def ask_code(self, browser: httpx.AsyncClient, phone: str) -> tuple[httpx.Response, str]:
        """Open the sign-in page and send the phone; the code page and its CSRF token."""
        page = await browser.get("/console/masuk")
        token = csrf_of(page.text)
        answer = await browser.post("/console/masuk", data={"phone": phone, "csrf": token})
        return answer, token

    async def sign_in(self, browser: httpx.AsyncClient, person: Person) -> httpx.Response:
        """Sign in with the code the bot sent to the person's chat."""
        _answer, token = await self.ask_code(browser, person.phone)
        code = await self.last_code(person)
        response = await browser.post("/console/masuk/kode", data={"code": code, "csrf": token})
        assert response.status_code == 303, response.text
        return response

    async def form_token(self, browser: httpx.AsyncClient, path: str) -> str:
        """The session's CSRF token, read from a signed-in page."""
        page = await browser.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)
