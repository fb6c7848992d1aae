"""Pieces every form shares: command arguments, passing non-answers on, yes, and step-table forms.

A `Form` is a flow name plus an ordered table of `Step`s. Each step asks its question (a literal
catalog key whose text starts with `{prefix}`), parses the answer into a value (or a `Retry`
naming the hint to show before asking again) and stores it in the collected data; `next` names
the following step (by default the next row; a function of the data for branches; `FINISH`
ends the form), and a step with a false `when` is skipped. Buttons are `Choice`s: pressing one
answers the step like typing would. After the last step the form's `finish` runs (saving,
announcing); it returns False to keep the form open, e.g. after sending the person back to a
step. Where the step and data live is a `Store`; the default is the person's conversation state.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.intents import is_question, only_fillers
from handlers.kernel.messages import Button
from handlers.kernel.parking import draft_button, keep_offered_draft
from handlers.kernel.registry import flow
from handlers.kernel.roles import is_participant
from handlers.kernel.state import clear_state, get_state, set_state

Data = dict[str, Any]
FINISH: Final = ""  # as a step's `next`: the form is complete, run its `finish`
STEP_KEY: Final = "step"  # where the default store keeps the step name inside the state's data


def command_args(ctx: Context) -> str:
    """The text after the command word ("hadir 4821" → "4821"; "antrian dong" → "")."""
    parts = ctx.text.split(maxsplit=1)
    arguments = parts[1].strip() if len(parts) > 1 else ""
    return "" if only_fillers(arguments) else arguments


async def pass_on(ctx: Context) -> None:
    """The first word matched a command but the text is an answer or a question: route it as free text."""
    await ctx.continue_as_text()


async def offer_as_question(ctx: Context) -> None:
    """A question typed where a form wanted an answer: one tap sends it to the mentor; the form stays where it
    was (its answers kept), and the next answer goes on with it."""
    ctx.reply("core.form_question_offer",
              buttons=(draft_button(ctx, "core.btn_form_question_send", await keep_offered_draft(ctx)),))


def is_yes(text: str) -> bool:
    """Typed confirmation in a form."""
    return text.strip().lower() in {"ya", "y", "iya", "ok", "oke", "kirim", "simpan", "yes", "benar"}


@dataclass(frozen=True)
class Retry:
    """A parse result: the answer is unusable; show the text of `key` and ask the step again."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Again:
    """A parse result: store `value` but stay on the step (e.g. ticking one more option)."""

    value: Any


@dataclass(frozen=True)
class Choice:
    """A button answering the current step: pressing it counts as the answer `value`."""

    label: str
    argument: str
    value: Any


Parse = Callable[[Context, Data], Any]  # → value, Retry or Again (or an awaitable of one)
Values = Callable[[Context, Data], Any]  # → the prompt's placeholders (a mapping, or an awaitable of one)
Buttons = Callable[[Context, Data], Sequence[Choice | Button]]  # a plain Button is handled elsewhere
Next = str | Callable[[Data], str] | None
Finish = Callable[[Context, Data], Awaitable[bool]]  # True: complete (the form is closed)


@dataclass(frozen=True)
class Step:
    """One question: its prompt key, how to read the answer, where it goes, what comes next."""

    name: str
    prompt: str
    parse: Parse
    next: Next = None  # None: the following row (FINISH after the last one)
    into: str | tuple[str, ...] | None = None  # key(s) the value fills; None: the step's name; (): none
    values: Values | None = None
    buttons: Buttons | None = None
    when: Callable[[Data], bool] | None = None  # asked only when true; skipped otherwise


def confirmation(hint: str) -> Parse:
    """A parse for a confirm step: a typed yes (see is_yes) confirms, anything else gets `hint`."""
    return lambda ctx, data: True if is_yes(ctx.text) else Retry(hint)


def short_text(most: int, hint: str) -> Parse:
    """A parse for non-empty text of at most `most` characters; anything else gets `hint`."""
    return lambda ctx, data: ctx.text if 0 < len(ctx.text) <= most else Retry(hint)


def pick_option(options: str, hint: str) -> Parse:
    """A parse for one of `data[options]` ([label, *values] rows) typed by its label: the row's values."""
    def parse(ctx: Context, data: Data) -> Any:
        match = [tuple(row[1:]) for row in data[options] if str(row[0]).lower() == ctx.text.lower()]
        return match[0] if match else Retry(hint)
    return parse


def option_buttons(options: str, argument: str) -> Buttons:
    """A choice per `data[options]` row: its label, argument `<argument>:<row number>`, its values."""
    return lambda ctx, data: [Choice(str(row[0]), f"{argument}:{number}", tuple(row[1:]))
                              for number, row in enumerate(data[options])]


class Store(Protocol):
    """Where a form keeps its current step and collected data between messages."""

    async def load(self, ctx: Context, form: str) -> tuple[str, Data] | None:
        """The step and data of the person's open form `form`, if any."""
        ...

    async def save(self, ctx: Context, form: str, step: str, data: Data) -> None:
        """Remember that the form waits at `step` with `data`."""
        ...

    async def clear(self, ctx: Context, form: str) -> None:
        """The form is over."""
        ...


class StateStore:
    """The conversation state row: {"step": name, **data} under the form's flow name."""

    async def load(self, ctx: Context, form: str) -> tuple[str, Data] | None:
        """The state's step and data when the person is in this form."""
        state = await get_state(ctx.session, ctx.person.id)
        if state is None or state.flow != form or STEP_KEY not in state.data:
            return None
        data = dict(state.data)
        return str(data.pop(STEP_KEY)), data

    async def save(self, ctx: Context, form: str, step: str, data: Data) -> None:
        """Write step and data into the state (replacing any other flow)."""
        await set_state(ctx.session, ctx.person.id, form, {**data, STEP_KEY: step}, ctx.now)

    async def clear(self, ctx: Context, form: str) -> None:
        """Leave the flow."""
        await clear_state(ctx.session, ctx.person.id)


async def _resolved(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


@dataclass(frozen=True)
class Form:
    """A step-table form: registers its flow and answers free text and `prefix:` choice buttons."""

    name: str
    prefix: str
    steps: tuple[Step, ...]
    finish: Finish
    store: Store = field(default_factory=StateStore)
    expired: str = "core.unknown_button"  # a button or answer for a form that is no longer open
    keeps: bool = True  # park the form (resumable with `lanjut`) when the person turns away from it
    label_key: str = "core.parked_form_label"  # how the form is named when it waits ("laporan bulanan")
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {step.name: number for number, step in enumerate(self.steps)}
        if not self.steps or len(index) != len(self.steps) or FINISH in index:
            raise ValueError(f"form {self.name!r}: steps need distinct, non-empty names")
        for step in self.steps:
            if isinstance(step.next, str) and step.next != FINISH and step.next not in index:
                raise ValueError(f"form {self.name!r}: step {step.name!r} goes to unknown {step.next!r}")
        object.__setattr__(self, "_index", index)
        flow(self.name, keeps=self.keeps, resume=self.resume, label_key=self.label_key)(self.answer)

    def __contains__(self, step: object) -> bool:
        """True when the form has a step of that name."""
        return step in self._index

    def step(self, name: str) -> Step:
        """The step called `name`."""
        return self.steps[self._index[name]]

    def following(self, step: Step, data: Data) -> str:
        """The name of the step after `step` given the data (FINISH when the form is complete)."""
        if callable(step.next):
            return step.next(data)
        if step.next is not None:
            return step.next
        number = self._index[step.name] + 1
        return self.steps[number].name if number < len(self.steps) else FINISH

    async def start(self, ctx: Context, data: Data) -> None:
        """Open the form with initial data at its first step that applies."""
        await self.ask(ctx, data, self.steps[0].name)

    async def ask(self, ctx: Context, data: Data, name: str, retry: Retry | None = None) -> None:
        """Move to a step (or the first applicable one after it) and ask, after a hint if given."""
        seen: set[str] = set()
        step = self.step(name)
        while step.when is not None and not step.when(data):
            seen.add(step.name)
            following = self.following(step, data)
            if following == FINISH:
                await self.complete(ctx, data)
                return
            if following in seen:
                raise RuntimeError(f"form {self.name!r}: every step from {name!r} is skipped")
            step = self.step(following)
        await self.store.save(ctx, self.name, step.name, data)
        prefix = t(retry.key, ctx.lang, **retry.values) + "\n\n" if retry else ""
        values = dict(await _resolved(step.values(ctx, data))) if step.values else {}
        buttons = tuple(Button(b.label, f"{self.prefix}:{b.argument}") if isinstance(b, Choice) else b
                        for b in (step.buttons(ctx, data) if step.buttons else ()))
        ctx.reply(step.prompt, buttons=buttons, prefix=prefix, **values)

    async def current(self, ctx: Context) -> tuple[Step, Data] | None:
        """The person's open step in this form and the data so far."""
        loaded = await self.store.load(ctx, self.name)
        if loaded is None or loaded[0] not in self._index:
            return None
        return self.step(loaded[0]), loaded[1]

    async def resume(self, ctx: Context) -> None:
        """Ask the open step again (after the person comes back to the form)."""
        current = await self.current(ctx)
        if current is None:
            ctx.reply(self.expired)
            return
        await self.ask(ctx, current[1], current[0].name)

    async def answer(self, ctx: Context) -> None:
        """Free text answers the open step (this is the registered flow handler)."""
        current = await self.current(ctx)
        if current is None:
            await self.store.clear(ctx, self.name)
            ctx.reply(self.expired)
            return
        step, data = current
        value = await _resolved(step.parse(ctx, data))
        if isinstance(value, Retry) and is_participant(ctx.person) and is_question(ctx.text):
            await offer_as_question(ctx)  # "kak ini wajib diisi ga?" is not an unreadable answer
            return
        await self.take(ctx, step, data, value)

    async def press(self, ctx: Context, argument: str) -> None:
        """A `prefix:argument` button: a choice of the open step answers it; any other re-asks it."""
        current = await self.current(ctx)
        if current is None:
            ctx.reply(self.expired)
            return
        step, data = current
        options = step.buttons(ctx, data) if step.buttons else ()
        chosen = [o for o in options if isinstance(o, Choice) and o.argument == argument]
        if not chosen:
            await self.ask(ctx, data, step.name)
            return
        await self.take(ctx, step, data, chosen[0].value)

    async def take(self, ctx: Context, step: Step, data: Data, value: Any) -> None:
        """Apply one parsed answer: re-ask after a Retry, stay after Again, otherwise go on."""
        if isinstance(value, Retry):
            await self.ask(ctx, data, step.name, value)
            return
        stay = isinstance(value, Again)
        data = self.stored(step, data, value.value if isinstance(value, Again) else value)
        following = step.name if stay else self.following(step, data)
        if following == FINISH:
            await self.complete(ctx, data)
        else:
            await self.ask(ctx, data, following)

    @staticmethod
    def stored(step: Step, data: Data, value: Any) -> Data:
        """The data with the step's value in its key(s); a tuple of keys takes a sequence of values."""
        keys = step.into if step.into is not None else step.name
        if isinstance(keys, str):
            return {**data, keys: value}
        return {**data, **dict(zip(keys, value, strict=True))} if keys else data

    async def complete(self, ctx: Context, data: Data) -> None:
        """Run `finish`; when it reports the form complete, close the form."""
        if await self.finish(ctx, data):
            await self.store.clear(ctx, self.name)
