"""The mentor's workspace: the queue of waiting tickets, one ticket's thread and record, notes, status."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.notes import names_a_phone, note_by_phone
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import (
    add_message,
    age_text,
    first_question,
    open_button,
    open_ticket_of,
    participant_buttons,
    role_label,
    short_line,
    ticket_for_staff,
    topic_label,
    waiting_since,
)
from handlers.consultation.topics import find_topic, match_topic_name
from handlers.kernel.context import Context
from handlers.kernel.dates import format_stamp
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.registry import TICKET, action, command, flow
from handlers.kernel.roles import STAFF
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import AuditEntry, Person, Role, Ticket, TicketMessage, TicketStatus

QUEUE_LIMIT = 15
QUEUE_BUTTONS = 8
THREAD_LIMIT = 12
EARLIER_LIMIT = 5
NOTE_ARGS = r"(#?\d+|\+\d{8,20})(\s+.+)?"  # a ticket number, or a participant's phone (notes.py)
NOTE_FLOW = "ticket_note"
STATUS_KEYS: dict[str, str] = {
    TicketStatus.OPEN: "cons.status_open", TicketStatus.ANSWERED: "cons.status_answered",
    TicketStatus.CLOSED: "cons.status_closed"}


async def waiting_tickets(session: AsyncSession, person: Person) -> list[Ticket]:
    """Open tickets waiting for this person (all of them for a coordinator), longest waiting first."""
    query = select(Ticket).where(Ticket.status == TicketStatus.OPEN)
    if person.role != Role.KOORDINATOR:
        query = query.where(or_(Ticket.mentor_id == person.id, Ticket.expert_id == person.id))
    tickets = list((await session.execute(query)).scalars())
    return sorted(tickets, key=lambda ticket: (waiting_since(ticket), ticket.id))


async def follow_up_count(session: AsyncSession, ticket: Ticket, opening: TicketMessage | None) -> int:
    """The participant's messages after the question that opened the ticket."""
    if opening is None:
        return 0
    query = select(func.count()).where(TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "question",
                                       TicketMessage.id > opening.id)
    return int((await session.execute(query)).scalar_one())


@command("antrian", roles=STAFF, help_key="cons.help_antrian", menu_key="cons.menu_antrian", order=10)
async def show_queue(ctx: Context) -> None:
    """List the tickets waiting for an answer, oldest first, with age, topic, who and the last line."""
    tickets = await waiting_tickets(ctx.session, ctx.person)
    if not tickets:
        ctx.reply("cons.queue_empty")
        return
    lines = [await queue_line(ctx, ticket) for ticket in tickets[:QUEUE_LIMIT]]
    if len(tickets) > QUEUE_LIMIT:
        lines.append(t("cons.queue_more", ctx.lang, count=len(tickets) - QUEUE_LIMIT))
    buttons = tuple(button for ticket in tickets[:QUEUE_BUTTONS] for button in open_button(ticket, ctx.lang))
    ctx.reply("cons.queue", buttons=buttons, count=len(tickets), lines="\n\n".join(lines),
              example=str(tickets[0].id))


async def queue_line(ctx: Context, ticket: Ticket) -> str:
    """One ticket in the queue: number, age, topic, participant and business, the question that opened it."""
    participant = await ctx.session.get(Person, ticket.participant_id)
    opening = await first_question(ctx.session, ticket)
    line = t("cons.queue_line", ctx.lang, number=ticket.id, age=age_text(ctx.now - waiting_since(ticket), ctx.lang),
             topic=topic_label(ctx.config, ticket.topic, ctx.lang), participant=participant.name if participant else "-",
             business=(participant.business_name if participant else "") or "-",
             last=short_line(opening.text) if opening and opening.text else "📎")
    more = await follow_up_count(ctx.session, ticket, opening)
    return line + t("cons.queue_follow_ups", ctx.lang, count=more) if more else line


@command("buka", args=TICKET, aliases=("tiket",), roles=STAFF, help_key="cons.help_buka")
async def open_by_command(ctx: Context) -> None:
    """`buka 12` shows ticket 12."""
    words = ctx.text.split()
    if len(words) < 2:
        ctx.reply("cons.buka_usage")
        return
    await show_ticket(ctx, words[1])


@action("tk", roles=STAFF)
async def show_ticket(ctx: Context, number: str) -> None:
    """The thread (with private notes) and the participant's record, with what can be done next."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    participant = await ctx.session.get(Person, ticket.participant_id)
    assert participant is not None
    expert = await ctx.session.get(Person, ticket.expert_id) if ticket.expert_id else None
    ctx.reply("cons.ticket_view", buttons=workspace_buttons(ticket, ctx.lang), number=ticket.id,
              status=t(STATUS_KEYS[ticket.status], ctx.lang), topic=topic_label(ctx.config, ticket.topic, ctx.lang),
              participant=participant.name, business=participant.business_name or "-",
              cohort=participant.cohort or "-", district=participant.district or "-",
              expert=expert.name if expert else "-", earlier=await earlier_tickets(ctx, ticket),
              thread=await thread_text(ctx, ticket))


def workspace_buttons(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """Answer, mark answered, escalate, note, close — or reopen a closed ticket."""
    number = ticket.id
    if ticket.status == TicketStatus.CLOSED:
        return (Button(t("cons.btn_reopen", language), f"reopen:{number}"),
                Button(t("cons.btn_note", language), f"note:{number}"))
    return (Button(t("core.btn_answer", language), f"ans:{number}"),
            Button(t("cons.btn_done", language), f"done:{number}"),
            Button(t("cons.btn_escalate", language), f"esc:{number}"),
            Button(t("cons.btn_note", language), f"note:{number}"),
            Button(t("core.btn_close", language), f"close:{number}"))


async def earlier_tickets(ctx: Context, ticket: Ticket) -> str:
    """The participant's other tickets, newest first: "#3 Permodalan (ditutup)"."""
    query = (select(Ticket).where(Ticket.participant_id == ticket.participant_id, Ticket.id != ticket.id)
             .order_by(Ticket.id.desc()).limit(EARLIER_LIMIT))
    items = [t("cons.earlier_item", ctx.lang, number=other.id, topic=topic_label(ctx.config, other.topic, ctx.lang),
               status=t(STATUS_KEYS[other.status], ctx.lang))
             for other in (await ctx.session.execute(query)).scalars()]
    return ", ".join(items) or "-"


async def thread_text(ctx: Context, ticket: Ticket) -> str:
    """The latest messages of the thread, one paragraph each, notes marked private."""
    query = (select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
             .order_by(TicketMessage.id.desc()).limit(THREAD_LIMIT))
    messages = list(reversed(list((await ctx.session.execute(query)).scalars())))
    lines = []
    for message in messages:
        author = await ctx.session.get(Person, message.author_id)
        who = author.name if author else "-"
        if author is not None and author.role != Role.PESERTA:
            who = f"{who} ({role_label(author, ctx.lang)})"
        key = "cons.thread_note" if message.kind == "note" else "cons.thread_line"
        when = format_stamp(message.created_at, ctx.config.timezone, ctx.lang)
        media = " 📎" * bool(message.attachments)
        lines.append(t(key, ctx.lang, at=when, who=who, text=short_line(message.text, 400) + media))
    return "\n".join(lines)


@command("catatan", args=NOTE_ARGS, roles=STAFF, help_key="cons.help_catatan")
async def note_by_command(ctx: Context) -> None:
    """`catatan 12 teks` keeps a private note on ticket 12 (staff only); `catatan 0812… teks` a mentor's note
    on one of their participants."""
    words = ctx.text.split(maxsplit=2)
    if len(words) < 2:
        ctx.reply("cons.catatan_usage")
        return
    if names_a_phone(words[1]):
        await note_by_phone(ctx, words[1], words[2] if len(words) > 2 else "")
        return
    if len(words) < 3:
        await start_note(ctx, words[1])
        return
    ticket = await ticket_for_staff(ctx, words[1])
    if ticket is not None:
        save_note(ctx, ticket, words[2])


@action("note", roles=STAFF)
async def start_note(ctx: Context, number: str) -> None:
    """The next message is a private note on the ticket."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    await set_state(ctx.session, ctx.person.id, NOTE_FLOW, {"ticket": ticket.id}, ctx.now)
    ctx.reply("cons.write_note", number=ticket.id)


@flow(NOTE_FLOW)
async def receive_note(ctx: Context) -> None:
    """Store the note chosen with the button."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    await clear_state(ctx.session, ctx.person.id)
    ticket = await ticket_for_staff(ctx, str(state.data["ticket"]))
    if ticket is not None:
        save_note(ctx, ticket, ctx.text)


def save_note(ctx: Context, ticket: Ticket, text: str) -> None:
    """Append a private note; participants never see notes."""
    if not text and not ctx.inbound.attachments:
        ctx.reply("cons.note_empty")
        return
    add_message(ctx, ticket, "note", ctx.inbound.attachments, text=text)
    ctx.reply("cons.note_saved", number=ticket.id)


@command("dijawab", args=TICKET, roles=STAFF, help_key="cons.help_dijawab")
async def mark_answered_by_command(ctx: Context) -> None:
    """`dijawab 12`: answered another way (phone, visit)."""
    words = ctx.text.split()
    await mark_answered(ctx, words[1] if len(words) > 1 else "")


@action("done", roles=STAFF)
async def mark_answered(ctx: Context, number: str) -> None:
    """Mark a ticket answered without a written answer; the participant is told and may close it."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=ticket.id)
        return
    ticket.status = TicketStatus.ANSWERED
    ticket.first_response_at = ticket.first_response_at or ctx.now
    ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action="ticket_marked_answered",
                               subject=f"ticket:{ticket.id}"))
    ctx.reply("cons.marked_answered", number=ticket.id)
    participant = await ctx.session.get(Person, ticket.participant_id)
    if participant is not None:
        ctx.tell(participant, "cons.marked_answered_told", buttons=participant_buttons(ticket, participant.language),
                 number=ticket.id, name=ctx.person.name)


@command("bukalagi", args=TICKET, roles=STAFF, help_key="cons.help_bukalagi")
async def reopen_by_command(ctx: Context) -> None:
    """`bukalagi 12` reopens a closed ticket."""
    words = ctx.text.split()
    await reopen(ctx, words[1] if len(words) > 1 else "")


@action("reopen", roles=STAFF)
async def reopen(ctx: Context, number: str) -> None:
    """Reopen a closed ticket so the conversation continues in it (one active ticket per participant)."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    if ticket.status != TicketStatus.CLOSED:
        ctx.reply("cons.not_closed", number=ticket.id)
        return
    active = await open_ticket_of(ctx.session, ticket.participant_id)
    if active is not None:
        ctx.reply("cons.reopen_conflict", number=ticket.id, other=active.id)
        return
    ticket.status, ticket.resolved_at, ticket.closed_by_id = TicketStatus.OPEN, None, None
    ticket.last_message_at = ctx.now
    ctx.reply("cons.reopened", number=ticket.id)
    participant = await ctx.session.get(Person, ticket.participant_id)
    if participant is not None:
        ctx.tell(participant, "cons.reopened_told", number=ticket.id, name=ctx.person.name)


@command("topik", args=r"#?\d+\s+.+", roles=STAFF, help_key="cons.help_topik")
async def change_topic(ctx: Context) -> None:
    """`topik 12 pemasaran` corrects a ticket's topic."""
    words = ctx.text.split(maxsplit=2)
    typed = match_topic_name(words[2], ctx.config.rules(ConsultationRules).topics, ctx.lang) if len(words) > 2 else None
    if len(words) < 3 or typed is None:
        names = ", ".join(topic.key for topic in ctx.config.rules(ConsultationRules).topics)
        ctx.reply("cons.topik_usage", topics=names)
        return
    ticket = await ticket_for_staff(ctx, words[1])
    if ticket is None:
        return
    ticket.topic = typed.key
    topic = find_topic(ctx.config.rules(ConsultationRules).topics, typed.key)
    ctx.reply("cons.topic_changed", number=ticket.id, topic=topic.label(ctx.lang) if topic else typed.key)
