"""Izin and sakit requests: sent to the participant's mentor, approved or rejected with a button."""

from __future__ import annotations

from typing import Any

from handlers.activities.attendance import (
    STATUS_KEYS,
    attendance_of,
    span,
    upcoming_meetings_for,
    upsert_attendance,
)
from handlers.activities.audience import oversees
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.parking import keep_as_draft
from handlers.kernel.registry import action, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import LeaveRequest, LeaveStatus, Meeting, Person

DECISION_KEYS: dict[str, str] = {
    LeaveStatus.PENDING: "att.decision_pending", LeaveStatus.APPROVED: "att.decision_approved",
    LeaveStatus.REJECTED: "att.decision_rejected"}
TOLD_KEYS: dict[str, str] = {  # what the participant is told of the decision
    LeaveStatus.APPROVED: "att.leave_approved_participant", LeaveStatus.REJECTED: "att.leave_rejected_participant"}


async def offer_leave(ctx: Context) -> None:
    """"izin kak", "bsk sy ga bs dtg": offer izin/sakit for the next session, keeping the text as a question too."""
    upcoming = await upcoming_meetings_for(ctx.session, ctx.person, ctx.now)
    draft = keep_as_draft(ctx, offered=bool(upcoming))
    if not upcoming:
        return  # the router offers the kept text as a question, with one tap to send it
    await ctx.session.flush()
    meeting = upcoming[0]
    buttons = (Button(t("att.btn_izin", ctx.lang), f"att:leave:{meeting.id}:izin"),
               Button(t("att.btn_sakit", ctx.lang), f"att:leave:{meeting.id}:sakit"),
               Button(t("att.btn_not_leave", ctx.lang), f"draft:send:{draft.id}"))
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
             when=span(ctx, meeting), reason=request.reason)
    ctx.send(Outgoing(text=text, person_id=mentor.id, buttons=buttons, ref=f"leave:{request.id}",
                      attachments=tuple(Attachment.from_json(a) for a in request.attachments)))
    ctx.reply("att.leave_sent", kind=t(STATUS_KEYS[request.kind], ctx.lang), title=meeting.title,
              mentor=mentor.name)


@action("lv", roles=MANAGERS)
async def decide_leave_request(ctx: Context, argument: str) -> None:
    """lv:ok:7 approves (recorded as izin/sakit), lv:no:7 rejects; the participant is told."""
    verb, _, number = argument.partition(":")
    request = await ctx.session.get(LeaveRequest, int(number)) if number.isdigit() else None
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
        upsert_attendance(ctx.session, record, meeting=meeting, participant_id=participant.id,
                          status=request.kind, source="leave", now=ctx.now, recorded_by_id=ctx.person.id)
    kind = t(STATUS_KEYS[request.kind], participant.language or ctx.config.language)
    ctx.tell(participant, TOLD_KEYS[request.status], kind=kind, title=meeting.title,
             mentor=ctx.person.name)
    ctx.reply("att.leave_decided", participant=participant.name,
              decision=t(DECISION_KEYS[request.status], ctx.lang))
