"""Creating a tugas from chat (title → description → due → cut-off) or the command line, and announcing it."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import audience_choice, audience_label, participants_of
from handlers.activities.dates import format_moment, parse_moment
from handlers.activities.reminders import message_to
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.forms import is_yes
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.registry import action, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Assignment

FLOW = "tgf_form"
END_OF_DAY = time(23, 59)
NO_CUTOFF = frozenset({"tidak", "tidak ada", "-", "tanpa", "no", "none"})


async def create_assignment(session: AsyncSession, *, title: str, description: str, cohort: str,
                            mentor_id: int | None, due_at: datetime, cutoff_at: datetime | None,
                            created_by_id: int | None, now: datetime) -> Assignment:
    """Store a tugas for a cohort or a mentor's group."""
    assignment = Assignment(title=title, description=description, cohort="" if mentor_id else cohort,
                            mentor_id=mentor_id, created_by_id=created_by_id, due_at=due_at,
                            cutoff_at=cutoff_at, created_at=now)
    session.add(assignment)
    await session.flush()
    return assignment


async def announce_assignment(session: AsyncSession, assignment: Assignment, config: Config) -> list[Outgoing]:
    """Tell every participant about the new tugas, with a button to submit."""
    messages = []
    for person in await participants_of(session, assignment):
        if person.consent_given is False:
            continue
        lang = person.language or config.language
        messages.append(message_to(
            person, "tgs.announced", config, title=assignment.title, description=assignment.description,
            due=format_moment(assignment.due_at, config.timezone, lang),
            buttons=(Button(t("tgs.btn_send", lang), f"tgs:send:{assignment.id}"),)))
    return messages


@action("tgf", roles=MANAGERS)
async def tugas_form_button(ctx: Context, argument: str) -> None:
    """tgf:new starts; tgf:aud:1 picks the cohort; tgf:nocut skips the cut-off; tgf:save stores."""
    verb, _, rest = argument.partition(":")
    if verb == "new":
        await start_tugas_form(ctx)
        return
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW:
        ctx.reply("core.unknown_button")
        return
    data = dict(state.data)
    if verb == "aud" and data["step"] == "audience" and rest.isdigit() and int(rest) < len(data["options"]):
        _, data["cohort"], data["mentor_id"] = data["options"][int(rest)]
        await ask(ctx, data, "title")
    elif verb == "nocut" and data["step"] == "cutoff":
        await ask(ctx, data | {"cutoff_at": None}, "confirm")
    elif verb == "save" and data["step"] == "confirm":
        await save_tugas(ctx, data)
    else:
        await ask(ctx, data, data["step"])


async def start_tugas_form(ctx: Context) -> None:
    """A mentor's tugas is for their group; a coordinator picks a cohort."""
    data = await audience_choice(ctx.session, ctx.person, ctx.lang)
    if data is None:
        ctx.reply("att.form_no_cohorts")
        return
    await ask(ctx, data, "audience" if len(data["options"]) > 1 else "title")


async def ask(ctx: Context, data: dict[str, Any], step: str, *, hint: str | None = None) -> None:
    """Move to a step and ask its question, after a hint when the last answer was unusable."""
    data = {**data, "step": step}
    await set_state(ctx.session, ctx.person.id, FLOW, data, ctx.now)
    prefix = t(hint, ctx.lang) + "\n\n" if hint else ""
    if step == "confirm":
        target = Assignment(cohort=data["cohort"], mentor_id=data["mentor_id"])
        cutoff = data["cutoff_at"]
        ctx.reply("tgs.form_confirm", buttons=(Button(t("att.btn_save", ctx.lang), "tgf:save"),), prefix=prefix,
                  title=data["title"], description=data["description"], due=show(ctx, data["due_at"]),
                  cutoff=show(ctx, cutoff) if cutoff else t("tgs.no_cutoff", ctx.lang),
                  audience=await audience_label(ctx.session, target, ctx.lang))
        return
    buttons: tuple[Button, ...] = ()
    if step == "audience":
        buttons = tuple(Button(label, f"tgf:aud:{i}") for i, (label, _, _) in enumerate(data["options"]))
    elif step == "cutoff":
        buttons = (Button(t("tgs.btn_no_cutoff", ctx.lang), "tgf:nocut"),)
    ctx.reply(f"tgs.form_{step}", buttons=buttons, prefix=prefix)


def show(ctx: Context, moment: str) -> str:
    """A stored ISO moment as the person reads it."""
    return format_moment(datetime.fromisoformat(moment), ctx.config.timezone, ctx.lang)


@flow(FLOW)
async def receive_tugas_answer(ctx: Context) -> None:
    """Free text answers the current step, or gets its hint again."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    data, text = dict(state.data), ctx.text
    step = data["step"]
    if step == "audience":
        match = [o for o in data["options"] if o[0].lower() == text.lower()]
        if match:
            _, data["cohort"], data["mentor_id"] = match[0]
        await ask(ctx, data, "title" if match else "audience", hint=None if match else "att.hint_audience")
    elif step in ("title", "description"):
        ok = 0 < len(text) <= (200 if step == "title" else 3000)
        following = "description" if step == "title" else "due"
        await ask(ctx, data | {step: text}, following if ok else step, hint=None if ok else f"tgs.hint_{step}")
    elif step in ("due", "cutoff"):
        await receive_moment(ctx, data, step, text)
    elif is_yes(text):
        await save_tugas(ctx, data)
    else:
        await ask(ctx, data, "confirm", hint="att.hint_confirm")


async def receive_moment(ctx: Context, data: dict[str, Any], step: str, text: str) -> None:
    """Due: a future moment; cut-off: later than the due moment, or "tidak"."""
    if step == "cutoff" and text.lower() in NO_CUTOFF:
        await ask(ctx, data | {"cutoff_at": None}, "confirm")
        return
    moment = parse_moment(text, ctx.now, ctx.config.timezone, END_OF_DAY)
    earliest = ctx.now if step == "due" else datetime.fromisoformat(data["due_at"])
    if moment is None or moment <= earliest:
        hint = "att.hint_date" if moment is None else ("att.hint_past" if step == "due" else "tgs.hint_cutoff")
        await ask(ctx, data, step, hint=hint)
        return
    await ask(ctx, data | {f"{step}_at": moment.isoformat()}, "cutoff" if step == "due" else "confirm")


async def save_tugas(ctx: Context, data: dict[str, Any]) -> None:
    """Store the tugas and announce it to its participants."""
    cutoff = data["cutoff_at"]
    assignment = await create_assignment(
        ctx.session, title=data["title"], description=data["description"], cohort=data["cohort"],
        mentor_id=data["mentor_id"], due_at=datetime.fromisoformat(data["due_at"]),
        cutoff_at=datetime.fromisoformat(cutoff) if cutoff else None, created_by_id=ctx.person.id, now=ctx.now)
    await clear_state(ctx.session, ctx.person.id)
    announcements = await announce_assignment(ctx.session, assignment, ctx.config)
    for message in announcements:
        ctx.send(message)
    ctx.reply("tgs.created", title=assignment.title, count=len(announcements))
