"""Cover for an absent mentor: a date range with a backup; new tickets go to the backup meanwhile."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.ticketing import ACTIVE, message_to, reassign
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_range, parse_day
from handlers.kernel.i18n import t
from handlers.kernel.messages import Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import ANY_ARGS, command
from handlers.kernel.roles import COORDINATORS
from storage.models import AuditEntry, MentorAbsence, Person, Role, Ticket

MANAGERS = (Role.PENDAMPING, Role.NARASUMBER, Role.KOORDINATOR)
YEAR = re.compile(r"\d{4}")


class CoverError(ValueError):
    """A cover request that cannot be recorded; `key` names the text that explains why."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values: dict[str, Any] = dict(values)


@dataclass(frozen=True)
class CoverRequest:
    """Who is away, from when to when (inclusive), who covers, and whether open tickets move."""

    mentor: Person
    backup: Person
    starts_on: date
    ends_on: date
    move_open: bool = False


def local_day(now: datetime, config: Config) -> date:
    """Today in the programme's time zone."""
    return now.astimezone(config.timezone).date()


async def absence_on(session: AsyncSession, mentor_id: int, day: date) -> MentorAbsence | None:
    """The mentor's absence covering that day, if any (the newest wins)."""
    query = (select(MentorAbsence).where(MentorAbsence.mentor_id == mentor_id, MentorAbsence.cancelled_at.is_(None),
                                         MentorAbsence.starts_on <= day, MentorAbsence.ends_on >= day)
             .order_by(MentorAbsence.id.desc()).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


async def route_mentor(session: AsyncSession, mentor: Person, now: datetime,
                       config: Config) -> tuple[Person, MentorAbsence | None]:
    """Who takes a new ticket for this mentor today: the backup while they are away."""
    absence = await absence_on(session, mentor.id, local_day(now, config))
    backup = await session.get(Person, absence.backup_id) if absence else None
    if absence is None or backup is None or not backup.is_active:
        return mentor, None
    return backup, absence


async def find_staff(session: AsyncSession, ref: str) -> Person | None:
    """A staff member by phone number or by (part of) their name; None when unknown or ambiguous."""
    try:
        phone = normalize_phone(ref)
    except ValueError:
        phone = None
    query = select(Person).where(Person.role.in_(MANAGERS), Person.is_active.is_(True))
    people = list((await session.execute(query)).scalars())
    if phone is not None:
        return next((person for person in people if person.phone == phone), None)
    wanted = ref.strip().lower()
    exact = [person for person in people if person.name.lower() == wanted]
    partial = [person for person in people if wanted in person.name.lower()]
    found = exact or partial
    return found[0] if len(found) == 1 else None


async def overlapping_absence(session: AsyncSession, request: CoverRequest) -> MentorAbsence | None:
    """The mentor's recorded absence sharing a day with the request, if any."""
    query = (select(MentorAbsence).where(MentorAbsence.mentor_id == request.mentor.id, MentorAbsence.cancelled_at.is_(None),
                                         MentorAbsence.starts_on <= request.ends_on,
                                         MentorAbsence.ends_on >= request.starts_on)
             .order_by(MentorAbsence.id).limit(1))
    return (await session.execute(query)).scalar_one_or_none()


async def record_absence(session: AsyncSession, request: CoverRequest, *, actor_id: int | None,
                         now: datetime, config: Config) -> tuple[MentorAbsence, list[Outgoing]]:
    """Store the absence, tell the mentor and the backup, and move open tickets if it has begun.

    The same leave entered twice (same mentor, a day in common) is refused: nobody is told twice."""
    check_request(request)
    earlier = await overlapping_absence(session, request)
    if earlier is not None:
        raise CoverError("cons.cuti_duplicate", mentor=request.mentor.name, id=str(earlier.id),
                         days=format_range(earlier.starts_on, earlier.ends_on, config.language))
    absence = MentorAbsence(mentor_id=request.mentor.id, backup_id=request.backup.id, starts_on=request.starts_on,
                            ends_on=request.ends_on, move_open=request.move_open, created_by_id=actor_id,
                            created_at=now)
    session.add(absence)
    await session.flush()
    session.add(AuditEntry(at=now, actor_id=actor_id, action="mentor_absence", subject=f"person:{request.mentor.id}",
                           detail={"absence": absence.id, "backup": request.backup.id,
                                   "from": request.starts_on.isoformat(), "to": request.ends_on.isoformat()}))
    out = [message_to(person, key, config, backup=request.backup.name, mentor=request.mentor.name,
                      days=format_range(request.starts_on, request.ends_on, person.language or config.language))
           for person, key in ((request.mentor, "cons.cover_told_mentor"), (request.backup, "cons.cover_told_backup"))]
    return absence, out + await move_open_tickets(session, now, config)


def check_request(request: CoverRequest) -> None:
    """Reject a backwards range, a mentor covering themselves, or a backup who is not staff."""
    if request.ends_on < request.starts_on:
        raise CoverError("cons.cover_bad_range")
    if request.backup.id == request.mentor.id:
        raise CoverError("cons.cover_self")
    if request.backup.role not in (Role.PENDAMPING, Role.KOORDINATOR):
        raise CoverError("cons.cover_backup_role", name=request.backup.name)


async def move_open_tickets(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """For absences that have begun and asked for it, move the mentor's open tickets to the backup once."""
    today = local_day(now, config)
    query = select(MentorAbsence).where(MentorAbsence.move_open.is_(True), MentorAbsence.moved_at.is_(None),
                                        MentorAbsence.cancelled_at.is_(None),
                                        MentorAbsence.starts_on <= today, MentorAbsence.ends_on >= today)
    out: list[Outgoing] = []
    for absence in (await session.execute(query)).scalars():
        absence.moved_at = now  # once: tickets that arrive later are routed to the backup, not moved
        backup = await session.get(Person, absence.backup_id)
        if backup is None:
            continue
        tickets = await session.execute(select(Ticket).where(Ticket.mentor_id == absence.mentor_id,
                                                             Ticket.status.in_(ACTIVE)).order_by(Ticket.id))
        for ticket in list(tickets.scalars()):
            out += await reassign(session, ticket, backup, now, config, actor_id=absence.created_by_id,
                                  reason="cover")
    return out


async def cancel_absence(session: AsyncSession, absence_id: int, now: datetime) -> MentorAbsence | None:
    """End an absence early; routing returns to the mentor at once."""
    absence = await session.get(MentorAbsence, absence_id)
    if absence is None or absence.cancelled_at is not None:
        return None
    absence.cancelled_at = now
    return absence


async def current_and_coming(session: AsyncSession, now: datetime, config: Config) -> list[MentorAbsence]:
    """Absences not yet over, soonest first."""
    query = (select(MentorAbsence).where(MentorAbsence.cancelled_at.is_(None),
                                         MentorAbsence.ends_on >= local_day(now, config))
             .order_by(MentorAbsence.starts_on, MentorAbsence.id))
    return list((await session.execute(query)).scalars())


def leave_days(first: str, last: str, today: date) -> tuple[date, date] | None:
    """A leave's first and last day as typed ("7/12", "7 Des", "2026-12-07"), in the programme's year (a leave
    may have begun already); a last day without a year before the first is next year's ("28/12" to "3/1")."""
    starts_on, ends_on = parse_day(first, today, ahead=False), parse_day(last, today, ahead=False)
    if starts_on is None or ends_on is None:
        return None
    if ends_on < starts_on and not YEAR.search(last):
        ends_on = parse_day(last, starts_on) or ends_on
    return starts_on, ends_on


def date_spans(words: list[str], today: date) -> list[tuple[int, int]]:
    """Where dates stand among the words, as (first, after) positions: "7 Des 2026" takes three words."""
    spans, index = [], 0
    while index < len(words):
        size = next((size for size in (3, 2, 1) if index + size <= len(words) and words[index][:1].isdigit()
                     and parse_day(" ".join(words[index:index + size]), today, ahead=False)), 0)
        if size:
            spans.append((index, index + size))
        index += size or 1
    return spans


async def parse_cover(session: AsyncSession, text: str, today: date) -> CoverRequest:
    """`cuti <mentor> <dari> <sampai> <cadangan> [pindah]`: names may have spaces, dates split them."""
    words = text.split()[1:]
    spans = date_spans(words, today)
    if len(spans) < 2 or spans[1][0] != spans[0][1] or spans[0][0] == 0:
        raise CoverError("cons.cuti_usage")
    (first, middle), (_, after) = spans[0], spans[1]
    rest = words[after:]
    move_open = bool(rest) and rest[-1].lower() == "pindah"
    backup_words = rest[:-1] if move_open else rest
    mentor = await find_staff(session, " ".join(words[:first]))
    backup = await find_staff(session, " ".join(backup_words)) if backup_words else None
    if mentor is None or backup is None:
        missing = " ".join(words[:first]) if mentor is None else " ".join(backup_words) or "-"
        raise CoverError("cons.cover_unknown_person", name=missing)
    days = leave_days(" ".join(words[first:middle]), " ".join(words[middle:after]), today)
    assert days is not None
    return CoverRequest(mentor, backup, days[0], days[1], move_open)


@command("cuti", args=ANY_ARGS, roles=COORDINATORS, help_key="cons.help_cuti", menu_key="cons.menu_cuti", order=50)
async def cover_command(ctx: Context) -> None:
    """`cuti` lists absences; `cuti <mentor> <dari> <sampai> <cadangan> [pindah]`; `cuti batal 3`."""
    words = ctx.text.split()
    if len(words) == 1:
        await list_absences(ctx)
        return
    if words[1].lower() == "batal" and len(words) == 3 and words[2].isdigit():
        absence_id = record_id(words[2])
        cancelled = absence_id is not None and await cancel_absence(ctx.session, absence_id, ctx.now)
        ctx.reply("cons.cuti_cancelled" if cancelled else "cons.cuti_unknown", id=words[2])
        return
    try:
        request = await parse_cover(ctx.session, ctx.text, local_day(ctx.now, ctx.config))
        absence, messages = await record_absence(ctx.session, request, actor_id=ctx.person.id, now=ctx.now,
                                                 config=ctx.config)
    except CoverError as error:
        ctx.reply(error.key, **error.values)
        return
    ctx.out.extend(messages)
    ctx.reply("cons.cuti_recorded", id=absence.id, mentor=request.mentor.name, backup=request.backup.name,
              days=format_range(request.starts_on, request.ends_on, ctx.lang),
              moved=t("cons.cuti_moves" if request.move_open else "cons.cuti_stays", ctx.lang))


async def list_absences(ctx: Context) -> None:
    """Current and coming absences, with how to add or cancel one."""
    lines = []
    for absence in await current_and_coming(ctx.session, ctx.now, ctx.config):
        mentor = await ctx.session.get(Person, absence.mentor_id)
        backup = await ctx.session.get(Person, absence.backup_id)
        lines.append(t("cons.cuti_line", ctx.lang, id=absence.id, mentor=mentor.name if mentor else "-",
                       backup=backup.name if backup else "-",
                       days=format_range(absence.starts_on, absence.ends_on, ctx.lang)))
    ctx.reply("cons.cuti_list", lines="\n".join(lines) or t("cons.cuti_none", ctx.lang))
