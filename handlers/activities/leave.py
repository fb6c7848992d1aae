"""Izin and sakit requests: sent to the participant's mentor, approved or rejected with a button."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from handlers.activities.attendance import (
    STATUS_KEYS,
    attendance_of,
    span,
    upcoming_meetings_for,
    upsert_attendance,
)
from handlers.activities.audience import oversees
from handlers.kernel.context import Context
from handlers.kernel.forms import command_args
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.parking import draft_button, keep_offered_draft
from handlers.kernel.registry import action, command, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import LeaveRequest, LeaveStatus, Meeting, Person, Role

DECISION_KEYS: dict[str, str] = {
    LeaveStatus.PENDING: "att.decision_pending", LeaveStatus.APPROVED: "att.decision_approved",
    LeaveStatus.REJECTED: "att.decision_rejected"}
LIST_LIMIT = 10  # requests listed by `izin` (a phone screen)
BUTTON_LIMIT = 4  # requests with approve / reject options under the list
TOLD_KEYS: dict[str, str] = {  # what the participant is told of the decision
    LeaveStatus.APPROVED: "att.leave_approved_participant", LeaveStatus.REJECTED: "att.leave_rejected_participant"}


async def offer_leave(ctx: Context) -> None:
    """"izin kak", "bsk sy ga bs dtg": offer izin/sakit for the next session, keeping the text as a question too."""
    upcoming = await upcoming_meetings_for(ctx.session, ctx.person, ctx.now)
    draft = await keep_offered_draft(ctx)
    if not upcoming:  # say why there is nothing to ask leave for; the text can still reach the mentor
        ctx.reply("att.leave_no_session", buttons=(draft_button(ctx, "att.btn_leave_to_mentor", draft),
                                                   draft_button(ctx, "att.btn_leave_drop", draft, "drop")))
        return
    meeting = upcoming[0]
    buttons = (Button(t("att.btn_izin", ctx.lang), f"att:leave:{meeting.id}:izin"),
               Button(t("att.btn_sakit", ctx.lang), f"att:leave:{meeting.id}:sakit"),
               draft_button(ctx, "att.btn_not_leave", draft))
    ctx.reply("att.leave_offer", buttons=buttons, title=meeting.title, when=span(ctx, meeting))


async def ask_reason_again(ctx: Context) -> None:
    """Back with `lanjut`: ask for the reason of the request again."""
    state = await get_state(ctx.session, ctx.person.id)
    meeting = await ctx.session.get(Meeting, int(state.data["meeting"])) if state is not None else None
    if state is None or meeting is None:
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("att.meeting_not_found")
        return
    ctx.reply("att.leave_reason_prompt", kind=t(STATUS_KEYS[state.data["kind"]], ctx.lang), title=meeting.title)


@flow("att_leave", keeps=True, resume=ask_reason_again, label_key="att.leave_form_label")
async def receive_leave_reason(ctx: Context) -> None:
    """The reason (with an optional photo, e.g. a doctor's note); photo first, reason next also works."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    data = dict(state.data)
    data["attachments"] = [*data["attachments"], *(a.to_json() for a in ctx.inbound.attachments)]
    if not ctx.text:
        await set_state(ctx.session, ctx.person.id, "att_leave", data, ctx.now)
        ctx.reply("att.leave_need_reason" if ctx.inbound.attachments else "att.leave_reason_hint")
        return
    await clear_state(ctx.session, ctx.person.id)
    await submit_leave_request(ctx, data)


async def submit_leave_request(ctx: Context, data: dict[str, Any]) -> None:
    """Store the request and ask the participant's own mentor to decide."""
    meeting = await ctx.session.get(Meeting, data["meeting"])
    mentor = await ctx.session.get(Person, ctx.person.mentor_id) if ctx.person.mentor_id else None
    if meeting is None or mentor is None:
        ctx.reply("core.no_mentor", contact=ctx.config.coordinator_contact)
        return
    request = LeaveRequest(meeting_id=meeting.id, participant_id=ctx.person.id, kind=data["kind"],
                           reason=ctx.text, attachments=data["attachments"], created_at=ctx.now)
    ctx.session.add(request)
    await ctx.session.flush()
    language = mentor.language or ctx.config.language
    buttons = (Button(t("att.btn_approve", language), f"lv:ok:{request.id}"),
               Button(t("att.btn_reject", language), f"lv:no:{request.id}"))
    text = t("att.leave_for_mentor", language, participant=ctx.person.name,
             kind=t(STATUS_KEYS[request.kind], language), title=meeting.title,
             when=span(ctx, meeting), reason=request.reason) + "\n\n" + t("att.leave_decide_hint", language,
                                                                           id=request.id)
    ctx.send(Outgoing(text=text, person_id=mentor.id, buttons=buttons, ref=f"leave:{request.id}",
                      attachments=tuple(Attachment.from_json(a) for a in request.attachments)))
    ctx.reply("att.leave_sent", kind=t(STATUS_KEYS[request.kind], ctx.lang), title=meeting.title,
              mentor=mentor.name)


@action("lv", roles=MANAGERS)
async def decide_leave_request(ctx: Context, argument: str) -> None:
    """lv:ok:7 approves (recorded as izin/sakit), lv:no:7 rejects; the participant is told."""
    await decide(ctx, argument)


async def decide(ctx: Context, argument: str, reason: str = "") -> None:
    """Approve ("ok:7") or reject ("no:7", with the mentor's reason if typed) and tell the participant."""
    verb, _, number = argument.partition(":")
    request_id = record_id(number)
    request = await ctx.session.get(LeaveRequest, request_id) if request_id is not None else None
    participant = await ctx.session.get(Person, request.participant_id) if request else None
    meeting = await ctx.session.get(Meeting, request.meeting_id) if request else None
    if request is None or participant is None or meeting is None or not oversees(ctx.person, participant):
        ctx.reply("att.leave_not_found")
        return
    if request.status != LeaveStatus.PENDING or verb not in ("ok", "no"):
        ctx.reply("att.leave_already_decided", participant=participant.name,
                  decision=t(DECISION_KEYS[request.status], ctx.lang))
        return
    request.status = LeaveStatus.APPROVED if verb == "ok" else LeaveStatus.REJECTED
    request.decided_by_id, request.decided_at = ctx.person.id, ctx.now
    if request.status == LeaveStatus.APPROVED:
        record = await attendance_of(ctx.session, meeting.id, participant.id)
        await upsert_attendance(ctx.session, record, meeting=meeting, participant_id=participant.id,
                                status=request.kind, source="leave", now=ctx.now, recorded_by_id=ctx.person.id)
    language = participant.language or ctx.config.language
    told = t(TOLD_KEYS[request.status], language, kind=t(STATUS_KEYS[request.kind], language), title=meeting.title,
             mentor=ctx.person.name)
    if reason and request.status == LeaveStatus.REJECTED:
        told += "\n" + t("att.leave_reject_reason", language, reason=reason)
    ctx.send(Outgoing(text=told, person_id=participant.id))
    ctx.reply("att.leave_decided", participant=participant.name,
              decision=t(DECISION_KEYS[request.status], ctx.lang))


def pending_query(viewer: Person) -> Select[LeaveRequest, Person, Meeting]:
    """Undecided izin/sakit requests of the participants `viewer` oversees, soonest session first (the
    console pages it)."""
    query = (select(LeaveRequest, Person, Meeting)
             .join(Person, Person.id == LeaveRequest.participant_id)
             .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
             .where(LeaveRequest.status == LeaveStatus.PENDING)
             .order_by(Meeting.starts_at, LeaveRequest.id))
    if viewer.role != Role.KOORDINATOR:
        query = query.where(Person.mentor_id == viewer.id)
    return query


async def pending_requests(ctx: Context) -> list[tuple[LeaveRequest, Person, Meeting]]:
    """Undecided izin/sakit requests of the participants this person oversees, soonest session first."""
    query = pending_query(ctx.person)
    return [(request, person, meeting) for request, person, meeting in (await ctx.session.execute(query)).all()]


@command("izin", roles=MANAGERS, help_key="att.help_izin", order=24)
async def list_pending_requests(ctx: Context) -> None:
    """Pending izin/sakit requests, numbered by request id, each with approve / reject."""
    pending = await pending_requests(ctx)
    if not pending:
        ctx.reply("att.leave_none_pending", buttons=(Button(t("att.btn_sessions", ctx.lang), "cmd:sesi"),))
        return
    lines = [t("att.leave_pending_line", ctx.lang, id=request.id, participant=person.name,
               kind=t(STATUS_KEYS[request.kind], ctx.lang), title=meeting.title, when=span(ctx, meeting),
               reason=short(request.reason) or "-")
             for request, person, meeting in pending[:LIST_LIMIT]]
    if len(pending) > LIST_LIMIT:
        lines.append(t("att.leave_pending_more", ctx.lang, n=len(pending) - LIST_LIMIT))
    buttons = tuple(button for request, person, _ in pending[:BUTTON_LIMIT] for button in (
        Button(t("att.btn_approve_one", ctx.lang, id=request.id, name=first_name(person)), f"lv:ok:{request.id}"),
        Button(t("att.btn_reject_one", ctx.lang, id=request.id, name=first_name(person)), f"lv:no:{request.id}")))
    ctx.reply("att.leave_pending_list", buttons=buttons, count=len(pending), lines="\n\n".join(lines),
              example=pending[0][0].id)


def short(text: str, limit: int = 80) -> str:
    """One line of a reason, cut to fit a phone screen."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def first_name(person: Person) -> str:
    """"Sari" of "Sari Wulandari", for a short button."""
    return person.name.split()[0] if person.name else "-"


@command("setujui", args=r"#?\d+", roles=MANAGERS, help_key="att.help_setujui", order=25)
async def approve_by_command(ctx: Context) -> None:
    """`setujui 3` approves request 3; without a number, the list."""
    number = command_args(ctx).lstrip("#")
    if not number:
        await list_pending_requests(ctx)
        return
    await decide(ctx, f"ok:{number}")


@command("tolak", args=r"#?\d+(\s+.+)?", roles=MANAGERS, help_key="att.help_tolak", order=26)
async def reject_by_command(ctx: Context) -> None:
    """`tolak 3 [alasan]` rejects request 3, the reason goes to the participant; without a number, the list."""
    number, _, reason = command_args(ctx).partition(" ")
    if not number:
        await list_pending_requests(ctx)
        return
    await decide(ctx, f"no:{number.lstrip('#')}", reason.strip())
