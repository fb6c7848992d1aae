"""Participants move from one mentor to another; who mentored whom is kept as dated periods.

A coordinator moves all of a mentor's participants, a list of them, or a file mapping participant
to new mentor (`klinik pendamping pindah`, or `pindahpeserta` in chat with a preview). Applying
changes the participant's mentor, moves their open tickets with the threads, tells each participant
once who their new mentor is, gives the new mentor a short brief per participant and tells the old
mentor. It lives above the features because the brief reads tickets, attendance and reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.attendance import STATUS_KEYS as ATTENDANCE_KEYS
from handlers.activities.money import format_rupiah
from handlers.consultation.ticketing import ACTIVE, topic_label
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import month_label
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import ANY_ARGS, action, command
from handlers.kernel.roles import COORDINATORS
from storage.models import (
    Attendance,
    AttendanceStatus,
    AuditEntry,
    Mentorship,
    MonthlyReport,
    Person,
    Role,
    Ticket,
)

PREVIEW_LINES = 30  # participants listed in a preview; the rest are counted


@dataclass(frozen=True)
class Move:
    """One participant going from their mentor (if any) to a new one."""

    participant: Person
    old: Person | None
    new: Person


@dataclass
class Plan:
    """The moves asked for and what stands in the way (catalog key and values per problem)."""

    moves: list[Move]
    problems: list[tuple[str, dict[str, Any]]]


def language_of(person: Person, config: Config) -> str:
    """The person's language, else the programme's."""
    return person.language or config.language


async def _by_phone(session: AsyncSession, raw: str) -> Person | None:
    try:
        phone = normalize_phone(raw)
    except ValueError:
        return None
    person = (await session.execute(select(Person).where(Person.phone == phone))).scalar_one_or_none()
    return person if person is not None and person.erased_at is None else None


async def _mentor(session: AsyncSession, raw: str, plan: Plan, *, must_be_active: bool) -> Person | None:
    person = await _by_phone(session, raw)
    if person is None or person.role != Role.PENDAMPING or (must_be_active and not person.is_active):
        plan.problems.append(("mtr.not_a_mentor", {"phone": raw}))
        return None
    return person


async def plan_moves(session: AsyncSession, source_phone: str, target_phone: str,
                     participant_phones: Sequence[str] = ()) -> Plan:
    """All of a mentor's active participants (or the listed ones) to another mentor."""
    plan = Plan([], [])
    source = await _mentor(session, source_phone, plan, must_be_active=False)
    target = await _mentor(session, target_phone, plan, must_be_active=True)
    if source is None or target is None:
        return plan
    if source.id == target.id:
        plan.problems.append(("mtr.same_mentor", {"name": target.name}))
        return plan
    if not participant_phones:
        query = (select(Person).where(Person.mentor_id == source.id, Person.role == Role.PESERTA,
                                      Person.is_active.is_(True), Person.erased_at.is_(None))
                 .order_by(Person.name, Person.id))
        plan.moves = [Move(p, source, target) for p in (await session.execute(query)).scalars()]
        if not plan.moves:
            plan.problems.append(("mtr.no_participants", {"name": source.name}))
        return plan
    for raw in participant_phones:
        participant = await _participant(session, raw, plan)
        if participant is None:
            continue
        if participant.mentor_id != source.id:
            plan.problems.append(("mtr.not_their_participant", {"name": participant.name, "mentor": source.name}))
            continue
        plan.moves.append(Move(participant, source, target))
    return plan


async def _participant(session: AsyncSession, raw: str, plan: Plan) -> Person | None:
    person = await _by_phone(session, raw)
    if person is None or person.role != Role.PESERTA or not person.is_active:
        plan.problems.append(("mtr.not_a_participant", {"phone": raw}))
        return None
    return person


async def plan_mapping(session: AsyncSession, rows: Sequence[MappingRow]) -> Plan:
    """Each participant (by phone) to the mentor on their row; an incomplete row or a participant listed twice
    is a problem, and each problem names its line of the file."""
    plan = Plan([], [])
    seen: set[int] = set()
    for line, participant_phone, mentor_phone in rows:
        found = len(plan.problems)
        if not participant_phone or not mentor_phone:
            plan.problems.append(("mtr.row_incomplete", {"line": line}))
            continue
        participant = await _participant(session, participant_phone, plan)
        target = await _mentor(session, mentor_phone, plan, must_be_active=True)
        if participant is not None and target is not None and participant.id in seen:
            plan.problems.append(("mtr.listed_twice", {"name": participant.name}))
        for index in range(found, len(plan.problems)):
            key, values = plan.problems[index]
            plan.problems[index] = (key, {**values, "line": line})
        if participant is None or target is None or len(plan.problems) > found:
            continue
        seen.add(participant.id)
        if participant.mentor_id == target.id:
            continue
        old = await session.get(Person, participant.mentor_id) if participant.mentor_id else None
        plan.moves.append(Move(participant, old, target))
    if not plan.moves and not plan.problems:
        plan.problems.append(("mtr.nothing_to_move", {}))
    return plan


class MappingRow(NamedTuple):
    """One line of a mapping file: its number, the participant's phone and the new mentor's phone."""

    line: int
    participant: str
    mentor: str


def mapping_rows(lines: Iterable[Sequence[object]]) -> list[MappingRow]:
    """Rows of cells (CSV or a sheet) as mapping rows: the first two cells count; blank lines and a first line
    without any digit (the header) are skipped; any other line is kept, so a bad one is reported, not dropped."""
    rows: list[MappingRow] = []
    header_seen = False
    for number, raw in enumerate(lines, start=1):
        cells = [_cell(value) for value in raw]
        if not any(cells):
            continue
        if not header_seen and not rows and not any(re.search(r"\d", cell) for cell in cells):
            header_seen = True
            continue
        cells += ["", ""]
        rows.append(MappingRow(number, cells[0], cells[1]))
    return rows


def _cell(value: object) -> str:
    """A cell as text: a number a spreadsheet kept as 81200000001 (or 81200000001.0) reads as its digits."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip().strip('"').strip()


def read_mapping(text: str) -> list[MappingRow]:
    """CSV lines `participant phone,new mentor phone` (`;` or a tab also separates)."""
    return mapping_rows(re.split(r"[,;\t]", line) for line in text.splitlines())


async def _open_tickets(session: AsyncSession, participant: Person) -> list[Ticket]:
    query = select(Ticket).where(Ticket.participant_id == participant.id, Ticket.status.in_(ACTIVE)).order_by(Ticket.id)
    return list((await session.execute(query)).scalars())


def preview(plan: Plan, language: str) -> str:
    """Who goes where, one line each (long lists cut), and the problems found."""
    lines = [t("mtr.preview_line", language, name=move.participant.name, phone=move.participant.phone,
               old=move.old.name if move.old else "-", new=move.new.name)
             for move in plan.moves[:PREVIEW_LINES]]
    if len(plan.moves) > PREVIEW_LINES:
        lines.append(t("mtr.preview_more", language, count=len(plan.moves) - PREVIEW_LINES))
    for key, values in plan.problems:
        text = t(key, language, **{name: value for name, value in values.items() if name != "line"})
        lines.append(t("mtr.on_line", language, problem=text, line=values["line"]) if "line" in values else text)
    return "\n".join(lines)


# ---------------------------------------------------------------------- periods


async def open_period(session: AsyncSession, participant: Person) -> Mentorship | None:
    """The participant's current period; opened lazily (from when they joined) for one who has none."""
    query = (select(Mentorship).where(Mentorship.participant_id == participant.id, Mentorship.ended_at.is_(None))
             .order_by(Mentorship.started_at.desc()).limit(1))
    period = (await session.execute(query)).scalar_one_or_none()
    if period is None and participant.mentor_id is not None:
        period = Mentorship(participant_id=participant.id, mentor_id=participant.mentor_id,
                            started_at=participant.created_at)
        session.add(period)
    return period


# ---------------------------------------------------------------------- applying


async def apply_moves(session: AsyncSession, moves: Sequence[Move], now: datetime, config: Config, *,
                      actor_id: int | None, source: str) -> list[Outgoing]:
    """Change mentors, move open tickets, record periods; messages to participants and both mentors."""
    out: list[Outgoing] = []
    away: dict[int, tuple[Person, list[Move]]] = {}
    for move in moves:
        participant, new = move.participant, move.new
        if participant.mentor_id == new.id:
            continue
        period = await open_period(session, participant)
        if period is not None:
            period.ended_at = now
        session.add(Mentorship(participant_id=participant.id, mentor_id=new.id, started_at=now))
        participant.mentor_id = new.id
        participant.updated_at = now
        tickets = await _open_tickets(session, participant)
        for ticket in tickets:
            previous = ticket.mentor_id
            ticket.mentor_id = new.id
            ticket.reassignments += 1
            session.add(AuditEntry(at=now, actor_id=actor_id, action="ticket_reassigned", subject=f"ticket:{ticket.id}",
                                   detail={"from": previous, "to": new.id, "reason": "mentor_changed"}))
        session.add(AuditEntry(at=now, actor_id=actor_id, action="mentor_changed", subject=f"person:{participant.id}",
                               detail={"from": move.old.id if move.old else None, "to": new.id, "source": source,
                                       "tickets": [ticket.id for ticket in tickets]}))
        lang = language_of(participant, config)
        out.append(Outgoing(text=t("mtr.told_participant", lang, name=participant.name, mentor=new.name,
                                   tickets=_ticket_numbers(tickets, lang, "mtr.told_tickets")),
                            person_id=participant.id))
        out.append(Outgoing(text=await brief(session, participant, tickets, config, language_of(new, config)),
                            person_id=new.id, ref=f"person:{participant.id}"))
        if move.old is not None:
            away.setdefault(move.old.id, (move.old, []))[1].append(move)
    for old, gone in away.values():
        lang = language_of(old, config)
        names = "\n".join(t("mtr.away_line", lang, name=move.participant.name, mentor=move.new.name) for move in gone)
        out.append(Outgoing(text=t("mtr.told_old_mentor", lang, count=len(gone), names=names), person_id=old.id))
    return out


def _ticket_numbers(tickets: Sequence[Ticket], language: str, key: str) -> str:
    if not tickets:
        return ""
    return t(key, language, numbers=", ".join(f"#{ticket.id}" for ticket in tickets))


async def brief(session: AsyncSession, participant: Person, tickets: Sequence[Ticket], config: Config,
                language: str) -> str:
    """Business, topics asked, attendance summary, last report and the open questions that came along."""
    topics_query = (select(Ticket.topic, func.count()).where(Ticket.participant_id == participant.id)
                    .group_by(Ticket.topic).order_by(func.count().desc(), Ticket.topic))
    topics = ", ".join(f"{topic_label(config, topic, language)} ({count})"
                       for topic, count in (await session.execute(topics_query)).all())
    attendance_query = (select(Attendance.status, func.count()).where(Attendance.participant_id == participant.id)
                        .group_by(Attendance.status))
    counts: dict[str, int] = dict((await session.execute(attendance_query)).all())
    attendance = ", ".join(f"{counts.get(status, 0)} {t(ATTENDANCE_KEYS[status], language)}"
                           for status in AttendanceStatus)
    report_query = (select(MonthlyReport).where(MonthlyReport.participant_id == participant.id,
                                                MonthlyReport.submitted_at.is_not(None))
                    .order_by(MonthlyReport.month.desc()).limit(1))
    report = (await session.execute(report_query)).scalar_one_or_none()
    last_report = (t("mtr.report_line", language, month=month_label(report.month, language),
                     omzet=format_rupiah(report.omzet) if report.omzet is not None else "-")
                   if report is not None else t("mtr.report_none", language))
    return t("mtr.brief", language, name=participant.name, phone=participant.phone,
             business=participant.business_name or "-", cohort=participant.cohort or "-",
             topics=topics or t("mtr.topics_none", language), attendance=attendance, report=last_report,
             tickets=_ticket_numbers(tickets, language, "mtr.brief_tickets"))


# ---------------------------------------------------------------------- chat


@command("pindahpeserta", args=ANY_ARGS, roles=COORDINATORS, help_key="mtr.help", order=73)
async def ask_to_move(ctx: Context) -> None:
    """`pindahpeserta <dari> <ke>`: preview moving all of a mentor's participants, then Ya/Batal."""
    phones = ctx.text.split()[1:]
    if len(phones) != 2:
        ctx.reply("mtr.usage")
        return
    plan = await plan_moves(ctx.session, phones[0], phones[1])
    if not plan.moves:
        ctx.reply("mtr.nothing", problems=preview(plan, ctx.lang))
        return
    source, target = plan.moves[0].old, plan.moves[0].new
    assert source is not None
    buttons = (Button(t("mtr.btn_yes", ctx.lang), f"pp:ya:{source.id}:{target.id}"),
               Button(t("mtr.btn_cancel", ctx.lang), "pp:batal:0"))
    ctx.reply("mtr.confirm", buttons=buttons, count=len(plan.moves), old=source.name, new=target.name,
              lines=preview(plan, ctx.lang))


@action("pp", roles=COORDINATORS)
async def move_choice(ctx: Context, argument: str) -> None:
    """pp:ya:<from>:<to> applies the move of all of the mentor's participants; pp:batal:0 changes nothing."""
    choice, _, rest = argument.partition(":")
    if choice == "batal":
        ctx.reply("mtr.cancelled")
        return
    source_id, _, target_id = rest.partition(":")
    ids = (record_id(source_id), record_id(target_id))
    source = await ctx.session.get(Person, ids[0]) if choice == "ya" and ids[0] is not None else None
    target = await ctx.session.get(Person, ids[1]) if source is not None and ids[1] is not None else None
    if source is None or target is None:
        ctx.reply("core.unknown_button")
        return
    plan = await plan_moves(ctx.session, source.phone, target.phone)
    if not plan.moves:
        ctx.reply("mtr.nothing", problems=preview(plan, ctx.lang))
        return
    ctx.out.extend(await apply_moves(ctx.session, plan.moves, ctx.now, ctx.config, actor_id=ctx.person.id,
                                     source="chat"))
    ctx.reply("mtr.moved", count=len(plan.moves), old=source.name, new=target.name)
