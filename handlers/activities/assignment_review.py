"""Tugas for mentors and coordinators: what they manage, the review queue, verdicts and extensions."""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.activities.assignments import (
    STATUS_KEYS,
    due_for,
    extension_of,
    latest_submission,
    status_label,
)
from handlers.activities.audience import can_manage, oversees, visible_participants
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, parse_moment
from handlers.kernel.forms import command_args, pass_on
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import action, command, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Assignment, Extension, Person, Role, Submission, SubmissionStatus

WAITING = (SubmissionStatus.TERKIRIM, SubmissionStatus.TERLAMBAT)
QUEUE_LIMIT = 10


@command("tinjau", roles=MANAGERS, help_key="tgs.help_tinjau", menu_key="tgs.menu_review", order=22)
async def show_review_queue(ctx: Context) -> None:
    """Latest versions waiting for a verdict, oldest first."""
    if command_args(ctx):
        await pass_on(ctx)
        return
    latest = (select(Submission.assignment_id, Submission.participant_id,
                     func.max(Submission.version).label("version"))
              .group_by(Submission.assignment_id, Submission.participant_id).subquery())
    query = (select(Submission, Person, Assignment)
             .join(latest, (Submission.assignment_id == latest.c.assignment_id)
                   & (Submission.participant_id == latest.c.participant_id) & (Submission.version == latest.c.version))
             .join(Person, Person.id == Submission.participant_id)
             .join(Assignment, Assignment.id == Submission.assignment_id)
             .where(Submission.status.in_(WAITING)).order_by(Submission.submitted_at))
    if ctx.person.role != Role.KOORDINATOR:
        query = query.where(Person.mentor_id == ctx.person.id)
    rows = (await ctx.session.execute(query.limit(QUEUE_LIMIT))).all()
    if not rows:
        ctx.reply("tgs.queue_empty")
        return
    buttons = tuple(Button(f"{person.name} · {assignment.title} (v{sub.version})", f"rvw:s:{sub.id}")
                    for sub, person, assignment in rows)
    ctx.reply("tgs.queue", buttons=buttons, count=len(rows))


@action("rvw", roles=MANAGERS)
async def review_button(ctx: Context, argument: str) -> None:
    """rvw:s|ok|fix:<submission>, rvw:a:<tugas>, rvw:x:<tugas>:<participant>."""
    verb, *rest = argument.split(":")
    numbers = [number for part in rest if (number := record_id(part)) is not None]
    if verb in ("s", "ok", "fix") and numbers:
        await submission_step(ctx, verb, numbers[0])
    elif verb == "a" and numbers:
        await show_tugas_progress(ctx, numbers[0])
    elif verb == "x" and len(numbers) == 2:
        await ask_extension(ctx, numbers[0], numbers[1])
    else:
        ctx.reply("core.unknown_button")


async def reviewable(ctx: Context, submission_id: int) -> tuple[Submission, Person, Assignment] | None:
    """The submission with its participant and tugas, if this person may review it."""
    submission = await ctx.session.get(Submission, submission_id)
    participant = await ctx.session.get(Person, submission.participant_id) if submission else None
    assignment = await ctx.session.get(Assignment, submission.assignment_id) if submission else None
    if submission is None or participant is None or assignment is None or not oversees(ctx.person, participant):
        ctx.reply("tgs.not_found")
        return None
    return submission, participant, assignment


async def submission_step(ctx: Context, verb: str, submission_id: int) -> None:
    """Show a submission, accept it, or ask for the revision comment."""
    found = await reviewable(ctx, submission_id)
    if found is None:
        return
    submission, participant, assignment = found
    if verb == "s":
        await show_submission(ctx, submission, participant, assignment)
    elif not await awaits_verdict(ctx, submission, participant, assignment):
        return
    elif verb == "ok":
        submission.status = SubmissionStatus.DITERIMA
        submission.reviewed_by_id, submission.reviewed_at = ctx.person.id, ctx.now
        ctx.tell(participant, "tgs.accepted_participant", title=assignment.title, mentor=ctx.person.name)
        ctx.reply("tgs.accepted", participant=participant.name, title=assignment.title)
    else:
        await set_state(ctx.session, ctx.person.id, "rvw_comment", {"submission": submission.id}, ctx.now)
        ctx.reply("tgs.ask_comment", participant=participant.name, title=assignment.title)


async def awaits_verdict(ctx: Context, submission: Submission, participant: Person, assignment: Assignment) -> bool:
    """True for the latest version still waiting; otherwise says how it was already reviewed."""
    latest = await latest_submission(ctx.session, assignment.id, participant.id)
    if latest is None or latest.id != submission.id or submission.status not in WAITING:
        ctx.reply("tgs.already_reviewed", participant=participant.name, title=assignment.title,
                  status=t(STATUS_KEYS[submission.status], ctx.lang))
        return False
    return True


async def show_submission(ctx: Context, submission: Submission, participant: Person, assignment: Assignment) -> None:
    """The work with its files, the earlier verdicts, and the verdict buttons."""
    history = (await ctx.session.execute(select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.participant_id == participant.id,
        Submission.version < submission.version).order_by(Submission.version))).scalars()
    earlier = "\n".join(t("tgs.history_line", ctx.lang, version=s.version, status=t(STATUS_KEYS[s.status], ctx.lang),
                          comment=s.review_comment or "—") for s in history)
    text = t("tgs.review_detail", ctx.lang, participant=participant.name, title=assignment.title,
             version=submission.version, status=t(STATUS_KEYS[submission.status], ctx.lang),
             when=format_moment(submission.submitted_at, ctx.config.timezone, ctx.lang),
             text=submission.text or "—", files=len(submission.attachments), history=earlier or "—")
    buttons = ((Button(t("tgs.btn_accept", ctx.lang), f"rvw:ok:{submission.id}"),
                Button(t("tgs.btn_revise", ctx.lang), f"rvw:fix:{submission.id}"))
               if submission.status in WAITING else ())
    ctx.send(Outgoing(text=text, to=ctx.inbound.address, person_id=ctx.person.id, buttons=buttons,
                      attachments=tuple(Attachment.from_json(a) for a in submission.attachments)))


@flow("rvw_comment")
async def receive_revision_comment(ctx: Context) -> None:
    """The comment returns the work to the participant, who can resubmit."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    if not ctx.text:
        ctx.reply("tgs.comment_hint")
        return
    await clear_state(ctx.session, ctx.person.id)
    found = await reviewable(ctx, state.data["submission"])
    if found is not None:
        return_for_revision(ctx, *found, ctx.text)


def return_for_revision(ctx: Context, submission: Submission, participant: Person, assignment: Assignment,
                        comment: str) -> None:
    """Send the work back with the mentor's note; the participant may resubmit (chat and console)."""
    submission.status, submission.review_comment = SubmissionStatus.PERLU_REVISI, comment
    submission.reviewed_by_id, submission.reviewed_at = ctx.person.id, ctx.now
    lang = participant.language or ctx.config.language
    ctx.tell(participant, "tgs.revise_participant", title=assignment.title, mentor=ctx.person.name,
             comment=comment, buttons=(Button(t("tgs.btn_resend", lang), f"tgs:send:{assignment.id}"),))
    ctx.reply("tgs.returned", participant=participant.name, title=assignment.title)


async def show_tugas_progress(ctx: Context, assignment_id: int) -> None:
    """Each visible participant's status, with an extension button for those not yet accepted."""
    assignment = await ctx.session.get(Assignment, assignment_id)
    if assignment is None or not await can_manage(ctx.session, ctx.person, assignment):
        ctx.reply("tgs.not_found")
        return
    lines, buttons = [], []
    for person in await visible_participants(ctx.session, ctx.person, assignment):
        latest = await latest_submission(ctx.session, assignment.id, person.id)
        extension = await extension_of(ctx.session, assignment.id, person.id)
        status = status_label(latest, ctx.lang)
        note = t("tgs.extended_until", ctx.lang, due=format_moment(extension.due_at, ctx.config.timezone,
                                                                    ctx.lang)) if extension else ""
        lines.append(f"• {person.name}: {status}{note}")
        if latest is None or latest.status != SubmissionStatus.DITERIMA:
            buttons.append(Button(t("tgs.btn_extend", ctx.lang, name=person.name), f"rvw:x:{assignment.id}:{person.id}"))
    ctx.reply("tgs.progress", buttons=tuple(buttons), title=assignment.title, description=assignment.description,
              due=format_moment(assignment.due_at, ctx.config.timezone, ctx.lang),
              lines="\n".join(lines) or t("tgs.managed_none", ctx.lang))


async def ask_extension(ctx: Context, assignment_id: int, participant_id: int) -> None:
    """Ask until when the participant may submit."""
    assignment = await ctx.session.get(Assignment, assignment_id)
    participant = await ctx.session.get(Person, participant_id)
    if assignment is None or participant is None or not oversees(ctx.person, participant):
        ctx.reply("tgs.not_found")
        return
    await set_state(ctx.session, ctx.person.id, "tgs_ext",
                    {"assignment": assignment.id, "participant": participant.id}, ctx.now)
    ctx.reply("tgs.ask_extension", participant=participant.name, title=assignment.title)


@flow("tgs_ext")
async def receive_extension(ctx: Context) -> None:
    """A date (and time) later than the current deadline; the participant is told."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    assignment = await ctx.session.get(Assignment, state.data["assignment"])
    participant = await ctx.session.get(Person, state.data["participant"])
    assert assignment is not None
    assert participant is not None
    extension = await extension_of(ctx.session, assignment.id, participant.id)
    default_time = assignment.due_at.astimezone(ctx.config.timezone).timetz().replace(tzinfo=None)
    due_at = parse_moment(ctx.text, ctx.now, ctx.config.timezone, default_time)
    if due_at is None or due_at <= max(ctx.now, due_for(assignment, extension)):
        ctx.reply("tgs.extension_hint" if due_at is None else "tgs.extension_too_early")
        return
    if extension is None:
        extension = Extension(assignment_id=assignment.id, participant_id=participant.id, created_at=ctx.now,
                              due_at=due_at)
        ctx.session.add(extension)
    extension.due_at, extension.granted_by_id = due_at, ctx.person.id
    await clear_state(ctx.session, ctx.person.id)
    lang = participant.language or ctx.config.language
    ctx.tell(participant, "tgs.extended_participant", title=assignment.title,
             due=format_moment(due_at, ctx.config.timezone, lang),
             buttons=(Button(t("tgs.btn_send", lang), f"tgs:send:{assignment.id}"),))
    ctx.reply("tgs.extended", participant=participant.name, title=assignment.title,
              due=format_moment(due_at, ctx.config.timezone, ctx.lang))
