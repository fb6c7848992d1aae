"""Presensi for participants: check in with the room code or the button, ask for izin or sakit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import audience_clause, is_in_audience
from handlers.activities.rules import ActivitiesRules
from handlers.kernel.context import Context
from handlers.kernel.dates import format_span, format_time
from handlers.kernel.forms import command_args, pass_on
from handlers.kernel.i18n import t
from handlers.kernel.menu import meant_command
from handlers.kernel.messages import Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import action, command, flow
from handlers.kernel.roles import PARTICIPANTS, is_participant
from handlers.kernel.state import clear_state, set_state
from storage.activities import PresensiFacts, refresh_presensi_facts
from storage.models import (
    Attendance,
    AttendanceStatus,
    AuditEntry,
    LeaveRequest,
    LeaveStatus,
    Meeting,
    Person,
)
from storage.outcomes import PRESENT, refresh_participant_presence

CODE = re.compile(r"^\d{4}$")
CODE_IN = re.compile(r"(?<!\d)\d{4}(?!\d)")  # the one four-digit group of a sentence
UPCOMING_DAYS = 14
WRONG_CODE = "checkin.wrong_code"  # audit action of a wrong check-in code (subject meeting:<id>)
STATUS_KEYS: dict[str, str] = {  # attendance status (also izin/sakit of a leave request) -> its word
    AttendanceStatus.HADIR: "att.status_hadir", AttendanceStatus.TERLAMBAT: "att.status_terlambat",
    AttendanceStatus.IZIN: "att.status_izin", AttendanceStatus.SAKIT: "att.status_sakit",
    AttendanceStatus.ALPA: "att.status_alpa"}


async def attendance_of(session: AsyncSession, meeting_id: int, participant_id: int) -> Attendance | None:
    """The participant's record for a meeting, if any."""
    query = select(Attendance).where(Attendance.meeting_id == meeting_id,
                                     Attendance.participant_id == participant_id)
    return (await session.execute(query)).scalar_one_or_none()


async def upsert_attendance(session: AsyncSession, record: Attendance | None, *, meeting: Meeting,
                            participant_id: int, status: str, source: str, now: datetime,
                            recorded_by_id: int | None = None) -> Attendance:
    """Create or overwrite a record (the unique key allows one per meeting and participant); on a closed
    session the participant's kept presensi facts are recomputed in the same transaction."""
    was_present = record is not None and record.status in PRESENT
    if record is None:
        record = Attendance(meeting_id=meeting.id, participant_id=participant_id, created_at=now)
        session.add(record)
    record.status, record.source, record.updated_at = status, source, now
    if was_present != (status in PRESENT):  # the kept first presence (targets' "trained") may move
        await session.flush()
        for statement in refresh_participant_presence([participant_id]):
            await session.execute(statement)
    record.recorded_by_id = recorded_by_id
    record.checked_in_at = now if status in PRESENT and source in ("code", "button") else record.checked_in_at
    if meeting.checkin_closed_at is not None:
        await keep_presensi_facts(session, [participant_id])
    return record


async def keep_presensi_facts(session: AsyncSession, participants: Any) -> None:
    """Recompute the kept presensi facts (storage PresensiFacts) of these participants (ids or a SELECT).

    On PostgreSQL their rows are locked first, in id order: two transactions refreshing one participant
    (a close and a correction) then run one after the other instead of both inserting the row."""
    await session.flush()
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(PresensiFacts.participant_id).where(PresensiFacts.participant_id.in_(participants))
                              .order_by(PresensiFacts.participant_id).with_for_update())
    for statement in refresh_presensi_facts(participants):
        await session.execute(statement)


def is_window_open(meeting: Meeting, now: datetime) -> bool:
    """Check-in is possible now."""
    return (not meeting.is_cancelled and meeting.checkin_closed_at is None
            and meeting.checkin_opens_at <= now < meeting.checkin_closes_at)


async def open_meetings_for(session: AsyncSession, person: Person, now: datetime) -> list[Meeting]:
    """Meetings of the participant whose check-in window is open now."""
    query = select(Meeting).where(
        audience_clause(Meeting, person), Meeting.is_cancelled.is_(False), Meeting.checkin_closed_at.is_(None),
        Meeting.checkin_opens_at <= now, Meeting.checkin_closes_at > now).order_by(Meeting.starts_at)
    return list((await session.execute(query)).scalars())


async def upcoming_meetings_for(session: AsyncSession, person: Person, now: datetime) -> list[Meeting]:
    """Meetings of the participant that have not started, the next two weeks."""
    query = select(Meeting).where(
        audience_clause(Meeting, person), Meeting.is_cancelled.is_(False), Meeting.starts_at > now,
        Meeting.starts_at <= now + timedelta(days=UPCOMING_DAYS)).order_by(Meeting.starts_at).limit(3)
    return list((await session.execute(query)).scalars())


@command("presensi", roles=PARTICIPANTS, help_key="att.help_presensi", menu_key="att.menu_presensi",
         order=20)
async def show_attendance_menu(ctx: Context) -> None:
    """Open check-ins, the next sessions with izin/sakit buttons, and the person's own record."""
    if command_args(ctx):
        await pass_on(ctx)
        return
    open_now = await open_meetings_for(ctx.session, ctx.person, ctx.now)
    if open_now:  # only the check-in prompt, so a WhatsApp "1" means Hadir and nothing else
        await prompt_for_code(ctx, open_now[0])
        return
    upcoming = await upcoming_meetings_for(ctx.session, ctx.person, ctx.now)
    if not upcoming:  # nothing to check in to or excuse from: say so, and offer what can be done instead
        ctx.reply("att.overview_none", buttons=(Button(t("att.btn_tugas", ctx.lang), "cmd:tugas"),
                                                Button(t("att.btn_menu", ctx.lang), "cmd:menu")),
                  record=await record_summary(ctx), days=UPCOMING_DAYS)
        return
    lines = [t("att.upcoming_line", ctx.lang, title=m.title, when=span(ctx, m)) for m in upcoming]
    first = upcoming[0]
    buttons = (Button(t("att.btn_izin", ctx.lang), f"att:leave:{first.id}:izin"),
               Button(t("att.btn_sakit", ctx.lang), f"att:leave:{first.id}:sakit"))
    ctx.reply("att.overview", buttons=buttons, record=await record_summary(ctx), upcoming="\n".join(lines))


async def record_summary(ctx: Context) -> str:
    """"3 hadir, 1 terlambat, 0 izin, 0 sakit, 1 alpa"."""
    query = (select(Attendance.status, func.count()).where(Attendance.participant_id == ctx.person.id)
             .group_by(Attendance.status))
    counts = {row.status: row[1] for row in await ctx.session.execute(query)}
    return ", ".join(f"{counts.get(status, 0)} {t(STATUS_KEYS[status], ctx.lang)}"
                     for status in AttendanceStatus)


def span(ctx: Context, meeting: Meeting) -> str:
    """The meeting's date and times in the programme zone."""
    return format_span(meeting.starts_at, meeting.ends_at, ctx.config.timezone, ctx.lang)


async def prompt_for_code(ctx: Context, meeting: Meeting) -> None:
    """Ask for the room code; the one-tap button too when a mentor opened check-in."""
    buttons = ((Button(t("att.btn_hadir", ctx.lang), f"att:in:{meeting.id}"),)
               if meeting.checkin_opened_by_id else ())
    await set_state(ctx.session, ctx.person.id, "att_code", {"meeting": meeting.id}, ctx.now)
    ctx.reply("att.window_open", buttons=buttons, title=meeting.title)


@command("hadir", args=r"\d{3,8}", roles=PARTICIPANTS, help_key="att.help_hadir", order=21)
async def check_in_command(ctx: Context) -> None:
    """"hadir 4821": check in with the code announced in the room."""
    code = command_args(ctx)
    if not code:
        await show_attendance_menu(ctx)
        return
    if not CODE.match(code):
        await pass_on(ctx)
        return
    await check_in_with_code(ctx, code)


async def check_in_by_bare_code(ctx: Context) -> bool:
    """A participant sent just "4821" while a window is open: treat it as a check-in (router hook)."""
    if not is_participant(ctx.person) or not CODE.match(ctx.text):
        return False
    if not await open_meetings_for(ctx.session, ctx.person, ctx.now):
        return False
    await check_in_with_code(ctx, ctx.text)
    return True


@flow("att_code")
async def receive_code(ctx: Context) -> None:
    """Inside the presensi prompt: the code, also inside a sentence ("kodenya 4821 kak"); a short try at a
    code ("482", "bukan kode") or two codes get a hint; a sentence ("kodenya brp ya kak?"), a photo or a
    mistyped command ("lapran") leaves the prompt and is handled as if it had not been open."""
    text = ctx.text or ""
    codes = CODE_IN.findall(text)
    if len(codes) == 1:
        await check_in_with_code(ctx, codes[0])
        return
    if not codes and (ctx.inbound.attachments or len(text.split()) > 3 or meant_command(text, ctx.person.role)):
        await clear_state(ctx.session, ctx.person.id)
        await pass_on(ctx)
        return
    ctx.reply("att.code_hint")


async def check_in_with_code(ctx: Context, code: str) -> None:
    """Match the code against the participant's open windows (a rotated code no longer works)."""
    meetings = await open_meetings_for(ctx.session, ctx.person, ctx.now)
    if not meetings:
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("att.no_open_window")
        return
    limit = ctx.config.rules(ActivitiesRules).checkin_wrong_code_limit
    tries = await wrong_codes(ctx.session, ctx.person.id, [m.id for m in meetings])
    allowed = [m for m in meetings if tries.get(m.id, 0) < limit]
    meeting = next((m for m in allowed if m.checkin_code == code), None)
    if meeting is not None:
        await record_check_in(ctx, meeting, source="code")
        return
    for guessed in allowed:  # a wrong code counts against every window it could have opened
        ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action=WRONG_CODE,
                                   subject=f"meeting:{guessed.id}", detail={}))
    if all(tries.get(m.id, 0) + 1 >= limit for m in allowed):
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("att.code_locked", title=(allowed or meetings)[0].title, limit=limit)
        return
    ctx.reply("att.wrong_code")


async def wrong_codes(session: AsyncSession, person_id: int, meeting_ids: list[int]) -> dict[int, int]:
    """Wrong check-in codes this person sent, per meeting (recorded in the audit log)."""
    subjects = {f"meeting:{meeting_id}": meeting_id for meeting_id in meeting_ids}
    query = (select(AuditEntry.subject, func.count()).where(
        AuditEntry.action == WRONG_CODE, AuditEntry.actor_id == person_id, AuditEntry.subject.in_(subjects))
        .group_by(AuditEntry.subject))
    return {subjects[subject]: count for subject, count in await session.execute(query)}


async def record_check_in(ctx: Context, meeting: Meeting, *, source: str) -> None:
    """Hadir, or terlambat after the grace period; a second check-in changes nothing."""
    await clear_state(ctx.session, ctx.person.id)
    record = await attendance_of(ctx.session, meeting.id, ctx.person.id)
    if record is not None and record.status in PRESENT and record.checked_in_at is not None:
        ctx.reply("att.already_in", title=meeting.title,
                  time=format_time(record.checked_in_at, ctx.config.timezone))
        return
    status = AttendanceStatus.TERLAMBAT if ctx.now > meeting.late_after_at else AttendanceStatus.HADIR
    await upsert_attendance(ctx.session, record, meeting=meeting, participant_id=ctx.person.id,
                            status=status, source=source, now=ctx.now)
    ctx.reply("att.checked_in_terlambat" if status == AttendanceStatus.TERLAMBAT else "att.checked_in_hadir",
              title=meeting.title,
              time=format_time(ctx.now, ctx.config.timezone))


@action("att", roles=PARTICIPANTS)
async def participant_attendance_button(ctx: Context, argument: str) -> None:
    """att:in:12 (one-tap check-in), att:leave:12:izin (ask for izin/sakit)."""
    verb, _, rest = argument.partition(":")
    meeting_id, _, kind = rest.partition(":")
    number = record_id(meeting_id)
    meeting = await ctx.session.get(Meeting, number) if number is not None else None
    if meeting is None or not is_in_audience(ctx.person, meeting):
        ctx.reply("att.meeting_not_found")
    elif verb == "in":
        await check_in_with_button(ctx, meeting)
    elif verb == "leave" and kind in (AttendanceStatus.IZIN, AttendanceStatus.SAKIT):
        await start_leave_request(ctx, meeting, kind)
    else:
        ctx.reply("core.unknown_button")


async def check_in_with_button(ctx: Context, meeting: Meeting) -> None:
    """The button works only while a mentor-opened window is open."""
    if not is_window_open(meeting, ctx.now):
        ctx.reply("att.window_closed", title=meeting.title)
    elif meeting.checkin_opened_by_id is None:
        await prompt_for_code(ctx, meeting)
    else:
        await record_check_in(ctx, meeting, source="button")


async def start_leave_request(ctx: Context, meeting: Meeting, kind: str) -> None:
    """Izin or sakit is asked before the session starts, once per session."""
    if ctx.now >= meeting.starts_at:
        ctx.reply("att.leave_too_late", title=meeting.title)
        return
    pending = (await ctx.session.execute(select(LeaveRequest.id).where(
        LeaveRequest.meeting_id == meeting.id, LeaveRequest.participant_id == ctx.person.id,
        LeaveRequest.status == LeaveStatus.PENDING))).first()
    if pending is not None:
        ctx.reply("att.leave_pending", title=meeting.title)
        return
    await set_state(ctx.session, ctx.person.id, "att_leave",
                    {"meeting": meeting.id, "kind": kind, "attachments": []}, ctx.now)
    ctx.reply("att.leave_reason_prompt", kind=t(STATUS_KEYS[kind], ctx.lang), title=meeting.title)
