"""Creating a tugas from chat (title → description → due → cut-off) or the command line, and announcing it."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import audience_choice, audience_label, participants_of
from handlers.activities.reminders import message_to
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, parse_moment
from handlers.kernel.forms import (
    Choice,
    Data,
    Form,
    Retry,
    Step,
    confirmation,
    option_buttons,
    pick_option,
    short_text,
)
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.registry import action
from handlers.kernel.roles import MANAGERS
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
        if not person.consent_given:
            continue
        lang = person.language or config.language
        messages.append(message_to(
            person, "tgs.announced", config, title=assignment.title, description=assignment.description,
            due=format_moment(assignment.due_at, config.timezone, lang),
            buttons=(Button(t("tgs.btn_send", lang), f"tgs:send:{assignment.id}"),)))
    return messages


def show(ctx: Context, moment: str) -> str:
    """A stored ISO moment as the person reads it."""
    return format_moment(datetime.fromisoformat(moment), ctx.config.timezone, ctx.lang)


def read_due(ctx: Context, data: Data) -> Any:
    """A future moment (a day alone means its end)."""
    moment = parse_moment(ctx.text, ctx.now, ctx.config.timezone, END_OF_DAY)
    if moment is None:
        return Retry("att.hint_date")
    return moment.isoformat() if moment > ctx.now else Retry("att.hint_past")


def read_cutoff(ctx: Context, data: Data) -> Any:
    """A moment after the due one, or "tidak" for none."""
    if ctx.text.lower() in NO_CUTOFF:
        return None
    moment = parse_moment(ctx.text, ctx.now, ctx.config.timezone, END_OF_DAY)
    if moment is None:
        return Retry("att.hint_date")
    return moment.isoformat() if moment > datetime.fromisoformat(data["due_at"]) else Retry("tgs.hint_cutoff")


async def confirm_values(ctx: Context, data: Data) -> dict[str, str]:
    """The tugas as it will be saved."""
    target = Assignment(cohort=data["cohort"], mentor_id=data["mentor_id"])
    cutoff = data["cutoff_at"]
    return {"title": data["title"], "description": data["description"], "due": show(ctx, data["due_at"]),
            "cutoff": show(ctx, cutoff) if cutoff else t("tgs.no_cutoff", ctx.lang),
            "audience": await audience_label(ctx.session, target, ctx.lang)}


async def save_tugas(ctx: Context, data: Data) -> bool:
    """Store the tugas and announce it to its participants."""
    cutoff = data["cutoff_at"]
    assignment = await create_assignment(
        ctx.session, title=data["title"], description=data["description"], cohort=data["cohort"],
        mentor_id=data["mentor_id"], due_at=datetime.fromisoformat(data["due_at"]),
        cutoff_at=datetime.fromisoformat(cutoff) if cutoff else None, created_by_id=ctx.person.id, now=ctx.now)
    announcements = await announce_assignment(ctx.session, assignment, ctx.config)
    for message in announcements:
        ctx.send(message)
    ctx.reply("tgs.created", title=assignment.title, count=len(announcements))
    return True


TUGAS_FORM = Form(FLOW, prefix="tgf", label_key="tgs.form_label", finish=save_tugas, steps=(
    Step("audience", "tgs.form_audience", pick_option("options", "att.hint_audience"), into=("cohort", "mentor_id"),
         buttons=option_buttons("options", "aud"), when=lambda data: len(data["options"]) > 1),
    Step("title", "tgs.form_title", short_text(200, "tgs.hint_title")),
    Step("description", "tgs.form_description", short_text(3000, "tgs.hint_description")),
    Step("due", "tgs.form_due", read_due, into="due_at"),
    Step("cutoff", "tgs.form_cutoff", read_cutoff, into="cutoff_at",
         buttons=lambda ctx, data: [Choice(t("tgs.btn_no_cutoff", ctx.lang), "nocut", None)]),
    Step("confirm", "tgs.form_confirm", confirmation("att.hint_confirm"), into=(), values=confirm_values,
         buttons=lambda ctx, data: [Choice(t("att.btn_save", ctx.lang), "save", True)]),
))


@action("tgf", roles=MANAGERS)
async def tugas_form_button(ctx: Context, argument: str) -> None:
    """tgf:new starts; tgf:aud:1 picks the cohort; tgf:nocut skips the cut-off; tgf:save stores."""
    if argument == "new":
        await start_tugas_form(ctx)
    else:
        await TUGAS_FORM.press(ctx, argument)


async def start_tugas_form(ctx: Context) -> None:
    """A mentor's tugas is for their group; a coordinator picks a cohort."""
    data = await audience_choice(ctx.session, ctx.person, ctx.lang)
    if data is None:
        ctx.reply("att.form_no_cohorts")
        return
    await TUGAS_FORM.start(ctx, data)
