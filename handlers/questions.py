"""Consultation core: a participant's question becomes a ticket for their own mentor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Attachment, Button, Outgoing
from handlers.registry import STAFF, action, command, flow
from handlers.state import clear_state, set_state
from storage.models import Person, Role, Ticket, TicketMessage, TicketStatus

ACTIVE = (TicketStatus.OPEN, TicketStatus.ANSWERED)


async def open_ticket_of(session: AsyncSession, participant_id: int) -> Ticket | None:
    """The participant's ticket that is still open or awaiting their reaction, newest first."""
    query = (select(Ticket).where(Ticket.participant_id == participant_id, Ticket.status.in_(ACTIVE))
             .order_by(Ticket.id.desc()).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


def add_message(ctx: Context, ticket: Ticket, kind: str, attachments: tuple[Attachment, ...] = (),
                text: str | None = None) -> TicketMessage:
    """Append the current inbound to a ticket's thread."""
    message = TicketMessage(ticket_id=ticket.id, author_id=ctx.person.id, kind=kind,
                            text=ctx.text if text is None else text,
                            attachments=[a.to_json() for a in attachments], created_at=ctx.now)
    ctx.session.add(message)
    ticket.last_message_at = ctx.now
    return message


def mentor_buttons(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """What a mentor can do from a notification."""
    return (Button(t("core.btn_answer", language), f"ans:{ticket.id}"),
            Button(t("core.btn_close", language), f"close:{ticket.id}"))


def participant_buttons(ticket: Ticket, language: str) -> tuple[Button, ...]:
    """What a participant can do after an answer."""
    return (Button(t("core.btn_close_done", language), f"close:{ticket.id}"),)


def notify(ctx: Context, recipient: Person, key: str, ticket: Ticket, *, buttons: tuple[Button, ...] = (),
           **values: str) -> None:
    """Tell someone about a ticket, carrying the sender's media along."""
    lang = recipient.language or ctx.config.language
    ctx.send(Outgoing(text=t(key, lang, number=str(ticket.id), **values), person_id=recipient.id,
                      buttons=buttons, attachments=ctx.inbound.attachments, ref=f"ticket:{ticket.id}"))


def question_too_long(ctx: Context) -> bool:
    """Reply with the limit when the text is longer than a mentor can read on a phone."""
    if len(ctx.text) <= ctx.config.max_question_chars:
        return False
    ctx.reply("core.too_long", length=f"{len(ctx.text):,}".replace(",", "."),
              limit=f"{ctx.config.max_question_chars:,}".replace(",", "."))
    return True


async def ask_question(ctx: Context) -> None:
    """Free text or media from a participant: join the open ticket or open a new one."""
    if question_too_long(ctx):
        return
    if not ctx.text and not ctx.inbound.attachments:
        ctx.reply("core.empty_question")
        return
    ticket = await open_ticket_of(ctx.session, ctx.person.id)
    if ticket is not None:
        await add_follow_up(ctx, ticket)
        return
    await create_ticket(ctx, topic="lainnya")


async def create_ticket(ctx: Context, *, topic: str, text: str | None = None,
                        attachments: tuple[Attachment, ...] | None = None) -> Ticket | None:
    """Open a ticket for the participant's own mentor and tell both sides."""
    mentor = await ctx.session.get(Person, ctx.person.mentor_id) if ctx.person.mentor_id else None
    if mentor is None:
        ctx.reply("core.no_mentor", contact=ctx.config.coordinator_contact)
        return None
    ticket = Ticket(participant_id=ctx.person.id, mentor_id=mentor.id, status=TicketStatus.OPEN,
                    topic=topic, created_at=ctx.now, last_message_at=ctx.now)
    ctx.session.add(ticket)
    await ctx.session.flush()
    body = ctx.text if text is None else text
    add_message(ctx, ticket, "question", ctx.inbound.attachments if attachments is None else attachments, text=body)
    ctx.reply("core.ticket_received", number=str(ticket.id), mentor=mentor.name)
    notify(ctx, mentor, "core.new_question", ticket, buttons=mentor_buttons(ticket, mentor.language),
           participant=ctx.person.name, business=ctx.person.business_name or "-", text=body or "📎")
    return ticket


async def add_follow_up(ctx: Context, ticket: Ticket) -> None:
    """A participant's further message joins the open thread and reaches the mentor."""
    add_message(ctx, ticket, "question", ctx.inbound.attachments)
    ticket.status = TicketStatus.OPEN
    mentor = await ctx.session.get(Person, ticket.mentor_id)
    assert mentor is not None
    ctx.reply("core.follow_up_added", number=str(ticket.id))
    notify(ctx, mentor, "core.follow_up", ticket, buttons=mentor_buttons(ticket, mentor.language),
           participant=ctx.person.name, text=ctx.text or "📎")


async def ticket_for_staff(ctx: Context, number: str) -> Ticket | None:
    """The ticket if this mentor may act on it; a clear reply otherwise."""
    ticket = await ctx.session.get(Ticket, int(number)) if number.isdigit() else None
    if ticket is None or not may_handle(ctx.person, ticket):
        ctx.reply("core.ticket_not_yours", number=number)
        return None
    return ticket


def may_handle(person: Person, ticket: Ticket) -> bool:
    """A mentor handles only their own participants' tickets; a coordinator any."""
    return person.role == Role.KOORDINATOR or ticket.mentor_id == person.id


@action("ans", roles=STAFF)
async def start_answer(ctx: Context, number: str) -> None:
    """The mentor pressed Jawab: the next message is the answer."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=number)
        return
    await set_state(ctx.session, ctx.person.id, "answer", {"ticket": ticket.id}, ctx.now)
    ctx.reply("core.write_answer", number=number)


@flow("answer")
async def receive_answer(ctx: Context) -> None:
    """The text after Jawab is the answer to the chosen ticket."""
    from handlers.state import get_state

    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    ticket = await ctx.session.get(Ticket, int(state.data["ticket"]))
    await clear_state(ctx.session, ctx.person.id)
    if ticket is None or not may_handle(ctx.person, ticket):
        ctx.reply("core.ticket_not_yours", number=str(state.data["ticket"]))
        return
    await post_answer(ctx, ticket)


@command("jawab", roles=STAFF, help_key="core.help_jawab")
async def answer_by_command(ctx: Context) -> None:
    """`jawab 12 text…` answers ticket 12 in one message (handy on WhatsApp)."""
    words = ctx.text.split(maxsplit=2)
    if len(words) < 2 or not words[1].lstrip("#").isdigit():
        ctx.reply("core.jawab_usage")
        return
    ticket = await ticket_for_staff(ctx, words[1].lstrip("#"))
    if ticket is None:
        return
    if len(words) < 3 and not ctx.inbound.attachments:
        await start_answer(ctx, str(ticket.id))
        return
    await post_answer(ctx, ticket, text=words[2] if len(words) > 2 else "")


async def post_answer(ctx: Context, ticket: Ticket, *, text: str | None = None) -> None:
    """Record the mentor's answer and deliver it to the participant, naming the mentor."""
    body = ctx.text if text is None else text
    if not body and not ctx.inbound.attachments:
        ctx.reply("core.empty_answer")
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=str(ticket.id))
        return
    add_message(ctx, ticket, "answer", ctx.inbound.attachments, text=body)
    ticket.status = TicketStatus.ANSWERED
    if ticket.first_response_at is None:
        ticket.first_response_at = ctx.now
    participant = await ctx.session.get(Person, ticket.participant_id)
    assert participant is not None
    notify(ctx, participant, "core.answer_received", ticket,
           buttons=participant_buttons(ticket, participant.language),
           mentor=ctx.person.name, role=t(f"core.role_{ctx.person.role}", participant.language),
           text=body or "📎")
    ctx.reply("core.answer_sent", number=str(ticket.id), participant=participant.name)


@action("close")
async def close_ticket(ctx: Context, number: str) -> None:
    """Either side closes the ticket; the other side is told."""
    ticket = await ctx.session.get(Ticket, int(number)) if number.isdigit() else None
    is_owner = ticket is not None and ticket.participant_id == ctx.person.id
    if ticket is None or not (is_owner or may_handle(ctx.person, ticket)):
        ctx.reply("core.ticket_not_yours", number=number)
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=number)
        return
    mark_closed(ticket, ctx.person.id, ctx.now)
    other_id = ticket.mentor_id if is_owner else ticket.participant_id
    other = await ctx.session.get(Person, other_id)
    ctx.reply("core.ticket_closed_self", number=number)
    if other is not None:
        ctx.tell(other, "core.ticket_closed_other", number=number, by=ctx.person.name)


def mark_closed(ticket: Ticket, by_id: int, now: datetime) -> None:
    """Close a ticket, keeping who and when."""
    ticket.status = TicketStatus.CLOSED
    ticket.closed_by_id = by_id
    ticket.resolved_at = ticket.resolved_at or now


@command("tutup", roles=frozenset(Role), help_key="core.help_tutup")
async def close_by_command(ctx: Context) -> None:
    """`tutup 12` closes ticket 12; a participant's bare `tutup` closes their open ticket."""
    words = ctx.text.split()
    if len(words) > 1:
        await close_ticket(ctx, words[1].lstrip("#"))
        return
    ticket = await open_ticket_of(ctx.session, ctx.person.id)
    if ticket is None:
        ctx.reply("core.tutup_usage")
        return
    await close_ticket(ctx, str(ticket.id))
