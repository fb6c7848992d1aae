"""Tugas for participants: open tugas with status, and a submission collected until "selesai"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.audience import (
    audience_clause,
    cohorts_of,
    is_in_audience,
    managed_clause,
    visible_participants,
)
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment
from handlers.kernel.forms import command_args, pass_on
from handlers.kernel.i18n import t
from handlers.kernel.intents import is_question
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.parking import draft_button, keep_offered_draft, take_draft
from handlers.kernel.registry import action, command, flow
from handlers.kernel.roles import MANAGERS, PARTICIPANTS, is_participant
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Assignment, Extension, ParkedFlow, Person, Submission, SubmissionStatus

FLOW = "tgs_collect"
VIEWING = "tgs_view"  # a tugas was just shown with its send button: a photo sent next is probably for it
DONE_WORDS = frozenset({"selesai", "/selesai", "done", "sudah", "kirim"})
ACK_QUIET_SECONDS = 30  # album parts arrive within seconds: acknowledge the first, not each photo
LIST_LIMIT = 8
PART_KINDS = {  # as the participant counts them: kind -> (text for one, text for more)
    "photo": ("tgs.part_photo_one", "tgs.part_photo_other"),
    "document": ("tgs.part_document_one", "tgs.part_document_other"),
    "video": ("tgs.part_video_one", "tgs.part_video_other"),
    "audio": ("tgs.part_audio_one", "tgs.part_audio_other"),
    "file": ("tgs.part_file_one", "tgs.part_file_other"),
    "text": ("tgs.part_text_one", "tgs.part_text_other")}
STATUS_KEYS: dict[str, str] = {
    SubmissionStatus.TERKIRIM: "tgs.status_terkirim", SubmissionStatus.TERLAMBAT: "tgs.status_terlambat",
    SubmissionStatus.DITERIMA: "tgs.status_diterima", SubmissionStatus.PERLU_REVISI: "tgs.status_perlu_revisi"}


async def latest_submission(session: AsyncSession, assignment_id: int, participant_id: int) -> Submission | None:
    """The newest version a participant sent for a tugas."""
    query = (select(Submission).where(Submission.assignment_id == assignment_id,
                                      Submission.participant_id == participant_id)
             .order_by(Submission.version.desc()).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


async def extension_of(session: AsyncSession, assignment_id: int, participant_id: int) -> Extension | None:
    """A later deadline granted to this participant, if any."""
    query = select(Extension).where(Extension.assignment_id == assignment_id,
                                    Extension.participant_id == participant_id)
    return (await session.execute(query)).scalar_one_or_none()


def due_for(assignment: Assignment, extension: Extension | None) -> datetime:
    """The participant's deadline: the extension's if granted."""
    return extension.due_at if extension else assignment.due_at


def cutoff_for(assignment: Assignment, extension: Extension | None) -> datetime | None:
    """After the cut-off nothing is accepted; an extension beyond it moves it."""
    if assignment.cutoff_at is None:
        return None
    return max(assignment.cutoff_at, extension.due_at) if extension else assignment.cutoff_at


def status_label(submission: Submission | None, language: str) -> str:
    """"belum", "terkirim", … as the participant reads it."""
    return t(STATUS_KEYS[submission.status] if submission else "tgs.status_belum", language)


async def list_managed_tugas(ctx: Context) -> None:
    """Recent tugas this person manages with how many were submitted, plus "new tugas"."""
    cohorts = await cohorts_of(ctx.session, ctx.person)
    query = (select(Assignment).where(managed_clause(Assignment, ctx.person, cohorts),
                                       Assignment.due_at >= ctx.now - timedelta(days=30))
             .order_by(Assignment.due_at).limit(8))
    lines, buttons = [], []
    for assignment in (await ctx.session.execute(query)).scalars():
        people = await visible_participants(ctx.session, ctx.person, assignment)
        sent = [await latest_submission(ctx.session, assignment.id, p.id) for p in people]
        lines.append(t("tgs.managed_line", ctx.lang, title=assignment.title, sent=sum(s is not None for s in sent),
                       total=len(people), due=format_moment(assignment.due_at, ctx.config.timezone, ctx.lang)))
        buttons.append(Button(f"📋 {assignment.title}", f"rvw:a:{assignment.id}"))
    buttons.append(Button(t("tgs.btn_new", ctx.lang), "tgf:new"))
    ctx.reply("tgs.managed", buttons=tuple(buttons), lines="\n".join(lines) or t("tgs.managed_none", ctx.lang))


@command("tugas", roles=PARTICIPANTS | MANAGERS, help_key="tgs.help_tugas", menu_key="tgs.menu", order=21)
async def list_tugas(ctx: Context) -> None:
    """Participants: their open tugas; staff: the tugas they manage."""
    if command_args(ctx):
        await pass_on(ctx)
        return
    if not is_participant(ctx.person):
        await list_managed_tugas(ctx)
        return
    query = (select(Assignment).where(audience_clause(Assignment, ctx.person),
                                       Assignment.due_at >= ctx.now - timedelta(days=60))
             .order_by(Assignment.due_at))
    lines: list[str] = []
    buttons: list[Button] = []
    for assignment in (await ctx.session.execute(query)).scalars():
        latest = await latest_submission(ctx.session, assignment.id, ctx.person.id)
        extension = await extension_of(ctx.session, assignment.id, ctx.person.id)
        if (latest is not None and latest.status == SubmissionStatus.DITERIMA) or len(lines) >= LIST_LIMIT:
            continue
        due = format_moment(due_for(assignment, extension), ctx.config.timezone, ctx.lang)
        lines.append(t("tgs.list_line", ctx.lang, title=assignment.title, due=due,
                       status=status_label(latest, ctx.lang)))
        buttons.append(Button(f"📝 {assignment.title}", f"tgs:open:{assignment.id}"))
    if not lines:
        ctx.reply("tgs.none_open")
        return
    ctx.reply("tgs.list", buttons=tuple(buttons), lines="\n".join(lines))


@action("tgs", roles=PARTICIPANTS)
async def tugas_button(ctx: Context, argument: str) -> None:
    """tgs:open:3 shows a tugas, tgs:send:3 starts a submission, tgs:done finishes it."""
    verb, _, number = argument.partition(":")
    if verb == "done":
        await finish_submission(ctx)
        return
    if verb == "take":  # files sent after viewing a tugas belong to it, the participant said
        await take_files_for_tugas(ctx, number)
        return
    if verb == "part":  # the participant said the question-like text belongs to the tugas
        draft = await take_draft(ctx, number)
        if draft is None:
            ctx.reply("core.unknown_button")
        else:
            await add_part(ctx, str(draft.data.get("text", "")))
        return
    assignment_id = record_id(number)
    assignment = await ctx.session.get(Assignment, assignment_id) if assignment_id is not None else None
    if assignment is None or not is_in_audience(ctx.person, assignment):
        ctx.reply("tgs.not_found")
    elif verb == "open":
        await show_tugas(ctx, assignment)
    elif verb == "send":
        await start_submission(ctx, assignment)
    else:
        ctx.reply("core.unknown_button")


async def show_tugas(ctx: Context, assignment: Assignment) -> None:
    """Description, deadline, status and the mentor's last comment."""
    latest = await latest_submission(ctx.session, assignment.id, ctx.person.id)
    extension = await extension_of(ctx.session, assignment.id, ctx.person.id)
    comment = (t("tgs.last_comment", ctx.lang, comment=latest.review_comment)
               if latest is not None and latest.review_comment else "")
    buttons = (() if latest is not None and latest.status == SubmissionStatus.DITERIMA
               else (Button(t("tgs.btn_send", ctx.lang), f"tgs:send:{assignment.id}"),))
    ctx.reply("tgs.detail", buttons=buttons, title=assignment.title, description=assignment.description,
              due=format_moment(due_for(assignment, extension), ctx.config.timezone, ctx.lang),
              status=status_label(latest, ctx.lang), comment=comment)
    if buttons and await refusal(ctx, assignment) is None:
        await set_state(ctx.session, ctx.person.id, VIEWING, {"assignment": assignment.id}, ctx.now)


@flow(VIEWING)
async def after_viewing(ctx: Context) -> None:
    """A photo or file right after opening a tugas, without *Kirim jawaban*: its answer, or a question?
    One offer covers an album (WhatsApp sends each photo as its own message); any text is routed as usual."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    if not ctx.inbound.attachments:
        await clear_state(ctx.session, ctx.person.id)
        await pass_on(ctx)
        return
    data = dict(state.data)
    draft = await ctx.session.get(ParkedFlow, data["draft"]) if data.get("draft") else None
    if draft is None or draft.person_id != ctx.person.id:
        draft = await keep_offered_draft(ctx)
        data.update(draft=draft.id, offered_at=None)
    else:  # the next photo of the album joins the same draft (a new dict: the JSON column sees the change)
        kept = draft.data
        texts = [text for text in (kept.get("text", ""), ctx.text) if text]
        draft.data = {**kept, "text": "\n".join(texts),
                      "attachments": [*kept.get("attachments", []), *(a.to_json() for a in ctx.inbound.attachments)]}
    offered_at = datetime.fromisoformat(data["offered_at"]) if data.get("offered_at") else None
    if offered_at is None or ctx.now - offered_at >= timedelta(seconds=ACK_QUIET_SECONDS):
        data["offered_at"] = ctx.now.isoformat()
        assignment = await ctx.session.get(Assignment, data["assignment"])
        ctx.reply("tgs.files_for_which", title=assignment.title if assignment else "", buttons=(
            Button(t("tgs.btn_files_are_answer", ctx.lang), f"tgs:take:{data['assignment']}:{draft.id}"),
            draft_button(ctx, "tgs.btn_is_question", draft)))
    await set_state(ctx.session, ctx.person.id, VIEWING, data, ctx.now)


async def take_files_for_tugas(ctx: Context, argument: str) -> None:
    """"tgs:take:<assignment>:<draft>": the kept files start the tugas's submission."""
    assignment_part, _, draft_part = argument.partition(":")
    assignment_id = record_id(assignment_part)
    assignment = await ctx.session.get(Assignment, assignment_id) if assignment_id is not None else None
    if assignment is None or not is_in_audience(ctx.person, assignment):
        ctx.reply("tgs.not_found")
        return
    reason = await refusal(ctx, assignment)
    if reason:  # the draft stays: it can still go to the mentor as a question
        ctx.reply(reason, title=assignment.title)
        return
    draft = await take_draft(ctx, draft_part)
    if draft is None:
        ctx.reply("core.unknown_button")
        return
    await set_state(ctx.session, ctx.person.id, FLOW,
                    {"assignment": assignment.id, "texts": [], "attachments": [], "parts": [], "acked_at": None},
                    ctx.now)
    files = [Attachment.from_json(a) for a in draft.data.get("attachments", [])]
    await add_part(ctx, str(draft.data.get("text", "")), files)


async def refusal(ctx: Context, assignment: Assignment) -> str | None:
    """Why no submission is possible now (accepted already, past the cut-off), or None."""
    latest = await latest_submission(ctx.session, assignment.id, ctx.person.id)
    if latest is not None and latest.status == SubmissionStatus.DITERIMA:
        return "tgs.already_accepted"
    cutoff = cutoff_for(assignment, await extension_of(ctx.session, assignment.id, ctx.person.id))
    return "tgs.past_cutoff" if cutoff is not None and ctx.now > cutoff else None


async def start_submission(ctx: Context, assignment: Assignment) -> None:
    """Collect messages until "selesai"."""
    reason = await refusal(ctx, assignment)
    if reason:
        ctx.reply(reason, title=assignment.title)
        return
    await set_state(ctx.session, ctx.person.id, FLOW,
                    {"assignment": assignment.id, "texts": [], "attachments": [], "parts": [], "acked_at": None},
                    ctx.now)
    ctx.reply("tgs.send_prompt", title=assignment.title)


@flow(FLOW, keeps=True, label_key="tgs.collect_label")
async def collect_part(ctx: Context) -> None:
    """Each message (or album part) joins the submission; "selesai" sends it; a question is asked about."""
    if ctx.text.lower() in DONE_WORDS and not ctx.inbound.attachments:
        await finish_submission(ctx)
        return
    if not ctx.inbound.attachments and is_question(ctx.text):
        await ask_part_or_question(ctx)
        return
    await add_part(ctx, ctx.text)


async def ask_part_or_question(ctx: Context) -> None:
    """"kak formatnya gmn?" while collecting: part of the tugas, or a question for the mentor?"""
    draft = await keep_offered_draft(ctx)
    ctx.reply("tgs.part_or_question", buttons=(
        Button(t("tgs.btn_is_part", ctx.lang), f"tgs:part:{draft.id}"), draft_button(ctx, "tgs.btn_is_question", draft)))


async def add_part(ctx: Context, text: str, files: list[Attachment] | None = None) -> None:
    """Add this message's text and media (or the given files, kept before) to the submission being collected."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW:
        ctx.reply("tgs.nothing_collecting")
        return
    data: dict[str, Any] = dict(state.data)
    data["texts"] = [*data["texts"], text] if text else data["texts"]
    files = list(ctx.inbound.attachments) if files is None else files
    data["attachments"] = [*data["attachments"], *(a.to_json() for a in files)]
    added = message_parts(text, files) if files or not text else [{"kind": "text", "caption": False}]
    data["parts"] = [*parts_of(state.data), *added]
    acked_at = datetime.fromisoformat(data["acked_at"]) if data["acked_at"] else None
    if acked_at is None or ctx.now - acked_at >= timedelta(seconds=ACK_QUIET_SECONDS):
        data["acked_at"] = ctx.now.isoformat()
        ctx.reply("tgs.part_received", buttons=(Button(t("tgs.btn_done", ctx.lang), "tgs:done"),),
                  parts=describe_parts(data["parts"], ctx.lang))
    await set_state(ctx.session, ctx.person.id, FLOW, data, ctx.now)


async def finish_submission(ctx: Context) -> None:
    """Store the collected parts as a new version and notify the participant's mentor."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW:
        ctx.reply("tgs.nothing_collecting")
        return
    data = state.data
    assignment = await ctx.session.get(Assignment, data["assignment"])
    if assignment is None or not (data["texts"] or data["attachments"]):
        ctx.reply("tgs.nothing_yet")
        return
    reason = await refusal(ctx, assignment)
    await clear_state(ctx.session, ctx.person.id)
    if reason:
        ctx.reply(reason, title=assignment.title)
        return
    submission = await store_submission(ctx, assignment, data)
    await notify_mentor(ctx, assignment, submission)
    late = submission.status == SubmissionStatus.TERLAMBAT
    ctx.reply("tgs.submitted_terlambat" if late else "tgs.submitted_terkirim", title=assignment.title,
              version=submission.version, parts=describe_parts(parts_of(data), ctx.lang))


def message_parts(text: str, files: list[Attachment]) -> list[dict[str, Any]]:
    """What one message adds as the participant sees it: its files (a caption belongs to the first), or a text."""
    if not files:
        return [{"kind": "text", "caption": False}] if text else []
    kinds = {"voice": "audio", "audio": "audio", "photo": "photo", "document": "document", "video": "video"}
    return [{"kind": kinds.get(a.kind, "file"), "caption": bool(text) and index == 0}
            for index, a in enumerate(files)]


def parts_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The collected parts (rebuilt from texts and files for a collection started before parts were kept)."""
    if "parts" in data:
        return list(data["parts"])
    return ([{"kind": "text", "caption": False} for _ in data["texts"]]
            + [{"kind": "file", "caption": False} for _ in data["attachments"]])


def describe_parts(parts: list[dict[str, Any]], language: str) -> str:
    """"1 foto dengan keterangan, 2 pesan teks": counts by kind, a caption counted with its file."""
    pieces = []
    for kind, (one, other) in PART_KINDS.items():
        same = [part for part in parts if part["kind"] == kind]
        if not same:
            continue
        piece = t(one if len(same) == 1 else other, language, n=len(same))
        captions = sum(part["caption"] for part in same)
        if captions:
            piece = t("tgs.with_caption_one" if captions == 1 else "tgs.with_caption_other", language, part=piece)
        pieces.append(piece)
    return ", ".join(pieces)


async def store_submission(ctx: Context, assignment: Assignment, data: dict[str, Any]) -> Submission:
    """A new row per version; late when after the participant's own deadline."""
    latest = await latest_submission(ctx.session, assignment.id, ctx.person.id)
    extension = await extension_of(ctx.session, assignment.id, ctx.person.id)
    is_late = ctx.now > due_for(assignment, extension)
    submission = Submission(
        assignment_id=assignment.id, participant_id=ctx.person.id, version=(latest.version + 1) if latest else 1,
        text="\n\n".join(data["texts"]), attachments=data["attachments"], is_late=is_late,
        status=SubmissionStatus.TERLAMBAT if is_late else SubmissionStatus.TERKIRIM, submitted_at=ctx.now)
    ctx.session.add(submission)
    await ctx.session.flush()
    return submission


async def notify_mentor(ctx: Context, assignment: Assignment, submission: Submission) -> None:
    """The mentor gets the work with Accept / Needs revision buttons."""
    mentor = await ctx.session.get(Person, ctx.person.mentor_id) if ctx.person.mentor_id else None
    if mentor is None:
        return
    language = mentor.language or ctx.config.language
    buttons = (Button(t("tgs.btn_accept", language), f"rvw:ok:{submission.id}"),
               Button(t("tgs.btn_revise", language), f"rvw:fix:{submission.id}"))
    text = t("tgs.new_submission", language, participant=ctx.person.name, title=assignment.title,
             version=submission.version, status=t(STATUS_KEYS[submission.status], language),
             text=submission.text or "—", files=len(submission.attachments))
    ctx.send(Outgoing(text=text, person_id=mentor.id, buttons=buttons, ref=f"sub:{submission.id}",
                      attachments=tuple(Attachment.from_json(a) for a in submission.attachments)))
