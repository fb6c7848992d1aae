"""A mentor hands a ticket to a narasumber of its topic, with a note; the mentor stays on the ticket."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import (
    first_question,
    language_of,
    message_to,
    open_button,
    role_label,
    ticket_for_staff,
    topic_label,
)
from handlers.consultation.topics import Topic, find_topic
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import TICKET_AND_TEXT, action, command, flow
from handlers.kernel.roles import STAFF
from handlers.kernel.spelling import normalize
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Person, Role, Ticket, TicketEscalation, TicketStatus

NOTE_FLOW = "escalation_note"
SHORT_LIST = 6


def knows_topic(expert: Person, topic: Topic | None, key: str) -> bool:
    """An expert's declared fields cover the topic: its key, a label, or one of its keywords."""
    if topic is None:
        return key in expert.topic_list
    names = {topic.key} | {label.lower() for _, label in topic.labels}
    names |= {part.strip() for name in list(names) for part in name.split("/")}
    vocabulary = {normalize(word) for word in (*topic.keywords, *topic.strong)}
    return any(field in names or normalize(field) in vocabulary for field in expert.topic_list)


async def experts_for(session: AsyncSession, key: str, config: Config) -> tuple[list[Person], bool]:
    """Narasumber of the topic (a short list); all narasumber when none declares it (flag False)."""
    query = select(Person).where(Person.role == Role.NARASUMBER, Person.is_active.is_(True)).order_by(Person.name)
    experts = list((await session.execute(query)).scalars())
    topic = find_topic(config.rules(ConsultationRules).topics, key)
    matching = [expert for expert in experts if knows_topic(expert, topic, key)]
    return (matching, True) if matching else (experts, False)


@command("eskalasi", args=TICKET_AND_TEXT, roles=STAFF, help_key="cons.help_eskalasi")
async def escalate_by_command(ctx: Context) -> None:
    """`eskalasi 12` offers the narasumber for ticket 12."""
    words = ctx.text.split()
    if len(words) < 2:
        ctx.reply("cons.esc_usage")
        return
    await offer_experts(ctx, words[1])


@action("esc", roles=STAFF)
async def offer_experts(ctx: Context, number: str) -> None:
    """Show the narasumber whose topics match the ticket, one button each."""
    ticket = await ticket_for_staff(ctx, number)
    if ticket is None:
        return
    if ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.ticket_already_closed", number=ticket.id)
        return
    experts, matched = await experts_for(ctx.session, ticket.topic, ctx.config)
    topic = topic_label(ctx.config, ticket.topic, ctx.lang)
    if not experts:
        ctx.reply("cons.esc_no_experts")
        return
    buttons = tuple(Button(short_name(expert), f"escx:{ticket.id}:{expert.id}") for expert in experts[:SHORT_LIST])
    ctx.reply("cons.esc_pick" if matched else "cons.esc_pick_any", buttons=buttons, number=ticket.id, topic=topic)


def short_name(expert: Person) -> str:
    """An expert's button label: name and fields."""
    fields = ", ".join(expert.topic_list[:3])
    return f"{expert.name} ({fields})" if fields else expert.name


async def chosen(ctx: Context, argument: str) -> tuple[Ticket, Person] | None:
    """The ticket and narasumber a payload "12:34" names, if still valid."""
    number, _, expert_id = argument.partition(":")
    ticket = await ticket_for_staff(ctx, number)
    expert_number = record_id(expert_id)
    expert = await ctx.session.get(Person, expert_number) if expert_number is not None else None
    if ticket is None:
        return None
    if expert is None or expert.role != Role.NARASUMBER or ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.unknown_button")
        return None
    return ticket, expert


@action("escx", roles=STAFF)
async def pick_expert(ctx: Context, argument: str) -> None:
    """The mentor picked a narasumber: ask for a note (or send without one)."""
    found = await chosen(ctx, argument)
    if found is None:
        return
    ticket, expert = found
    await set_state(ctx.session, ctx.person.id, NOTE_FLOW, {"ticket": ticket.id, "expert": expert.id}, ctx.now)
    ctx.reply("cons.esc_write_note", buttons=(Button(t("cons.btn_esc_no_note", ctx.lang),
                                                     f"escg:{ticket.id}:{expert.id}"),),
              number=ticket.id, expert=expert.name)


@flow(NOTE_FLOW)
async def receive_note(ctx: Context) -> None:
    """The text after picking a narasumber is the note that goes with the ticket."""
    state = await get_state(ctx.session, ctx.person.id)
    assert state is not None
    await clear_state(ctx.session, ctx.person.id)
    found = await chosen(ctx, f"{state.data['ticket']}:{state.data['expert']}")
    if found is not None:
        await escalate(ctx, *found, note=ctx.text)


@action("escg", roles=STAFF)
async def escalate_without_note(ctx: Context, argument: str) -> None:
    """Send to the narasumber without a note."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is not None and state.flow == NOTE_FLOW:
        await clear_state(ctx.session, ctx.person.id)
    found = await chosen(ctx, argument)
    if found is not None:
        await escalate(ctx, *found, note="")


async def escalate(ctx: Context, ticket: Ticket, expert: Person, *, note: str) -> None:
    """Give the narasumber the ticket (they may answer it now), and tell them and the participant."""
    ticket.expert_id = expert.id
    ticket.escalations += 1
    ctx.session.add(TicketEscalation(ticket_id=ticket.id, from_id=ctx.person.id, expert_id=expert.id, note=note,
                                     at=ctx.now))
    participant = await ctx.session.get(Person, ticket.participant_id)
    assert participant is not None
    question = await first_question(ctx.session, ticket)
    lang = language_of(expert, ctx.config)
    buttons = (Button(t("core.btn_answer", lang), f"ans:{ticket.id}"), *open_button(ticket, lang))
    attachments = tuple(Attachment.from_json(item) for item in question.attachments) if question else ()
    ctx.send(message_to(expert, "cons.esc_to_expert", ctx.config, buttons=buttons, attachments=attachments,
                        ref=f"ticket:{ticket.id}", number=ticket.id, mentor=ctx.person.name,
                        participant=participant.name, business=participant.business_name or "-",
                        topic=topic_label(ctx.config, ticket.topic, lang), note=note or "-",
                        text=question.text if question and question.text else "📎"))
    ctx.tell(participant, "cons.esc_told_participant", number=ticket.id, name=expert.name,
             role=role_label(expert, language_of(participant, ctx.config)))
    ctx.reply("cons.esc_done", number=ticket.id, expert=expert.name)
