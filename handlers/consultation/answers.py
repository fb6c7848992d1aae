"""Staff answer tickets (button, reply, or `jawab 12 …`) and either side closes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from handlers.consultation.rating import ask_rating, rate_ticket
from handlers.consultation.ticketing import (
    ACTIVE,
    add_message,
    handlers_of,
    language_of,
    may_handle,
    mentor_buttons,
    message_to,
    open_button,
    open_ticket_of,
    participant_buttons,
    role_label,
    ticket_for_staff,
)
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.intents import is_acknowledgement
from handlers.kernel.messages import Attachment, Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import TICKET, TICKET_AND_TEXT, action, command, flow
from handlers.kernel.roles import EVERYONE, STAFF
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Person, Ticket, TicketStatus

STAFF_DRAFT = "staff_draft"
DRAFT_MIN_CHARS = 8  # shorter staff text ("ok", "sip") is not taken for an answer
DRAFT_CHOICES = 3


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


@flow("answer", takes_any_text=True, expires=False)
async def receive_answer(ctx: Context) -> None:
    """The text after Jawab is the answer to the chosen ticket."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    ticket = await ctx.session.get(Ticket, int(state.data["ticket"]))
    await clear_state(ctx.session, ctx.person.id)
    if ticket is None or not may_handle(ctx.person, ticket):
        ctx.reply("core.ticket_not_yours", number=str(state.data["ticket"]))
        return
    await post_answer(ctx, ticket)


@command("jawab", args=TICKET_AND_TEXT, roles=STAFF, help_key="core.help_jawab")
async def answer_by_command(ctx: Context) -> None:
    """`jawab 12 text…` answers ticket 12 in one message (handy on WhatsApp)."""
    words = ctx.text.split(maxsplit=2)
    if len(words) < 2 or not (words[1].lstrip("#").isascii() and words[1].lstrip("#").isdigit()):
        ctx.reply("core.jawab_usage")
        return
    ticket = await ticket_for_staff(ctx, words[1])
    if ticket is None:
        return
    if len(words) < 3 and not ctx.inbound.attachments:
        await start_answer(ctx, str(ticket.id))
        return
    await post_answer(ctx, ticket, text=words[2] if len(words) > 2 else "")


async def post_answer(ctx: Context, ticket: Ticket, *, text: str | None = None,
                      attachments: tuple[Attachment, ...] | None = None) -> None:
    """Record the answer, deliver it naming who answered, and copy the other staff on the ticket."""
    body = ctx.text if text is None else text
    media = ctx.inbound.attachments if attachments is None else attachments
    if not body and not media:
        ctx.reply("core.empty_answer")
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=str(ticket.id))
        return
    message = add_message(ctx, ticket, "answer", media, text=body)
    ticket.status = TicketStatus.ANSWERED
    ticket.first_response_at = ticket.first_response_at or ctx.now
    participant = await ctx.session.get(Person, ticket.participant_id)
    assert participant is not None
    lang = language_of(participant, ctx.config)
    ctx.send(message_to(participant, "core.answer_received", ctx.config, buttons=participant_buttons(ticket, lang),
                        attachments=media, ref=f"ticket:{ticket.id}", number=ticket.id,
                        mentor=ctx.person.name, role=role_label(ctx.person, lang), text=body or "📎"))
    await copy_colleagues(ctx, ticket, body, media)
    await ctx.session.flush()
    ctx.reply("core.answer_sent", buttons=(Button(t("cons.btn_faq_mark", ctx.lang), f"fqm:{message.id}"),),
              number=str(ticket.id), participant=participant.name)


async def copy_colleagues(ctx: Context, ticket: Ticket, body: str, media: tuple[Attachment, ...]) -> None:
    """The mentor sees the narasumber's answer (and the other way round) and can still add to it."""
    for person in await handlers_of(ctx.session, ticket):
        if person.id == ctx.person.id:
            continue
        lang = language_of(person, ctx.config)
        ctx.send(message_to(person, "cons.answer_copy", ctx.config,
                            buttons=mentor_buttons(ticket, lang) + open_button(ticket, lang),
                            attachments=media, ref=f"ticket:{ticket.id}", number=ticket.id,
                            name=ctx.person.name, role=role_label(ctx.person, lang), text=body or "📎"))


async def offer_staff_draft(ctx: Context) -> bool:
    """Free text from staff outside any form is kept and offered as the answer to a recent open question."""
    if not ctx.inbound.attachments and (len(ctx.text) < DRAFT_MIN_CHARS or is_acknowledgement(ctx.text)):
        return False
    tickets = await recent_open_tickets(ctx)
    if not tickets:
        return False
    state = await get_state(ctx.session, ctx.person.id)
    earlier: dict[str, Any] = dict(state.data) if state is not None and state.flow == STAFF_DRAFT else {}
    text = "\n".join(part for part in (str(earlier.get("text", "")), ctx.text) if part)
    attachments = [*earlier.get("attachments", []), *(a.to_json() for a in ctx.inbound.attachments)]
    await set_state(ctx.session, ctx.person.id, STAFF_DRAFT, {"text": text, "attachments": attachments}, ctx.now)
    buttons = (*(Button(t("cons.btn_draft_answer", ctx.lang, number=ticket.id), f"sdr:{ticket.id}")
                 for ticket in tickets), Button(t("cons.btn_draft_drop", ctx.lang), "sdr:drop"))
    preview = text if len(text) <= 200 else text[:197] + "…"
    ctx.reply("cons.staff_draft_offer", buttons=buttons, text=preview or "📎")
    return True


async def recent_open_tickets(ctx: Context) -> list[Ticket]:
    """The open questions this staff member handles, most recently active first (a few)."""
    query = (select(Ticket).where(Ticket.status.in_(ACTIVE),
                                  or_(Ticket.mentor_id == ctx.person.id, Ticket.expert_id == ctx.person.id))
             .order_by(Ticket.last_message_at.desc()).limit(DRAFT_CHOICES))
    return list((await ctx.session.execute(query)).scalars())


@flow(STAFF_DRAFT)
async def add_to_staff_draft(ctx: Context) -> None:
    """Another message while the choice is open joins the kept text."""
    if not await offer_staff_draft(ctx):
        ctx.reply("cons.staff_draft_pending")


@action("sdr", roles=STAFF)
async def use_staff_draft(ctx: Context, argument: str) -> None:
    """Post the kept text as the answer to the chosen question, or drop it."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != STAFF_DRAFT:
        ctx.reply("core.unknown_button")
        return
    await clear_state(ctx.session, ctx.person.id)
    if argument == "drop":
        ctx.reply("cons.draft_dropped")
        return
    ticket = await ticket_for_staff(ctx, argument)
    if ticket is not None:
        attachments = tuple(Attachment.from_json(item) for item in state.data["attachments"])
        await post_answer(ctx, ticket, text=state.data["text"], attachments=attachments)


@action("close")
async def close_ticket(ctx: Context, number: str) -> None:
    """Either side closes the ticket; the other side is told and the participant asked to rate."""
    await close_numbered(ctx, number)


async def close_numbered(ctx: Context, number: str, *, ask_to_rate: bool = True) -> None:
    """Close ticket `number` if the person may; `ask_to_rate=False` when the score came with the closing."""
    ticket_id = record_id(number)
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
    number = number[:24]
    is_owner = ticket is not None and ticket.participant_id == ctx.person.id
    if ticket is None or not (is_owner or may_handle(ctx.person, ticket)):
        ctx.reply("core.ticket_not_yours", number=number)
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=number)
        return
    mark_closed(ticket, ctx.person.id, ctx.now)
    ctx.reply("core.ticket_closed_self", number=number)
    participant = await ctx.session.get(Person, ticket.participant_id)
    assert participant is not None
    for other in [participant, *await handlers_of(ctx.session, ticket)]:
        if other.id != ctx.person.id:
            ctx.tell(other, "core.ticket_closed_other", number=number, by=ctx.person.name)
    rating = ask_rating(ticket, participant, ctx.now, ctx.config) if ask_to_rate else None
    if rating is not None:
        ctx.send(rating)


def mark_closed(ticket: Ticket, by_id: int, now: datetime) -> None:
    """Close a ticket, keeping who and when."""
    ticket.status = TicketStatus.CLOSED
    ticket.closed_by_id = by_id
    ticket.resolved_at = now


@command("tutup", args=TICKET, roles=EVERYONE, help_key="core.help_tutup")
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


async def close_with_rating(ctx: Context, ticket: Ticket, score: int) -> None:
    """"⭐⭐⭐⭐⭐" or "bintang 5 kak" to an answer: the participant is done; close it and keep the score."""
    await close_numbered(ctx, str(ticket.id), ask_to_rate=False)
    await rate_ticket(ctx, f"{ticket.id}:{score}")
