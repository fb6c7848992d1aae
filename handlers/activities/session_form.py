"""Creating a session from chat (title → date → time → place) or the command line, and announcing it."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import audience_choice, audience_label, participants_of
from handlers.activities.reminders import message_to
from handlers.activities.rules import ActivitiesRules
from handlers.activities.sessions import new_code
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_span, parse_clock_range, parse_day
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
from storage.models import Meeting

URL = re.compile(r"https?://\S+")
FLOW = "ses_form"


async def create_meeting(session: AsyncSession, *, title: str, cohort: str, mentor_id: int | None,
                         starts_at: datetime, ends_at: datetime, place: str, link: str,
                         created_by_id: int | None, now: datetime, config: Config) -> Meeting:
    """Store a session with its code and check-in window (opens before the start, closes at the end)."""
    meeting = Meeting(
        title=title, cohort="" if mentor_id else cohort, mentor_id=mentor_id, created_by_id=created_by_id,
        starts_at=starts_at, ends_at=ends_at, place=place, link=link, checkin_code=new_code(),
        checkin_opens_at=starts_at - timedelta(minutes=config.rules(ActivitiesRules).checkin_opens_before_minutes),
        checkin_closes_at=ends_at, late_after_at=starts_at + timedelta(minutes=config.rules(ActivitiesRules).checkin_grace_minutes),
        created_at=now)
    session.add(meeting)
    await session.flush()
    return meeting


async def announce_meeting(session: AsyncSession, meeting: Meeting, config: Config) -> list[Outgoing]:
    """Tell every participant of the session when and where it is."""
    messages = []
    for person in await participants_of(session, meeting):
        if not person.consent_given:
            continue
        lang = person.language or config.language
        messages.append(message_to(
            person, "att.announced", config, title=meeting.title,
            when=format_span(meeting.starts_at, meeting.ends_at, config.timezone, lang),
            where=meeting.link or meeting.place))
    return messages


def read_day(ctx: Context, data: Data) -> Any:
    """A date today or later."""
    today = ctx.now.astimezone(ctx.config.timezone).date()
    day = parse_day(ctx.text, today)
    if day is None:
        return Retry("att.hint_date")
    return day.isoformat() if day >= today else Retry("att.hint_past")


def read_times(ctx: Context, data: Data) -> Any:
    """Start and end, e.g. 09.00-11.00, not already past."""
    times = parse_clock_range(ctx.text)
    if times is None:
        return Retry("att.hint_time")
    start, end = times[0].isoformat("minutes"), times[1].isoformat("minutes")
    if moments(ctx, data | {"start": start, "end": end})[0] <= ctx.now:
        return Retry("att.hint_past")
    return start, end


def read_place(ctx: Context, data: Data) -> Any:
    """An address, an online link, or both."""
    text = ctx.text
    if not text or len(text) > 300:
        return Retry("att.hint_place")
    link = URL.search(text)
    return (URL.sub("", text).strip(" -,") if link else text), (link[0] if link else "")


async def summary(ctx: Context, data: Data) -> dict[str, str]:
    """The values shown before saving."""
    starts_at, ends_at = moments(ctx, data)
    target = Meeting(cohort=data["cohort"], mentor_id=data["mentor_id"])
    return {"title": data["title"], "when": format_span(starts_at, ends_at, ctx.config.timezone, ctx.lang),
            "where": data["link"] or data["place"], "audience": await audience_label(ctx.session, target, ctx.lang)}


def moments(ctx: Context, data: Data) -> tuple[datetime, datetime]:
    """Start and end as aware datetimes in the programme zone."""
    day, zone = date.fromisoformat(data["day"]), ctx.config.timezone
    return (datetime.combine(day, time.fromisoformat(data["start"]), tzinfo=zone),
            datetime.combine(day, time.fromisoformat(data["end"]), tzinfo=zone))


async def save_session(ctx: Context, data: Data) -> bool:
    """Store the session, announce it to the participants, give the creator the room code."""
    starts_at, ends_at = moments(ctx, data)
    if starts_at <= ctx.now:
        await SESSION_FORM.ask(ctx, data, "date", Retry("att.hint_past"))
        return False
    meeting = await create_meeting(ctx.session, title=data["title"], cohort=data["cohort"],
                                   mentor_id=data["mentor_id"], starts_at=starts_at, ends_at=ends_at,
                                   place=data["place"], link=data["link"], created_by_id=ctx.person.id,
                                   now=ctx.now, config=ctx.config)
    announcements = await announce_meeting(ctx.session, meeting, ctx.config)
    for message in announcements:
        ctx.send(message)
    ctx.reply("att.session_created", title=meeting.title, code=meeting.checkin_code, count=len(announcements),
              buttons=(Button(t("att.btn_show", ctx.lang), f"ses:show:{meeting.id}"),))
    return True


SESSION_FORM = Form(FLOW, prefix="sesf", label_key="att.session_form_label", finish=save_session, steps=(
    Step("audience", "att.form_audience", pick_option("options", "att.hint_audience"), into=("cohort", "mentor_id"),
         buttons=option_buttons("options", "aud"), when=lambda data: len(data["options"]) > 1),
    Step("title", "att.form_title", short_text(200, "att.hint_title")),
    Step("date", "att.form_date", read_day, into="day"),
    Step("time", "att.form_time", read_times, into=("start", "end")),
    Step("place", "att.form_place", read_place, into=("place", "link")),
    Step("confirm", "att.form_confirm", confirmation("att.hint_confirm"), into=(), values=summary,
         buttons=lambda ctx, data: [Choice(t("att.btn_save", ctx.lang), "save", True)]),
))


@action("sesf", roles=MANAGERS)
async def session_form_button(ctx: Context, argument: str) -> None:
    """sesf:new starts the form; sesf:aud:1 picks the audience; sesf:save stores it."""
    if argument == "new":
        await start_session_form(ctx)
    else:
        await SESSION_FORM.press(ctx, argument)


async def start_session_form(ctx: Context) -> None:
    """A mentor's session is for their group; a coordinator picks a cohort."""
    data = await audience_choice(ctx.session, ctx.person, ctx.lang)
    if data is None:
        ctx.reply("att.form_no_cohorts")
        return
    await SESSION_FORM.start(ctx, data)
