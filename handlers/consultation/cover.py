"""Cover for an absent mentor: a date range with a backup; new tickets go to the backup meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.ticketing import ACTIVE, message_to, reassign
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Outgoing
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import ANY_ARGS, command
from handlers.kernel.roles import COORDINATORS
from storage.models import AuditEntry, MentorAbsence, Person, Role, Ticket

MANAGERS = (Role.PENDAMPING, Role.NARASUMBER, Role.KOORDINATOR)


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


async def record_absence(session: AsyncSession, request: CoverRequest, *, actor_id: int | None,
                         now: datetime, config: Config) -> tuple[MentorAbsence, list[Outgoing]]:
    """Store the absence, tell the mentor and the backup, and move open tickets if it has begun."""
    check_request(request)
    absence = MentorAbsence(mentor_id=request.mentor.id, backup_id=request.backup.id, starts_on=request.starts_on,
                            ends_on=request.ends_on, move_open=request.move_open, created_by_id=actor_id,
                            created_at=now)
    session.add(absence)
    await session.flush()
    session.add(AuditEntry(at=now, actor_id=actor_id, action="mentor_absence", subject=f"person:{request.mentor.id}",
                           detail={"absence": absence.id, "backup": request.backup.id,
                                   "from": request.starts_on.isoformat(), "to": request.ends_on.isoformat()}))
    start, end = request.starts_on.strftime("%d/%m/%Y"), request.ends_on.strftime("%d/%m/%Y")
    out = [message_to(request.mentor, "cons.cover_told_mentor", config, backup=request.backup.name,
                      start=start, end=end),
           message_to(request.backup, "cons.cover_told_backup", config, mentor=request.mentor.name,
                      start=start, end=end)]
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


def parse_day(word: str) -> date | None:
    """2026-03-10, 10/03/2026 or 10-03-2026; None when it is not a date."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(word, pattern).date()  # noqa: DTZ007  (a calendar date, no time)
        except ValueError:
            continue
    return None


async def parse_cover(session: AsyncSession, text: str) -> CoverRequest:
    """`cuti <mentor> <dari> <sampai> <cadangan> [pindah]`: names may have spaces, dates split them."""
    words = text.split()[1:]
    positions = [index for index, word in enumerate(words) if parse_day(word)]
    if len(positions) < 2 or positions[1] != positions[0] + 1 or positions[0] == 0:
        raise CoverError("cons.cuti_usage")
    first, second = positions[0], positions[1]
    rest = words[second + 1:]
    move_open = bool(rest) and rest[-1].lower() == "pindah"
    backup_words = rest[:-1] if move_open else rest
    mentor = await find_staff(session, " ".join(words[:first]))
    backup = await find_staff(session, " ".join(backup_words)) if backup_words else None
    if mentor is None or backup is None:
        missing = " ".join(words[:first]) if mentor is None else " ".join(backup_words) or "-"
        raise CoverError("cons.cover_unknown_person", name=missing)
    starts_on, ends_on = parse_day(words[first]), parse_day(words[second])
    assert starts_on is not None
    assert ends_on is not None
    return CoverRequest(mentor, backup, starts_on, ends_on, move_open)


@command("cuti", args=ANY_ARGS, roles=COORDINATORS, help_key="cons.help_cuti", menu_key="cons.menu_cuti", order=50)
async def cover_command(ctx: Context) -> None:
    """`cuti` lists absences; `cuti <mentor> <dari> <sampai> <cadangan> [pindah]`; `cuti batal 3`."""
    words = ctx.text.split()
    if len(words) == 1:
        await list_absences(ctx)
        return
    if words[1].lower() == "batal" and len(words) == 3 and words[2].isdigit():
        cancelled = await cancel_absence(ctx.session, int(words[2]), ctx.now)
        ctx.reply("cons.cuti_cancelled" if cancelled else "cons.cuti_unknown", id=words[2])
        return
    try:
        request = await parse_cover(ctx.session, ctx.text)
        absence, messages = await record_absence(ctx.session, request, actor_id=ctx.person.id, now=ctx.now,
                                                 config=ctx.config)
    except CoverError as error:
        ctx.reply(error.key, **error.values)
        return
    ctx.out.extend(messages)
    ctx.reply("cons.cuti_recorded", id=absence.id, mentor=request.mentor.name, backup=request.backup.name,
              start=request.starts_on.strftime("%d/%m/%Y"), end=request.ends_on.strftime("%d/%m/%Y"),
              moved=t("cons.cuti_moves" if request.move_open else "cons.cuti_stays", ctx.lang))


async def list_absences(ctx: Context) -> None:
    """Current and coming absences, with how to add or cancel one."""
    lines = []
    for absence in await current_and_coming(ctx.session, ctx.now, ctx.config):
        mentor = await ctx.session.get(Person, absence.mentor_id)
        backup = await ctx.session.get(Person, absence.backup_id)
        lines.append(t("cons.cuti_line", ctx.lang, id=absence.id, mentor=mentor.name if mentor else "-",
                       backup=backup.name if backup else "-", start=absence.starts_on.strftime("%d/%m"),
                       end=absence.ends_on.strftime("%d/%m/%Y")))
    ctx.reply("cons.cuti_list", lines="\n".join(lines) or t("cons.cuti_none", ctx.lang))
