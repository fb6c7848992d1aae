"""FAQ from real answers: a mentor marks an answer reusable, a coordinator approves, participants are offered it."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import (
    answer_message,
    first_question,
    language_of,
    message_to,
    short_line,
    ticket_for_staff,
    topic_label,
)
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.registry import TICKET_AND_TEXT, action, command
from handlers.kernel.roles import COORDINATORS, STAFF
from handlers.kernel.spelling import content_stems
from storage.models import FaqEntry, FaqStatus, Person, Role, Ticket, TicketMessage

MIN_CONTENT_WORDS = 2  # "nib?" alone would match every FAQ that mentions NIB
LIST_LIMIT = 10


async def best_faq(session: AsyncSession, text: str, config: Config) -> FaqEntry | None:
    """The approved FAQ entry closest to the question, if it clears the threshold."""
    stems = content_stems(text)
    if len(stems) < MIN_CONTENT_WORDS:
        return None
    entries = list((await session.execute(select(FaqEntry).where(FaqEntry.status == FaqStatus.APPROVED))).scalars())
    choices = {entry.id: " ".join(content_stems(entry.question)) for entry in entries}
    found = process.extractOne(" ".join(stems), choices, scorer=fuzz.token_set_ratio,
                               score_cutoff=config.rules(ConsultationRules).faq_match_threshold)
    return next(entry for entry in entries if entry.id == found[2]) if found else None


def faq_buttons(entry: FaqEntry, language: str) -> tuple[Button, ...]:
    """"Yes, that answers it" and "No, ask my mentor"."""
    return (Button(t("cons.btn_faq_yes", language), f"fqy:{entry.id}"),
            Button(t("cons.btn_faq_no", language), f"fqn:{entry.id}"))


@action("fqm", roles=STAFF)
async def mark_reusable(ctx: Context, message_id: str) -> None:
    """The button under "answer sent": propose this answer for the FAQ."""
    found = await answer_message(ctx, message_id)
    if found is not None:
        await propose(ctx, *found)


async def propose(ctx: Context, answer: TicketMessage, ticket: Ticket, question: str | None = None) -> None:
    """Create a pending FAQ entry from an answer and ask the coordinators to review it."""
    existing = (await ctx.session.execute(
        select(FaqEntry).where(FaqEntry.source_message_id == answer.id))).scalar_one_or_none()
    if existing is not None:
        ctx.reply("cons.faq_already", id=existing.id)
        return
    opening = await first_question(ctx.session, ticket)
    entry = FaqEntry(topic=ticket.topic, question=question or (opening.text if opening else ""),
                     answer=answer.text, status=FaqStatus.PENDING, source_ticket_id=ticket.id,
                     source_message_id=answer.id, proposed_by_id=ctx.person.id, proposed_at=ctx.now)
    ctx.session.add(entry)
    await ctx.session.flush()
    ctx.reply("cons.faq_proposed", id=entry.id)
    for coordinator in await coordinators(ctx.session):
        if coordinator.id != ctx.person.id:
            ctx.send(review_message(entry, coordinator, ctx.person.name, ctx.config))


def review_message(entry: FaqEntry, coordinator: Person, proposer: str, config: Config) -> Outgoing:
    """One FAQ proposal for a coordinator, with approve / reject buttons."""
    lang = language_of(coordinator, config)
    buttons = (Button(t("cons.btn_faq_approve", lang), f"fqa:{entry.id}"),
               Button(t("cons.btn_faq_reject", lang), f"fqr:{entry.id}"))
    return message_to(coordinator, "cons.faq_review", config, buttons=buttons, id=entry.id, by=proposer,
                      topic=topic_label(config, entry.topic, lang), question=entry.question, answer=entry.answer)


async def coordinators(session: AsyncSession) -> list[Person]:
    """Active coordinators."""
    query = select(Person).where(Person.role == Role.KOORDINATOR, Person.is_active.is_(True)).order_by(Person.id)
    return list((await session.execute(query)).scalars())


@command("faq", args=TICKET_AND_TEXT, roles=STAFF, help_key="cons.help_faq")
async def faq_command(ctx: Context) -> None:
    """`faq 12 [pertanyaan umum]` proposes ticket 12's last answer; coordinators: `faq`, `faq setuju 3`."""
    words = ctx.text.split(maxsplit=2)
    if len(words) >= 3 and words[1].lower() in ("setuju", "tolak") and ctx.person.role == Role.KOORDINATOR:
        await review(ctx, words[2], approve=words[1].lower() == "setuju")
        return
    if len(words) >= 2 and words[1].lstrip("#").isdigit():
        await propose_from_ticket(ctx, words[1], words[2] if len(words) > 2 else None)
        return
    if ctx.person.role == Role.KOORDINATOR:
        await list_pending(ctx)
        return
    ctx.reply("cons.faq_usage")


async def propose_from_ticket(ctx: Context, number: str, question: str | None) -> None:
    """Propose the latest answer of a ticket, optionally under a general wording of the question."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    query = (select(TicketMessage).where(TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "answer")
             .order_by(TicketMessage.id.desc()).limit(1))
    answer = (await ctx.session.execute(query)).scalar_one_or_none()
    if answer is None:
        ctx.reply("cons.faq_no_answer", number=ticket.id)
        return
    await propose(ctx, answer, ticket, question)


@command("tinjaufaq", roles=COORDINATORS, menu_key="cons.menu_faq", order=45)
async def list_pending(ctx: Context) -> None:
    """Coordinators: the FAQ proposals waiting for review, each with approve / reject."""
    query = (select(FaqEntry).where(FaqEntry.status == FaqStatus.PENDING).order_by(FaqEntry.id).limit(LIST_LIMIT))
    entries = list((await ctx.session.execute(query)).scalars())
    if not entries:
        ctx.reply("cons.faq_none_pending")
        return
    for entry in entries:
        proposer = await ctx.session.get(Person, entry.proposed_by_id)
        ctx.send(review_message(entry, ctx.person, proposer.name if proposer else "-", ctx.config))


@action("fqa", roles=COORDINATORS)
async def approve(ctx: Context, entry_id: str) -> None:
    """Approve a proposal: from now on it is offered to participants."""
    await review(ctx, entry_id, approve=True)


@action("fqr", roles=COORDINATORS)
async def reject(ctx: Context, entry_id: str) -> None:
    """Reject a proposal."""
    await review(ctx, entry_id, approve=False)


async def review(ctx: Context, entry_id: str, *, approve: bool) -> None:
    """Record the coordinator's decision and tell the mentor who proposed it."""
    entry = await ctx.session.get(FaqEntry, int(entry_id)) if entry_id.strip().isdigit() else None
    if entry is None:
        ctx.reply("cons.faq_unknown", id=entry_id)
        return
    entry.status = FaqStatus.APPROVED if approve else FaqStatus.REJECTED
    entry.reviewed_by_id, entry.reviewed_at = ctx.person.id, ctx.now
    ctx.reply("cons.faq_approved" if approve else "cons.faq_rejected", id=entry.id,
              question=short_line(entry.question))
    proposer = await ctx.session.get(Person, entry.proposed_by_id)
    if proposer is not None and proposer.id != ctx.person.id:
        ctx.tell(proposer, "cons.faq_approved_told" if approve else "cons.faq_rejected_told", id=entry.id,
                 question=short_line(entry.question))
