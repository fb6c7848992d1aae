"""A participant's question: FAQ offer, topic confirmation, then a ticket for their (covering) mentor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.answers import close_with_rating, post_answer
from handlers.consultation.cover import route_mentor
from handlers.consultation.faq import best_faq, faq_buttons
from handlers.consultation.leavers import stand_in_for
from handlers.consultation.rating import rate_by_text
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import (
    add_message,
    handlers_of,
    language_of,
    mentor_buttons,
    message_to,
    open_ticket_of,
    ticket_for_staff,
    topic_label,
)
from handlers.consultation.topics import fallback_topic, find_topic, guess_topic, match_topic_name
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_date
from handlers.kernel.i18n import t
from handlers.kernel.intents import explicit_rating, is_acknowledgement, is_greeting, is_no, is_yes
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.parking import draft_button, take_draft
from handlers.kernel.registry import action, flow
from handlers.kernel.roles import PARTICIPANTS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.messaging import ParkedFlow
from storage.models import (
    ConversationState,
    FaqEntry,
    Person,
    Ticket,
    TicketMessage,
    TicketStatus,
)

__all__ = ["ask_question", "open_ticket", "post_answer", "queue_pending_questions", "ticket_for_staff"]

ASK_FLOW = "ask"


def question_too_long(ctx: Context) -> bool:
    """Reply with the limit when the text is longer than a mentor can read on a phone."""
    if len(ctx.text) <= ctx.config.max_question_chars:
        return False
    ctx.reply("core.too_long", length=f"{len(ctx.text):,}".replace(",", "."),
              limit=f"{ctx.config.max_question_chars:,}".replace(",", "."))
    return True


async def ask_question(ctx: Context) -> None:
    """Free text or media from a participant: join the open ticket or start a new question."""
    if question_too_long(ctx):
        return
    if not ctx.text and not ctx.inbound.attachments:
        ctx.reply("core.empty_question")
        return
    if not ctx.inbound.attachments and await rate_by_text(ctx):
        return
    ticket = await open_ticket_of(ctx.session, ctx.person.id)
    if not ctx.inbound.attachments and is_acknowledgement(ctx.text) and not await expects_reply(ctx, ticket):
        acknowledge(ctx, ticket)
        return
    if ticket is not None and ticket.status == TicketStatus.ANSWERED and not ctx.inbound.attachments \
            and (score := explicit_rating(ctx.text)) is not None:
        await close_with_rating(ctx, ticket, score)
        return
    if ticket is not None:
        await add_follow_up(ctx, ticket)
        return
    rules = ctx.config.rules(ConsultationRules)
    pending: dict[str, Any] = {"text": ctx.text, "attachments": [a.to_json() for a in ctx.inbound.attachments],
                               "topic": guess_topic(ctx.text, rules.topics, rules.topic_match_threshold).key}
    entry = await best_faq(ctx.session, ctx.text, ctx.config)
    if entry is not None:
        entry.times_offered += 1
        await set_state(ctx.session, ctx.person.id, ASK_FLOW, pending | {"faq": entry.id}, ctx.now)
        ctx.reply("cons.faq_offer", buttons=faq_buttons(entry, ctx.lang), question=entry.question,
                  answer=entry.answer)
        return
    await set_state(ctx.session, ctx.person.id, ASK_FLOW, pending, ctx.now)
    await ask_topic_or_queue(ctx, pending["topic"])


async def expects_reply(ctx: Context, ticket: Ticket | None) -> bool:
    """True when the mentor's last word in the open ticket was a question ("sudah punya NIB?")."""
    if ticket is None or ticket.status != TicketStatus.ANSWERED:
        return False
    query = (select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
             .order_by(TicketMessage.id.desc()).limit(1))
    last = (await ctx.session.execute(query)).scalar_one_or_none()
    return last is not None and last.author_id != ctx.person.id and "?" in last.text


def acknowledge(ctx: Context, ticket: Ticket | None) -> None:
    """"ok", "👍", "makasih kak": a reaction, answered kindly and never filed as a question."""
    if is_greeting(ctx.text):
        ctx.reply("cons.ack_greeting", name=ctx.person.name)
    elif ticket is None:
        ctx.reply("cons.ack_no_ticket")
    elif ticket.status == TicketStatus.ANSWERED:
        buttons = (Button(t("cons.btn_close_ticket", ctx.lang, number=ticket.id), f"close:{ticket.id}"),)
        ctx.reply("cons.ack_answered", buttons=buttons, number=ticket.id)
    else:
        ctx.reply("cons.ack_waiting", number=ticket.id)


async def ask_topic_or_queue(ctx: Context, guessed: str) -> None:
    """Ask for the topic, or (a programme that switched confirmation off) queue with the guess."""
    if ctx.config.rules(ConsultationRules).confirm_topic:
        ask_topic(ctx, guessed)
    else:
        await choose_topic(ctx, guessed)


def ask_topic(ctx: Context, guessed: str, *, key: str = "cons.topic_confirm") -> None:
    """Ask the participant to confirm the guessed topic or pick another, one tap or number."""
    topics = ctx.config.rules(ConsultationRules).topics
    first = find_topic(topics, guessed) or fallback_topic(topics)
    buttons = [Button(t("cons.topic_yes", ctx.lang, topic=first.label(ctx.lang)), f"tp:{first.key}")]
    buttons += [Button(topic.label(ctx.lang), f"tp:{topic.key}") for topic in topics if topic.key != first.key]
    ctx.reply(key, buttons=tuple(buttons), topic=first.label(ctx.lang))


async def offer_draft(ctx: Context, parked: ParkedFlow) -> None:
    """A question written before consent, or left for a form, is offered back with one tap to send it."""
    text = str(parked.data.get("text", "")) or "📎"
    preview = text if len(text) <= 200 else text[:197] + "…"
    buttons = (draft_button(ctx, "cons.btn_draft_send", parked), draft_button(ctx, "cons.btn_draft_drop", parked, "drop"))
    ctx.reply("cons.draft_offer", buttons=buttons, text=preview)


@action("draft", roles=PARTICIPANTS)
async def decide_draft(ctx: Context, argument: str) -> None:
    """Send the kept question to the mentor (topic guessed and confirmed as usual), or drop it."""
    verb, _, number = argument.partition(":")
    parked = await take_draft(ctx, number) if verb in ("send", "drop") else None
    if parked is None:
        ctx.reply("core.unknown_button")
        return
    if verb == "drop":
        ctx.reply("cons.draft_dropped")
        return
    text = str(parked.data.get("text", ""))
    rules = ctx.config.rules(ConsultationRules)
    pending: dict[str, Any] = {"text": text, "attachments": list(parked.data.get("attachments", [])),
                               "topic": guess_topic(text, rules.topics, rules.topic_match_threshold).key}
    ticket = await open_ticket_of(ctx.session, ctx.person.id)
    if ticket is not None:
        attachments = tuple(Attachment.from_json(a) for a in pending["attachments"])
        await add_follow_up(ctx, ticket, text=text, attachments=attachments)
        return
    if await get_state(ctx.session, ctx.person.id) is not None:  # in the middle of a form: do not disturb it
        ctx.out.extend(await queue_draft(ctx.session, ctx.person, pending, ctx.now, ctx.config))
        return
    await set_state(ctx.session, ctx.person.id, ASK_FLOW, pending, ctx.now)
    await ask_topic_or_queue(ctx, pending["topic"])


@flow(ASK_FLOW, keeps=True, expires=False, offer=offer_draft)
async def continue_question(ctx: Context) -> None:
    """While the topic (or FAQ offer) awaits an answer: a typed topic, yes/no, or more of the question."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    pending = dict(state.data)
    if question_too_long(ctx):
        return
    said_yes = not ctx.inbound.attachments and (is_yes(ctx.text) or ctx.text.lower().strip(" .!") == "terjawab")
    said_no = not ctx.inbound.attachments and is_no(ctx.text)
    if pending.get("faq") and (said_yes or said_no):
        await (faq_helped if said_yes else faq_not_helped)(ctx, str(pending["faq"]))
        return
    if said_yes:  # "iya bener kak": the guessed topic is right
        await choose_topic(ctx, pending["topic"])
        return
    if said_no:  # "bukan": show the topics again, keep the question as it is
        ask_topic(ctx, pending["topic"], key="cons.topic_pick_other")
        return
    typed = None if ctx.inbound.attachments else match_topic_name(ctx.text, ctx.config.rules(ConsultationRules).topics, ctx.lang)
    if typed is not None and not pending.get("faq"):
        await choose_topic(ctx, typed.key)
        return
    pending["text"] = "\n".join(part for part in (pending["text"], ctx.text) if part)
    pending["attachments"] = [*pending["attachments"], *(a.to_json() for a in ctx.inbound.attachments)]
    rules = ctx.config.rules(ConsultationRules)
    pending["topic"] = guess_topic(pending["text"], rules.topics, rules.topic_match_threshold).key
    pending.pop("faq", None)
    await set_state(ctx.session, ctx.person.id, ASK_FLOW, pending, ctx.now)
    ask_topic(ctx, pending["topic"], key="cons.topic_confirm_more")


async def pending_question(ctx: Context) -> dict[str, Any] | None:
    """The question waiting for its topic; a hint when a stale button was pressed."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != ASK_FLOW:
        ctx.reply("core.unknown_button")
        return None
    return dict(state.data)


@action("tp", roles=PARTICIPANTS)
async def choose_topic(ctx: Context, key: str) -> None:
    """The participant confirmed or picked a topic: the question becomes a ticket."""
    pending = await pending_question(ctx)
    if pending is None:
        return
    topics = ctx.config.rules(ConsultationRules).topics
    topic = find_topic(topics, key) or fallback_topic(topics)
    await clear_state(ctx.session, ctx.person.id)
    attachments = tuple(Attachment.from_json(item) for item in pending["attachments"])
    _, messages = await open_ticket(ctx.session, ctx.person, topic=topic.key, text=pending["text"],
                                    attachments=attachments, now=ctx.now, config=ctx.config)
    ctx.out.extend(messages)


@action("fqy", roles=PARTICIPANTS)
async def faq_helped(ctx: Context, faq_id: str) -> None:
    """The FAQ answer was what they needed: nothing is queued."""
    if await pending_question(ctx) is None:
        return
    entry_id = record_id(faq_id)
    entry = await ctx.session.get(FaqEntry, entry_id) if entry_id is not None else None
    if entry is not None:
        entry.times_helpful += 1
    await clear_state(ctx.session, ctx.person.id)
    ctx.reply("cons.faq_glad")


@action("fqn", roles=PARTICIPANTS)
async def faq_not_helped(ctx: Context, _faq_id: str) -> None:
    """Not what they needed: continue to the mentor, confirming the topic first."""
    pending = await pending_question(ctx)
    if pending is None:
        return
    pending.pop("faq", None)
    await set_state(ctx.session, ctx.person.id, ASK_FLOW, pending, ctx.now)
    await ask_topic_or_queue(ctx, pending["topic"])


async def open_ticket(session: AsyncSession, participant: Person, *, topic: str, text: str,
                      attachments: tuple[Attachment, ...], now: datetime,
                      config: Config) -> tuple[Ticket | None, list[Outgoing]]:
    """Open a ticket for the participant's mentor (or the backup covering them) and tell both sides."""
    mentor = await session.get(Person, participant.mentor_id) if participant.mentor_id else None
    if mentor is not None and not mentor.is_active:
        mentor = await stand_in_for(session, mentor, now, config)  # the mentor left the programme
    if mentor is None:
        return None, [message_to(participant, "core.no_mentor", config, contact=config.coordinator_contact)]
    handler, absence = await route_mentor(session, mentor, now, config)
    ticket = Ticket(participant_id=participant.id, mentor_id=handler.id, status=TicketStatus.OPEN,
                    topic=topic, created_at=now, last_message_at=now)
    session.add(ticket)
    await session.flush()
    session.add(TicketMessage(ticket_id=ticket.id, author_id=participant.id, kind="question", text=text,
                              attachments=[a.to_json() for a in attachments], created_at=now))
    if absence is None:
        told = message_to(participant, "core.ticket_received", config, number=ticket.id, mentor=mentor.name)
    else:
        told = message_to(participant, "cons.ticket_received_cover", config, number=ticket.id, mentor=mentor.name,
                          backup=handler.name, until=format_date(absence.ends_on, language_of(participant, config)))
    lang = language_of(handler, config)
    notice = message_to(handler, "core.new_question", config, buttons=mentor_buttons(ticket, lang),
                        attachments=attachments, ref=f"ticket:{ticket.id}", number=ticket.id,
                        participant=participant.name, business=participant.business_name or "-",
                        topic=topic_label(config, topic, lang), text=text or "📎")
    return ticket, [told, notice]


async def add_follow_up(ctx: Context, ticket: Ticket, *, text: str | None = None,
                        attachments: tuple[Attachment, ...] | None = None) -> None:
    """A participant's further message joins the open thread and reaches whoever handles it."""
    text = ctx.text if text is None else text
    attachments = ctx.inbound.attachments if attachments is None else attachments
    add_message(ctx, ticket, "question", attachments, text=text)
    ticket.status = TicketStatus.OPEN
    ctx.reply("core.follow_up_added", number=str(ticket.id))
    for person in await handlers_of(ctx.session, ticket):
        buttons = mentor_buttons(ticket, language_of(person, ctx.config))
        ctx.send(message_to(person, "core.follow_up", ctx.config, buttons=buttons,
                            attachments=attachments, ref=f"ticket:{ticket.id}", number=ticket.id,
                            participant=ctx.person.name, text=text or "📎"))


async def queue_pending_questions(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job: a question left waiting for its topic is queued with the guessed topic (nothing is lost)."""
    cutoff = now - timedelta(minutes=config.rules(ConsultationRules).pending_question_minutes)
    query = select(ConversationState).where(ConversationState.flow == ASK_FLOW,
                                            ConversationState.updated_at <= cutoff)
    out: list[Outgoing] = []
    for state in list((await session.execute(query)).scalars()):
        participant = await session.get(Person, state.person_id)
        await session.delete(state)
        if participant is not None:
            out += await queue_draft(session, participant, state.data, now, config)
    return out + await queue_parked_drafts(session, cutoff, now, config)


async def queue_draft(session: AsyncSession, participant: Person, draft: dict[str, Any], now: datetime,
                      config: Config) -> list[Outgoing]:
    """A drafted question (text, media, guessed topic) becomes a ticket for the participant's mentor."""
    attachments = tuple(Attachment.from_json(item) for item in draft.get("attachments", []))
    _, messages = await open_ticket(session, participant, topic=draft.get("topic", "lainnya"),
                                    text=draft.get("text", ""), attachments=attachments, now=now, config=config)
    return messages


async def queue_parked_drafts(session: AsyncSession, cutoff: datetime, now: datetime,
                              config: Config) -> list[Outgoing]:
    """A drafted question left for a form is queued too; one written before consent waits to be offered."""
    query = select(ParkedFlow).where(ParkedFlow.flow == ASK_FLOW, ParkedFlow.parked_at <= cutoff)
    out: list[Outgoing] = []
    for parked in list((await session.execute(query)).scalars()):
        participant = await session.get(Person, parked.person_id)
        if parked.data.get("ask_first") or participant is None or not participant.consent_given:
            continue
        await session.delete(parked)
        out += await queue_draft(session, participant, parked.data, now, config)
    return out
