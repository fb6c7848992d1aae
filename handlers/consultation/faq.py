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
    short_line,
    ticket_for_staff,
    topic_label,
)
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.intents import is_acknowledgement
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import option_number, record_id
from handlers.kernel.registry import TICKET_AND_TEXT, action, command, flow
from handlers.kernel.roles import COORDINATORS, STAFF
from handlers.kernel.spelling import content_stems
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import (
    AuditEntry,
    FaqEntry,
    FaqStatus,
    Person,
    Role,
    Ticket,
    TicketMessage,
    TicketStatus,
)

MIN_CONTENT_WORDS = 2  # "nib?" alone would match every FAQ that mentions NIB
LIST_LIMIT = 10
PICK_LIMIT = 8  # answers offered to choose from (the newest ones)
EDIT_FLOW = "faq_edit"
FIELDS = {"tanya": "question", "pertanyaan": "question", "q": "question",
          "jawab": "answer", "jawaban": "answer", "a": "answer"}  # what `ubahfaq 3 <field>` may name


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
    ctx.reply("cons.faq_proposed", buttons=edit_buttons(entry, ctx.lang), id=entry.id)
    for coordinator in await coordinators(ctx.session):
        if coordinator.id != ctx.person.id:
            ctx.send(review_message(entry, coordinator, ctx.person.name, ctx.config))


def edit_buttons(entry: FaqEntry, language: str) -> tuple[Button, ...]:
    """Change the question or the answer of a proposal before it is approved."""
    return (Button(t("cons.btn_faq_edit_question", language), f"fqe:{entry.id}:question"),
            Button(t("cons.btn_faq_edit_answer", language), f"fqe:{entry.id}:answer"))


def review_message(entry: FaqEntry, coordinator: Person, proposer: str, config: Config) -> Outgoing:
    """One FAQ proposal for a coordinator as it stands now, with approve / reject / edit options."""
    lang = language_of(coordinator, config)
    buttons = (Button(t("cons.btn_faq_approve", lang), f"fqa:{entry.id}"),
               Button(t("cons.btn_faq_reject", lang), f"fqr:{entry.id}"), *edit_buttons(entry, lang))
    text = "\n\n".join((t("cons.faq_review", lang, id=entry.id, by=proposer, topic=topic_label(config, entry.topic, lang),
                           question=entry.question, answer=entry.answer), t("cons.faq_edit_hint", lang, id=entry.id)))
    return Outgoing(text=text, person_id=coordinator.id, buttons=buttons)


async def coordinators(session: AsyncSession) -> list[Person]:
    """Active coordinators."""
    query = select(Person).where(Person.role == Role.KOORDINATOR, Person.is_active.is_(True)).order_by(Person.id)
    return list((await session.execute(query)).scalars())


@command("faq", args=TICKET_AND_TEXT, roles=STAFF, help_key="cons.help_faq")
async def faq_command(ctx: Context) -> None:
    """`faq 12 [2 | pertanyaan umum]` proposes an answer of ticket 12; coordinators: `faq`, `faq setuju 3`."""
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


async def propose_from_ticket(ctx: Context, number: str, rest: str | None) -> None:
    """`faq 12`: the only answer, or a choice among several; `faq 12 2`: the second; `faq 12 <teks>`: the
    default answer under a general wording of the question."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    answers = await answers_of(ctx.session, ticket)
    if not answers:
        ctx.reply("cons.faq_no_answer", number=ticket.id)
        return
    choice = rest.strip().lstrip("#") if rest else ""
    if choice.isascii() and choice.isdigit() and len(choice) <= 2:
        if (picked := option_number(choice, len(answers))) is None:
            offer_answers(ctx, ticket, answers)
            return
        await propose(ctx, answers[picked - 1], ticket)
        return
    if len(answers) > 1 and not rest:
        offer_answers(ctx, ticket, answers)
        return
    await propose(ctx, default_answer(ticket, answers), ticket, rest)


async def answers_of(session: AsyncSession, ticket: Ticket) -> list[TicketMessage]:
    """The ticket's answers, oldest first (numbered 1, 2, … as the mentor picks them)."""
    query = (select(TicketMessage).where(TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "answer")
             .order_by(TicketMessage.id))
    return list((await session.execute(query)).scalars())


def default_answer(ticket: Ticket, answers: list[TicketMessage]) -> TicketMessage:
    """The answer that closed the ticket (the last one before it closed, a bare "sama-sama 🙏" skipped), else the latest."""
    until = ticket.resolved_at if ticket.status == TicketStatus.CLOSED else None
    before = [a for a in answers if until is None or a.created_at <= until] or answers
    return next((a for a in reversed(before) if a.text and not is_acknowledgement(a.text)), before[-1])


def offer_answers(ctx: Context, ticket: Ticket, answers: list[TicketMessage]) -> None:
    """Several answers: list them numbered, the suggested one marked, and let the mentor pick."""
    suggested = default_answer(ticket, answers)
    shown = list(enumerate(answers, start=1))[-PICK_LIMIT:]
    lines = [t("cons.faq_pick_line", ctx.lang, n=n, text=short_line(a.text, 120) if a.text else "📎")
             + (t("cons.faq_pick_suggested", ctx.lang) if a.id == suggested.id else "") for n, a in shown]
    buttons = tuple(Button(t("cons.btn_faq_pick", ctx.lang, n=n), f"fqm:{a.id}") for n, a in shown)
    ctx.reply("cons.faq_pick", buttons=buttons, number=ticket.id, count=len(answers), lines="\n".join(lines),
              example=next(n for n, a in shown if a.id == suggested.id))


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
    entry = await ctx.session.get(FaqEntry, number) if (number := record_id(entry_id)) is not None else None
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


def may_edit(person: Person, entry: FaqEntry) -> bool:
    """Coordinators and the mentor who proposed it may reword a proposal until it is decided."""
    return entry.status == FaqStatus.PENDING and (person.role == Role.KOORDINATOR or person.id == entry.proposed_by_id)


@command("ubahfaq", args=r"#?\d+(\s+\S+(\s+.+)?)?", roles=STAFF, help_key="cons.help_ubahfaq")
async def edit_by_command(ctx: Context) -> None:
    """`ubahfaq 3 tanya <teks>` / `ubahfaq 3 jawab <teks>` rewords proposal 3; without text, asks for it."""
    words = ctx.text.split(maxsplit=3)
    field = FIELDS.get(words[2].lower()) if len(words) > 2 else None
    if len(words) < 3 or field is None:
        ctx.reply("cons.faq_edit_usage")
        return
    entry = await editable_entry(ctx, words[1].lstrip("#"))
    if entry is None:
        return
    if len(words) < 4:
        await start_edit(ctx, f"{entry.id}:{field}")
        return
    await save_edit(ctx, entry, field, words[3])


async def editable_entry(ctx: Context, entry_id: str) -> FaqEntry | None:
    """The proposal if this person may still reword it; a clear reply otherwise."""
    entry = await ctx.session.get(FaqEntry, number) if (number := record_id(entry_id)) is not None else None
    if entry is None or (ctx.person.role != Role.KOORDINATOR and entry.proposed_by_id != ctx.person.id):
        ctx.reply("cons.faq_unknown", id=entry_id)
        return None
    if not may_edit(ctx.person, entry):
        ctx.reply("cons.faq_not_pending", id=entry.id)
        return None
    return entry


@action("fqe", roles=STAFF)
async def start_edit(ctx: Context, argument: str) -> None:
    """fqe:3:question / fqe:3:answer: the next message is the new text."""
    entry_id, _, field = argument.partition(":")
    entry = await editable_entry(ctx, entry_id)
    if entry is None:
        return
    if field not in ("question", "answer"):
        ctx.reply("core.unknown_button")
        return
    await set_state(ctx.session, ctx.person.id, EDIT_FLOW, {"entry": entry.id, "field": field}, ctx.now)
    current = entry.question if field == "question" else entry.answer
    ctx.reply("cons.faq_write_question" if field == "question" else "cons.faq_write_answer", id=entry.id,
              current=current)


@flow(EDIT_FLOW, takes_any_text=True)
async def receive_edit(ctx: Context) -> None:
    """The new wording (it may begin with any word: "Buka oss.go.id…" is an answer, not a command)."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    await clear_state(ctx.session, ctx.person.id)
    entry = await editable_entry(ctx, str(state.data["entry"]))
    if entry is not None:
        await save_edit(ctx, entry, str(state.data["field"]), ctx.text)


async def save_edit(ctx: Context, entry: FaqEntry, field: str, text: str) -> None:
    """Store the new wording, keep the old one in the audit log, and show the proposal as it stands."""
    text = text.strip()
    if not text:
        ctx.reply("cons.faq_edit_empty")
        return
    before = entry.question if field == "question" else entry.answer
    if field == "question":
        entry.question = text
    else:
        entry.answer = text
    ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action="faq_edited", subject=f"faq:{entry.id}",
                               detail={"field": field, "before": before}))
    if ctx.person.role == Role.KOORDINATOR:
        proposer = await ctx.session.get(Person, entry.proposed_by_id)
        review = review_message(entry, ctx.person, proposer.name if proposer else "-", ctx.config)
        ctx.send(Outgoing(text=t("cons.faq_edited", ctx.lang, id=entry.id) + "\n\n" + review.text,
                          to=ctx.inbound.address, person_id=ctx.person.id, buttons=review.buttons))
        return
    ctx.reply("cons.faq_edited_proposer", buttons=edit_buttons(entry, ctx.lang), id=entry.id,
              question=entry.question, answer=entry.answer)
