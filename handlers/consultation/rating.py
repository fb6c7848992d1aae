"""After a ticket closes, the participant rates the answer once (1–5) with an optional comment."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import message_to
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.intents import rating_in
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import action, flow
from handlers.kernel.roles import PARTICIPANTS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Person, Ticket, TicketRating

RATE_FLOW = "rate_comment"
RATING_TEXT_DAYS = 7  # a typed "5 bintang" counts for the rating question of the last week
SKIP_WORDS = frozenset({"lewati", "skip", "-", "tidak", "tidak ada"})


def ask_rating(ticket: Ticket, participant: Person, now: datetime, config: Config) -> Outgoing | None:
    """The rating question, only once per ticket and only when someone answered it."""
    if ticket.rating_requested_at is not None or ticket.first_response_at is None:
        return None
    ticket.rating_requested_at = now
    buttons = tuple(Button("⭐" * score, f"rate:{ticket.id}:{score}") for score in range(1, 6))
    return message_to(participant, "cons.rate_question", config, buttons=buttons, ref=f"ticket:{ticket.id}",
                      number=ticket.id)


@action("rate", roles=PARTICIPANTS)
async def rate_ticket(ctx: Context, argument: str) -> None:
    """Store the score; then invite a comment (optional)."""
    number, _, score = argument.partition(":")
    ticket_id = record_id(number)
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None or ticket.participant_id != ctx.person.id or score not in {"1", "2", "3", "4", "5"}:
        ctx.reply("core.unknown_button")
        return
    existing = await rating_of(ctx, ticket)
    if existing is not None:
        ctx.reply("cons.rate_already", number=ticket.id, score=existing.score)
        return
    rating = TicketRating(ticket_id=ticket.id, participant_id=ctx.person.id, mentor_id=ticket.mentor_id,
                          expert_id=ticket.expert_id, score=int(score), comment="", rated_at=ctx.now)
    ctx.session.add(rating)
    await ctx.session.flush()
    await set_state(ctx.session, ctx.person.id, RATE_FLOW, {"rating": rating.id}, ctx.now)
    ctx.reply("cons.rate_thanks", buttons=(Button(t("cons.btn_skip", ctx.lang), f"rskip:{ticket.id}"),),
              score=score)


async def rate_by_text(ctx: Context) -> bool:
    """"5 bintang kak mantap" after a closed ticket's rating question is that ticket's rating."""
    score = rating_in(ctx.text)
    if score is None:
        return False
    since = ctx.now - timedelta(days=RATING_TEXT_DAYS)
    query = (select(Ticket).where(Ticket.participant_id == ctx.person.id, Ticket.rating_requested_at >= since)
             .order_by(Ticket.rating_requested_at.desc()).limit(1))
    ticket = (await ctx.session.execute(query)).scalar_one_or_none()
    if ticket is None or await rating_of(ctx, ticket) is not None:
        return False
    await rate_ticket(ctx, f"{ticket.id}:{score}")
    return True


async def rating_of(ctx: Context, ticket: Ticket) -> TicketRating | None:
    """The ticket's rating, if given."""
    query = select(TicketRating).where(TicketRating.ticket_id == ticket.id)
    return (await ctx.session.execute(query)).scalar_one_or_none()


@action("rskip", roles=PARTICIPANTS)
async def skip_comment(ctx: Context, _number: str) -> None:
    """No comment: just thank them."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is not None and state.flow == RATE_FLOW:
        await clear_state(ctx.session, ctx.person.id)
    ctx.reply("cons.rate_done")


@flow(RATE_FLOW, expires=False)
async def receive_comment(ctx: Context) -> None:
    """The text after a rating is its comment; much later, or media, it is a new question instead."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    await clear_state(ctx.session, ctx.person.id)
    is_stale = ctx.now - state.updated_at > timedelta(minutes=ctx.config.rules(ConsultationRules).pending_question_minutes)
    if is_stale or ctx.inbound.attachments:
        await ctx.continue_as_text()  # a late message is a question, not a comment
        return
    rating = await ctx.session.get(TicketRating, int(state.data["rating"]))
    if rating is not None and ctx.text.lower() not in SKIP_WORDS:
        rating.comment = ctx.text[:2000]
    ctx.reply("cons.rate_done")
