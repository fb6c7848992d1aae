"""What a use case gets for one inbound message: who, what, when, and where replies go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Inbound, Outgoing
from storage.models import Person


@dataclass(frozen=True)
class Routes:
    """Where a handler hands a message back to the router, so no feature imports the router."""

    free_text: Callable[[Context], Awaitable[None]]
    command: Callable[[Context, str], Awaitable[None]]


async def _no_route(*_args: object) -> None:
    raise RuntimeError("this context was not built by the router")


NO_ROUTES = Routes(free_text=_no_route, command=_no_route)


@dataclass
class Context:
    """One inbound message being handled; replies collect in `out` until the commit."""

    session: AsyncSession
    inbound: Inbound
    now: datetime
    config: Config
    person: Person
    out: list[Outgoing] = field(default_factory=list)
    routes: Routes = NO_ROUTES

    @property
    def lang(self) -> str:
        """The sender's language."""
        return self.person.language or self.config.language

    @property
    def text(self) -> str:
        """The message text, trimmed."""
        return self.inbound.text.strip()

    def reply(self, key: str, *, buttons: tuple[Button, ...] = (), ref: str | None = None,
              keeps_options: bool = False, **values: Any) -> None:
        """Answer the sender on the channel they wrote from."""
        self.out.append(Outgoing(text=t(key, self.lang, **values), to=self.inbound.address,
                                 person_id=self.person.id, buttons=buttons, ref=ref, keeps_options=keeps_options))

    def tell(self, person: Person, key: str, *, buttons: tuple[Button, ...] = (),
             ref: str | None = None, **values: Any) -> None:
        """Message another person on their own channel, in their own language."""
        lang = person.language or self.config.language
        self.out.append(Outgoing(text=t(key, lang, **values), person_id=person.id,
                                 buttons=buttons, ref=ref))

    async def continue_as_text(self) -> None:
        """Handle this message as free text: the open flow's, else a question or a hint."""
        await self.routes.free_text(self)

    async def run_command(self, name: str) -> None:
        """Run a command by name, with the router's role check."""
        await self.routes.command(self, name)

    def send(self, message: Outgoing) -> None:
        """Queue a ready-made message."""
        self.out.append(message)
