"""Creating a session from chat (title → date → time → place) or the command line, and announcing it."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import audience_choice, audience_label, participants_of
from handlers.activities.dates import format_span, parse_clock_range, parse_day
from handlers.activities.reminders import message_to
from handlers.activities.sessions import new_code
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.forms import is_yes
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.registry import action, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
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
        checkin_opens_at=starts_at - timedelta(minutes=config.checkin_opens_before_minutes),
        checkin_closes_at=ends_at, late_after_at=starts_at + timedelta(minutes=config.checkin_grace_minutes),
        created_at=now)
    session.add(meeting)
    await session.flush()
    return meeting


async def announce_meeting(session: AsyncSession, meeting: Meeting, config: Config) -> list[Outgoing]:
    """Tell every participant of the session when and where it is."""
    messages = []
    for person in await participants_of(session, meeting):
        if person.consent_given is False:
            continue
        lang = person.language or config.language
        messages.append(message_to(
            person, "att.announced", config, title=meeting.title,
            when=format_span(meeting.starts_at, meeting.ends_at, config.timezone, lang),
            where=meeting.link or meeting.place))
    return messages


@action("sesf", roles=MANAGERS)
async def session_form_button(ctx: Context, argument: str) -> None:
    """sesf:new starts the form; sesf:aud:1 picks the audience; sesf:save stores it."""
    verb, _, rest = argument.partition(":")
    if verb == "new":
        await start_session_form(ctx)
        return
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW:
        ctx.reply("core.unknown_button")
        return
    data = dict(state.data)
    if verb == "aud" and data["step"] == "audience" and rest.isdigit() and int(rest) < len(data["options"]):
        _, data["cohort"], data["mentor_id"] = data["options"][int(rest)]
        await ask(ctx, data, "title")
    elif verb == "save" and data["step"] == "confirm":
        await save_session(ctx, data)
    else:
        await ask(ctx, data, data["step"])


async def start_session_form(ctx: Context) -> None:
    """A mentor's session is for their group; a coordinator picks a cohort."""
    data = await audience_choice(ctx.session, ctx.person, ctx.lang)
    if data is None:
        ctx.reply("att.form_no_cohorts")
        return
    await ask(ctx, data, "audience" if len(data["options"]) > 1 else "title")


async def ask(ctx: Context, data: dict[str, Any], step: str, *, hint: str | None = None) -> None:
    """Move the form to a step and ask its question (after a hint when the last answer was unusable)."""
    data = {**data, "step": step}
    await set_state(ctx.session, ctx.person.id, FLOW, data, ctx.now)
    prefix = t(hint, ctx.lang) + "\n\n" if hint else ""
    buttons: tuple[Button, ...] = ()
    if step == "audience":
        buttons = tuple(Button(label, f"sesf:aud:{i}") for i, (label, _, _) in enumerate(data["options"]))
    if step == "confirm":
        buttons = (Button(t("att.btn_save", ctx.lang), "sesf:save"),)
        ctx.reply("att.form_confirm", buttons=buttons, prefix=prefix, **(await summary(ctx, data)))
        return
    ctx.reply(f"att.form_{step}", buttons=buttons, prefix=prefix)


async def summary(ctx: Context, data: dict[str, Any]) -> dict[str, str]:
    """The values shown before saving."""
    starts_at, ends_at = moments(ctx, data)
    target = Meeting(cohort=data["cohort"], mentor_id=data["mentor_id"])
    return {"title": data["title"], "when": format_span(starts_at, ends_at, ctx.config.timezone, ctx.lang),
            "where": data["link"] or data["place"], "audience": await audience_label(ctx.session, target, ctx.lang)}


def moments(ctx: Context, data: dict[str, Any]) -> tuple[datetime, datetime]:
    """Start and end as aware datetimes in the programme zone."""
    day, zone = date.fromisoformat(data["day"]), ctx.config.timezone
    return (datetime.combine(day, time.fromisoformat(data["start"]), tzinfo=zone),
            datetime.combine(day, time.fromisoformat(data["end"]), tzinfo=zone))


@flow(FLOW)
async def receive_session_answer(ctx: Context) -> None:
    """Free text is the answer to the current step, or gets the step's hint again."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    data, text = dict(state.data), ctx.text
    step = data["step"]
    if step == "audience":
        match = [o for o in data["options"] if o[0].lower() == text.lower()]
        if match:
            _, data["cohort"], data["mentor_id"] = match[0]
        await ask(ctx, data, "title" if match else "audience", hint=None if match else "att.hint_audience")
    elif step == "title":
        ok = 0 < len(text) <= 200
        await ask(ctx, data | {"title": text}, "date" if ok else "title", hint=None if ok else "att.hint_title")
    elif step == "date":
        await receive_day(ctx, data, text)
    elif step == "time":
        await receive_times(ctx, data, text)
    elif step == "place":
        await receive_place(ctx, data, text)
    elif is_yes(text):
        await save_session(ctx, data)
    else:
        await ask(ctx, data, "confirm", hint="att.hint_confirm")


async def receive_day(ctx: Context, data: dict[str, Any], text: str) -> None:
    """A date today or later."""
    today = ctx.now.astimezone(ctx.config.timezone).date()
    day = parse_day(text, today)
    if day is None or day < today:
        await ask(ctx, data, "date", hint="att.hint_date" if day is None else "att.hint_past")
        return
    await ask(ctx, data | {"day": day.isoformat()}, "time")


async def receive_times(ctx: Context, data: dict[str, Any], text: str) -> None:
    """Start and end, e.g. 09.00-11.00, not already past."""
    times = parse_clock_range(text)
    if times is None:
        await ask(ctx, data, "time", hint="att.hint_time")
        return
    data |= {"start": times[0].isoformat("minutes"), "end": times[1].isoformat("minutes")}
    if moments(ctx, data)[0] <= ctx.now:
        await ask(ctx, data, "time", hint="att.hint_past")
        return
    await ask(ctx, data, "place")


async def receive_place(ctx: Context, data: dict[str, Any], text: str) -> None:
    """An address, an online link, or both."""
    link = URL.search(text)
    place = URL.sub("", text).strip(" -,") if link else text
    if not text or len(text) > 300:
        await ask(ctx, data, "place", hint="att.hint_place")
        return
    await ask(ctx, data | {"place": place, "link": link[0] if link else ""}, "confirm")


async def save_session(ctx: Context, data: dict[str, Any]) -> None:
    """Store the session, announce it to the participants, give the creator the room code."""
    starts_at, ends_at = moments(ctx, data)
    if starts_at <= ctx.now:
        await ask(ctx, data, "date", hint="att.hint_past")
        return
    meeting = await create_meeting(ctx.session, title=data["title"], cohort=data["cohort"],
                                   mentor_id=data["mentor_id"], starts_at=starts_at, ends_at=ends_at,
                                   place=data["place"], link=data["link"], created_by_id=ctx.person.id,
                                   now=ctx.now, config=ctx.config)
    await clear_state(ctx.session, ctx.person.id)
    announcements = await announce_meeting(ctx.session, meeting, ctx.config)
    for message in announcements:
        ctx.send(message)
    ctx.reply("att.session_created", title=meeting.title, code=meeting.checkin_code, count=len(announcements),
              buttons=(Button(t("att.btn_show", ctx.lang), f"ses:show:{meeting.id}"),))
