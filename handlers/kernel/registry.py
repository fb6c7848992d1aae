"""Where features declare their commands, button actions and multi-step flows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.kernel.context import Context
from handlers.kernel.roles import EVERYONE
from storage.models import Role

Handler = Callable[[Context], Awaitable[None]]
ActionHandler = Callable[[Context, str], Awaitable[None]]



@dataclass(frozen=True)
class Command:
    """A word (or /word) a person may send; `roles` says who may use it."""

    name: str
    handler: Handler
    roles: frozenset[Role]
    help_key: str | None
    aliases: tuple[str, ...] = ()
    menu_key: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Action:
    """A button payload `prefix:argument` and who may press it."""

    prefix: str
    handler: ActionHandler
    roles: frozenset[Role]


COMMANDS: dict[str, Command] = {}
ACTIONS: dict[str, Action] = {}
FLOWS: dict[str, Handler] = {}


def command(name: str, *, roles: frozenset[Role] = EVERYONE, help_key: str | None = None,
            aliases: tuple[str, ...] = (), menu_key: str | None = None,
            order: int = 100) -> Callable[[Handler], Handler]:
    """Register a command under its name and aliases; menu_key puts it in the role's menu."""
    def register(handler: Handler) -> Handler:
        entry = Command(name, handler, roles, help_key, aliases, menu_key, order)
        for word in (name, *aliases):
            if word in COMMANDS:
                raise ValueError(f"command {word!r} registered twice")
            COMMANDS[word] = entry
        return handler
    return register


def action(prefix: str, *, roles: frozenset[Role] = EVERYONE) -> Callable[[ActionHandler], ActionHandler]:
    """Register a button action."""
    def register(handler: ActionHandler) -> ActionHandler:
        if prefix in ACTIONS:
            raise ValueError(f"action {prefix!r} registered twice")
        ACTIONS[prefix] = Action(prefix, handler, roles)
        return handler
    return register


def flow(name: str) -> Callable[[Handler], Handler]:
    """Register the handler that receives free text while a person is in flow `name`."""
    def register(handler: Handler) -> Handler:
        if name in FLOWS:
            raise ValueError(f"flow {name!r} registered twice")
        FLOWS[name] = handler
        return handler
    return register
