"""Answer deadlines in working hours: remind the mentor, alert coordinators, hand over to a backup."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.cover import (
    absence_on,
    find_staff,
    local_day,
    move_open_tickets,
    route_mentor,
)
from handlers.consultation.faq import coordinators
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import (
    language_of,
    mentor_buttons,
    message_to,
    open_button,
    reassign,
    topic_label,
)
from handlers.consultation.worktime import calendar_of, working_hours_between
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_range
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import action, command
from handlers.kernel.roles import COORDINATORS
from storage.models import MentorAbsence, Person, Role, Ticket, TicketSlaStep, TicketStatus

log = logging.getLogger(__name__)

REMIND, ALERT, HANDOVER = "remind", "alert", "handover"
PICK_LIMIT = 8

StepAction = Callable[[AsyncSession, Ticket, float, datetime, Config], Awaitable[list[Outgoing]]]


def deadlines(config: Config) -> list[tuple[str, float]]:
    """The steps and the working hours after which each is due."""
    rules = config.rules(ConsultationRules)
    return [(REMIND, rules.sla_remind_hours), (ALERT, rules.sla_alert_hours), (HANDOVER, rules.sla_handover_hours)]


async def check_answer_deadlines(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job: take each due step once per unanswered ticket (the step log's unique key guarantees it)."""
    out = await move_open_tickets(session, now, config)
    calendar = calendar_of(config)
    unanswered = (Ticket.status == TicketStatus.OPEN, Ticket.first_response_at.is_(None))
    tickets = list((await session.execute(select(Ticket).where(*unanswered).order_by(Ticket.id))).scalars())
    steps_query = select(TicketSlaStep.ticket_id, TicketSlaStep.step).join(Ticket).where(*unanswered)
    taken = {(ticket_id, step) for ticket_id, step in (await session.execute(steps_query)).all()}
    for ticket in tickets:
        hours = working_hours_between(ticket.created_at, now, calendar)
        for step, limit in deadlines(config):
            if hours >= limit and (ticket.id, step) not in taken:
                session.add(TicketSlaStep(ticket_id=ticket.id, step=step, mentor_id=ticket.mentor_id, at=now))
                out += await STEPS[step](session, ticket, hours, now, config)
    return out


async def remind_mentor(session: AsyncSession, ticket: Ticket, hours: float, now: datetime,
                        config: Config) -> list[Outgoing]:
    """Step 1: the mentor (and narasumber, if any) is reminded."""
    participant = await session.get(Person, ticket.participant_id)
    out = []
    for person_id in filter(None, (ticket.mentor_id, ticket.expert_id)):
        person = await session.get(Person, person_id)
        if person is None or participant is None:
            continue
        lang = language_of(person, config)
        out.append(message_to(person, "cons.sla_remind", config,
                              buttons=mentor_buttons(ticket, lang) + open_button(ticket, lang),
                              ref=f"ticket:{ticket.id}", number=ticket.id, participant=participant.name,
                              hours=int(hours), topic=topic_label(config, ticket.topic, lang)))
    return out


async def alert_coordinators(session: AsyncSession, ticket: Ticket, hours: float, now: datetime,
                             config: Config) -> list[Outgoing]:
    """Step 2: every coordinator learns which ticket is late and whose it is."""
    participant = await session.get(Person, ticket.participant_id)
    mentor = await session.get(Person, ticket.mentor_id)
    return [message_to(coordinator, "cons.sla_alert", config, buttons=open_button(ticket, language_of(coordinator, config)),
                       number=ticket.id, participant=participant.name if participant else "-",
                       mentor=mentor.name if mentor else "-", hours=int(hours),
                       topic=topic_label(config, ticket.topic, language_of(coordinator, config)))
            for coordinator in await coordinators(session)]


async def hand_over(session: AsyncSession, ticket: Ticket, hours: float, now: datetime,
                    config: Config) -> list[Outgoing]:
    """Step 3: to the mentor's backup; without one, the coordinators are asked to pick a mentor."""
    mentor = await session.get(Person, ticket.mentor_id)
    backup = await backup_of(session, mentor, now, config) if mentor else None
    if backup is not None:
        return await reassign(session, ticket, backup, now, config, actor_id=None, reason="deadline")
    candidates = await mentors_to_pick(session, exclude=ticket.mentor_id)
    if not candidates:
        log.warning("ticket %s is overdue and no other mentor can take it", ticket.id)
    out = []
    for coordinator in await coordinators(session):
        buttons = tuple(Button(person.name, f"hand:{ticket.id}:{person.id}") for person in candidates)
        out.append(message_to(coordinator, "cons.sla_pick", config, buttons=buttons, number=ticket.id,
                              mentor=mentor.name if mentor else "-", hours=int(hours)))
    return out


STEPS: dict[str, StepAction] = {REMIND: remind_mentor, ALERT: alert_coordinators, HANDOVER: hand_over}


async def backup_of(session: AsyncSession, mentor: Person, now: datetime, config: Config) -> Person | None:
    """The mentor's standing backup, else whoever covers their absence today."""
    backup = await session.get(Person, mentor.backup_mentor_id) if mentor.backup_mentor_id else None
    if backup is not None and backup.is_active and backup.id != mentor.id:
        routed, _ = await route_mentor(session, backup, now, config)
        return routed if routed.id != mentor.id else None
    routed, absence = await route_mentor(session, mentor, now, config)
    return routed if absence is not None else None


async def mentors_to_pick(session: AsyncSession, *, exclude: int) -> list[Person]:
    """Active mentors a coordinator may hand a ticket to."""
    query = (select(Person).where(Person.role == Role.PENDAMPING, Person.is_active.is_(True), Person.id != exclude)
             .order_by(Person.name).limit(PICK_LIMIT))
    return list((await session.execute(query)).scalars())


@action("hand", roles=COORDINATORS)
async def hand_to_picked(ctx: Context, argument: str) -> None:
    """hand:12:5 (move #12 to person 5), hand:12:5:ok (even though they are on leave), hand:12:no (keep it)."""
    number, _, rest = argument.partition(":")
    person_id, _, confirmation = rest.partition(":")
    ticket_id, mentor_id = record_id(number), record_id(person_id)
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
    mentor = await ctx.session.get(Person, mentor_id) if mentor_id is not None else None
    if ticket is not None and person_id == "no":
        current = await ctx.session.get(Person, ticket.mentor_id)
        ctx.reply("cons.move_kept", number=ticket.id, mentor=current.name if current else "-")
        return
    if ticket is None or mentor is None or ticket.status == TicketStatus.CLOSED:
        ctx.reply("core.unknown_button")
        return
    await move_ticket(ctx, ticket, mentor, is_confirmed=confirmation == "ok")


@command("pindahkan", args=r"#?\d+\s+.+", roles=COORDINATORS, help_key="cons.help_pindahkan")
async def move_by_command(ctx: Context) -> None:
    """`pindahkan 12 <nama atau nomor pendamping>` moves a ticket with its history."""
    words = ctx.text.split(maxsplit=2)
    number = words[1].lstrip("#") if len(words) > 1 else ""
    ticket = await ctx.session.get(Ticket, ticket_id) if (ticket_id := record_id(number)) is not None else None
    mentor = await find_staff(ctx.session, words[2]) if len(words) > 2 else None
    if ticket is None or mentor is None:
        ctx.reply("cons.pindahkan_usage")
        return
    await move_ticket(ctx, ticket, mentor)


async def move_ticket(ctx: Context, ticket: Ticket, mentor: Person, *, is_confirmed: bool = False) -> None:
    """Reassign and confirm to the coordinator; a mentor on leave takes it only when confirmed."""
    if mentor.id == ticket.mentor_id:
        ctx.reply("cons.moved_already", number=ticket.id, mentor=mentor.name)
        return
    absence = None if is_confirmed else await absence_on(ctx.session, mentor.id, local_day(ctx.now, ctx.config))
    if absence is not None:
        backup = await ctx.session.get(Person, absence.backup_id)
        await ask_to_move_despite_leave(ctx, ticket, mentor, backup, absence)
        return
    ctx.out.extend(await reassign(ctx.session, ticket, mentor, ctx.now, ctx.config, actor_id=ctx.person.id,
                                  reason="coordinator"))
    ctx.reply("cons.moved", number=ticket.id, mentor=mentor.name)


async def ask_to_move_despite_leave(ctx: Context, ticket: Ticket, mentor: Person, backup: Person | None,
                                    absence: MentorAbsence) -> None:
    """The chosen mentor is away: move anyway, to their backup instead, or not at all."""
    buttons = [Button(t("cons.btn_move_anyway", ctx.lang, mentor=mentor.name), f"hand:{ticket.id}:{mentor.id}:ok")]
    if backup is not None and backup.is_active and backup.id != ticket.mentor_id:
        buttons.append(Button(t("cons.btn_move_backup", ctx.lang, backup=backup.name), f"hand:{ticket.id}:{backup.id}"))
    buttons.append(Button(t("cons.btn_move_keep", ctx.lang), f"hand:{ticket.id}:no"))
    ctx.reply("cons.move_on_leave", buttons=tuple(buttons), number=ticket.id, mentor=mentor.name,
              backup=backup.name if backup else "-", days=format_range(absence.starts_on, absence.ends_on, ctx.lang))
