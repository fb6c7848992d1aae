"""Sessions for mentors and coordinators: list, open check-in, rotate the code, close, correct records."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from handlers.activities.attendance import STATUS_KEYS, attendance_of, span, upsert_attendance
from handlers.activities.attendance_jobs import close_meeting
from handlers.activities.audience import (
    can_manage,
    cohorts_of,
    managed_clause,
    oversees,
    visible_participants,
)
from handlers.kernel.context import Context
from handlers.kernel.dates import format_clock, format_time
from handlers.kernel.forms import command_args, pass_on
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import action, command
from handlers.kernel.roles import MANAGERS
from storage.models import (
    Attendance,
    AttendanceStatus,
    AuditEntry,
    LeaveRequest,
    LeaveStatus,
    Meeting,
    Person,
)

LIST_LIMIT = 8


def new_code(old: str = "") -> str:
    """A fresh 4-digit room code, never the same as the one it replaces."""
    while True:
        code = f"{secrets.randbelow(9000) + 1000}"
        if code != old:
            return code


@command("sesi", roles=MANAGERS, help_key="att.help_sesi", menu_key="att.menu_sessions", order=20)
async def list_sessions(ctx: Context) -> None:
    """Sessions of the last week and ahead that this person manages, plus "new session"."""
    if command_args(ctx):
        await pass_on(ctx)
        return
    cohorts = await cohorts_of(ctx.session, ctx.person)
    query = (select(Meeting).where(managed_clause(Meeting, ctx.person, cohorts), Meeting.is_cancelled.is_(False),
                                   Meeting.ends_at >= ctx.now - timedelta(days=7))
             .order_by(Meeting.starts_at).limit(LIST_LIMIT))
    meetings = list((await ctx.session.execute(query)).scalars())
    buttons = tuple(Button(session_label(ctx, m), f"ses:show:{m.id}") for m in meetings)
    key = "att.sessions_list" if meetings else "att.sessions_none"
    ctx.reply(key, buttons=(*buttons, Button(t("att.btn_new_session", ctx.lang), "sesf:new")))


def session_label(ctx: Context, meeting: Meeting) -> str:
    """"Pemasaran digital · 24 Nov 09.00": title, day and start time in the programme zone."""
    local = meeting.starts_at.astimezone(ctx.config.timezone)
    month = t("dates.months_short", ctx.lang).split(",")[local.month - 1]
    return t("att.session_button", ctx.lang, title=meeting.title, day=f"{local.day} {month}",
             time=format_clock(local, ctx.config.timezone))


@action("ses", roles=MANAGERS)
async def session_button(ctx: Context, argument: str) -> None:
    """ses:show|open|room|remote|code|close|fix:12, ses:who:12:5, ses:set:12:5:hadir."""
    verb, *rest = argument.split(":")
    meeting_id = record_id(rest[0]) if rest else None
    meeting = await ctx.session.get(Meeting, meeting_id) if meeting_id is not None else None
    if meeting is None or not await can_manage(ctx.session, ctx.person, meeting):
        ctx.reply("att.meeting_not_found")
        return
    steps = {"show": show_session, "open": ask_where_participants_are, "room": open_in_room,
             "remote": open_remotely, "code": rotate_code, "close": close_now, "fix": list_for_correction}
    if verb in steps:
        await steps[verb](ctx, meeting)
    elif verb in ("who", "set") and len(rest) >= 2 and (person_id := record_id(rest[1])) is not None:
        await correct_attendance(ctx, meeting, person_id, rest[2] if verb == "set" and len(rest) > 2 else None)
    else:
        ctx.reply("core.unknown_button")


async def show_session(ctx: Context, meeting: Meeting) -> None:
    """Details, code, window and the tally of the participants this person sees."""
    people = await visible_participants(ctx.session, ctx.person, meeting)
    records = {r.participant_id: r.status for r in (await ctx.session.execute(
        select(Attendance).where(Attendance.meeting_id == meeting.id))).scalars()}
    tally = ", ".join(f"{sum(records.get(p.id) == s for p in people)} {t(STATUS_KEYS[s], ctx.lang)}"
                      for s in AttendanceStatus)
    missing = sum(p.id not in records for p in people)
    pending = len((await ctx.session.execute(select(LeaveRequest.id).where(
        LeaveRequest.meeting_id == meeting.id, LeaveRequest.status == LeaveStatus.PENDING,
        LeaveRequest.participant_id.in_([p.id for p in people])))).all())
    zone = ctx.config.timezone
    buttons = [Button(t("att.btn_fix", ctx.lang), f"ses:fix:{meeting.id}")]
    if pending:
        buttons.append(Button(t("att.btn_pending", ctx.lang, n=pending), "cmd:izin"))
    if meeting.checkin_closed_at is None and ctx.now < meeting.checkin_closes_at:
        buttons[:0] = [Button(t("att.btn_open", ctx.lang), f"ses:open:{meeting.id}"),
                       Button(t("att.btn_rotate", ctx.lang), f"ses:code:{meeting.id}"),
                       Button(t("att.btn_close", ctx.lang), f"ses:close:{meeting.id}")]
    ctx.reply("att.session_detail", buttons=tuple(buttons), title=meeting.title, when=span(ctx, meeting),
              where=meeting.link or meeting.place, code=meeting.checkin_code,
              opens=format_clock(meeting.checkin_opens_at, zone), closes=format_time(meeting.checkin_closes_at, zone),
              late=format_time(meeting.late_after_at, zone), tally=tally, missing=missing,
              pending=t("att.pending_hint", ctx.lang, n=pending) if pending else pending)


async def ask_where_participants_are(ctx: Context, meeting: Meeting) -> None:
    """Opening check-in starts with a choice: in the room (the mentor reads the code out) or remote (one tap)."""
    if await refused_as_closed(ctx, meeting):
        return
    ctx.reply("att.open_where", title=meeting.title, buttons=(
        Button(t("att.btn_open_room", ctx.lang), f"ses:room:{meeting.id}"),
        Button(t("att.btn_open_remote", ctx.lang), f"ses:remote:{meeting.id}")))


async def refused_as_closed(ctx: Context, meeting: Meeting) -> bool:
    """Say so when the window can no longer be opened."""
    if meeting.checkin_closed_at is not None or ctx.now >= meeting.checkin_closes_at:
        ctx.reply("att.window_already_closed", title=meeting.title)
        return True
    return False


def start_window(ctx: Context, meeting: Meeting, mode: str) -> None:
    """Open the window now (if early), noting who opened it and how."""
    meeting.checkin_opens_at = min(meeting.checkin_opens_at, ctx.now)
    ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action="attendance.open",
                               subject=f"meeting:{meeting.id}", detail={"mode": mode}))


async def open_in_room(ctx: Context, meeting: Meeting) -> None:
    """Check-in with the code only: nothing goes to participants, so presence cannot be recorded from home."""
    if await refused_as_closed(ctx, meeting):
        return
    start_window(ctx, meeting, "room")
    ctx.reply("att.opened_room", title=meeting.title, code=meeting.checkin_code)


async def open_remotely(ctx: Context, meeting: Meeting) -> None:
    """Remote attendance: the one-tap Hadir option (never the room code) to those not yet recorded."""
    if await refused_as_closed(ctx, meeting):
        return
    start_window(ctx, meeting, "remote")
    meeting.checkin_opened_by_id = ctx.person.id
    recorded = set((await ctx.session.execute(
        select(Attendance.participant_id).where(Attendance.meeting_id == meeting.id))).scalars())
    invited = [p for p in await visible_participants(ctx.session, ctx.person, meeting) if p.id not in recorded]
    for person in invited:
        lang = person.language or ctx.config.language
        ctx.tell(person, "att.checkin_opened", title=meeting.title,
                 buttons=(Button(t("att.btn_hadir", lang), f"att:in:{meeting.id}"),))
    ctx.reply("att.opened_remote", title=meeting.title, count=len(invited))


async def rotate_code(ctx: Context, meeting: Meeting) -> None:
    """A new room code (e.g. after the old one was shared outside the room); the old one stops working."""
    if meeting.checkin_closed_at is not None or ctx.now >= meeting.checkin_closes_at:
        ctx.reply("att.window_already_closed", title=meeting.title)
        return
    meeting.checkin_code = new_code(meeting.checkin_code)
    ctx.reply("att.code_rotated", title=meeting.title, code=meeting.checkin_code)


async def close_now(ctx: Context, meeting: Meeting) -> None:
    """Close the window early: everyone without a record becomes alpa."""
    if meeting.checkin_closed_at is not None:
        ctx.reply("att.window_already_closed", title=meeting.title)
        return
    meeting.checkin_closes_at = min(meeting.checkin_closes_at, ctx.now)
    marked, alerts = await close_meeting(ctx.session, meeting, ctx.now, ctx.config)
    for message in alerts:
        ctx.send(message)
    ctx.reply("att.closed", title=meeting.title, count=marked)


async def list_for_correction(ctx: Context, meeting: Meeting) -> None:
    """One button per participant this person sees, with the current status."""
    people = await visible_participants(ctx.session, ctx.person, meeting)
    records = {r.participant_id: r.status for r in (await ctx.session.execute(
        select(Attendance).where(Attendance.meeting_id == meeting.id))).scalars()}
    buttons = tuple(Button(f"{p.name}: {t(STATUS_KEYS[records[p.id]], ctx.lang) if p.id in records else '—'}",
                           f"ses:who:{meeting.id}:{p.id}") for p in people)
    ctx.reply("att.pick_participant" if people else "att.no_participants", buttons=buttons, title=meeting.title)


async def correct_attendance(ctx: Context, meeting: Meeting, participant_id: int, status: str | None) -> None:
    """Without a status: offer the five statuses; with one: change the record and log who did it."""
    participant = await ctx.session.get(Person, participant_id)
    if participant is None or not oversees(ctx.person, participant):
        ctx.reply("att.meeting_not_found")
        return
    if status not in set(AttendanceStatus):
        buttons = tuple(Button(t(STATUS_KEYS[s], ctx.lang), f"ses:set:{meeting.id}:{participant.id}:{s}")
                        for s in AttendanceStatus)
        ctx.reply("att.pick_status", buttons=buttons, participant=participant.name, title=meeting.title)
        return
    record = await attendance_of(ctx.session, meeting.id, participant.id)
    before = record.status if record else None
    await upsert_attendance(ctx.session, record, meeting=meeting, participant_id=participant.id,
                            status=str(status), source="mentor", now=ctx.now, recorded_by_id=ctx.person.id)
    ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action="attendance.correct",
                               subject=f"meeting:{meeting.id}/person:{participant.id}",
                               detail={"from": before, "to": status}))
    label = t(STATUS_KEYS[status], participant.language or ctx.config.language)
    ctx.tell(participant, "att.corrected_participant", title=meeting.title, status=label, by=ctx.person.name)
    ctx.reply("att.corrected", participant=participant.name, title=meeting.title,
              status=t(STATUS_KEYS[status], ctx.lang))
