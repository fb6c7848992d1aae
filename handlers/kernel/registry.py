"""Where features declare their commands, button actions and multi-step flows."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.kernel.context import Context
from handlers.kernel.roles import EVERYONE
from storage.models import ParkedFlow, Role

Handler = Callable[[Context], Awaitable[None]]
ActionHandler = Callable[[Context, str], Awaitable[None]]
ParkedHandler = Callable[[Context, ParkedFlow], Awaitable[None]]

# Shapes of what may follow a command word, for `args=`: "buka 12" is a command, "buka cabang baru" a question.
NO_ARGS = None
TICKET = r"#?\d+"
TICKET_AND_TEXT = r"#?\d+(\s+.+)?"
ANY_ARGS = r".+"


@dataclass(frozen=True)
class Command:
    """A word (or /word) a person may send; `roles` says who may use it, `args` what may follow it."""

    name: str
    handler: Handler
    roles: frozenset[Role]
    help_key: str | None
    aliases: tuple[str, ...] = ()
    menu_key: str | None = None
    order: int = 100
    args: str | None = NO_ARGS
    in_flows: bool = True  # False: inside an open form the word is an answer ("lanjut" to a form's question)

    def accepts(self, arguments: str) -> bool:
        """True when the text after the word has this command's shape (nothing, or its arguments)."""
        if not arguments:
            return True
        return self.args is not None and re.fullmatch(self.args, arguments, re.IGNORECASE | re.DOTALL) is not None


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
            order: int = 100, args: str | None = NO_ARGS,
            in_flows: bool = True) -> Callable[[Handler], Handler]:
    """Register a command under its name and aliases; menu_key puts it in the role's menu."""
    def register(handler: Handler) -> Handler:
        entry = Command(name, handler, roles, help_key, aliases, menu_key, order, args, in_flows)
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


@dataclass(frozen=True)
class FlowTraits:
    """How a flow behaves when the person turns away from it.

    `keeps`: the flow holds what the person typed (a form, a drafted question): when it is left for
    another flow, or idle too long, it is parked and offered back, never discarded.
    `expires`: after the idle time the next message is handled as if no flow were open (a kept flow
    is parked, any other dropped); flows that settle themselves say False.
    `takes_any_text`: only a slash command interrupts it (a mentor's answer may begin with "buka").
    `resume`: asks again where the flow stopped, when the person comes back with `lanjut`.
    `offer`: tells the person, once, that a parked flow waits (default: its `label_key` and `lanjut`).
    """

    keeps: bool = False
    expires: bool = True
    takes_any_text: bool = False
    resume: Handler | None = None
    offer: ParkedHandler | None = None
    label_key: str = "core.parked_form_label"


FLOW_TRAITS: dict[str, FlowTraits] = {}


def flow(name: str, *, keeps: bool = False, expires: bool = True, takes_any_text: bool = False,
         resume: Handler | None = None, offer: ParkedHandler | None = None,
         label_key: str = "core.parked_form_label") -> Callable[[Handler], Handler]:
    """Register the handler that receives free text while a person is in flow `name`."""
    def register(handler: Handler) -> Handler:
        if name in FLOWS:
            raise ValueError(f"flow {name!r} registered twice")
        FLOWS[name] = handler
        FLOW_TRAITS[name] = FlowTraits(keeps, expires, takes_any_text, resume, offer, label_key)
        return handler
    return register


def traits_of(name: str) -> FlowTraits:
    """A flow's traits (defaults for a flow no longer registered, e.g. after an upgrade)."""
    return FLOW_TRAITS.get(name, FlowTraits())
