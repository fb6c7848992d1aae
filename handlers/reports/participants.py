"""`peserta`: a mentor's participants with score and last activity, and one participant's record.

Mentors see their own participants only, coordinators everyone (by name or by angkatan). Names
are matched tolerantly ("sri wulandari", "bu sari", "keripik"); several matches become options.
It lives above the features because it reads participation scores, tugas, reports and tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.assignments import due_for, extension_of, latest_submission
from handlers.activities.attendance import STATUS_KEYS as ATTENDANCE_KEYS
from handlers.activities.audience import audience_clause, cohorts_of, oversees
from handlers.activities.money import format_rupiah
from handlers.consultation.queue import STATUS_KEYS as TICKET_KEYS
from handlers.consultation.ticketing import ACTIVE, topic_label
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, month_label
from handlers.kernel.forms import command_args
from handlers.kernel.i18n import t
from handlers.kernel.messages import Button
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import ANY_ARGS, action, command
from handlers.kernel.roles import MANAGERS
from handlers.participation.scores import Score, compute_scores, week_of
from storage.models import (
    Assignment,
    Attendance,
    AttendanceStatus,
    MonthlyReport,
    Person,
    Role,
    Ticket,
)

GOOD_SCORE = 70.0  # a score from here up reads "baik"; dropping participants read "perlu perhatian"
MATCH_CUTOFF = 75  # rapidfuzz WRatio: "sri wulandari" still finds "Sari Wulandari"
CLEAR_LEAD = 8  # the best match wins alone when it leads the next by this much
PICK_LIMIT = 8  # options when several names match
LIST_LIMIT = 60  # lines of a list (a mentor's whole group; a large cohort is cut, slipping ones first)
LIST_BUTTONS = 5  # records one tap away under the list (the slipping ones)
TUGAS_DAYS = 60  # tugas of the last two months count in the record
TICKETS_SHOWN = 3
FILLERS = frozenset({"bu", "ibu", "pak", "bapak", "mas", "mbak", "mba", "kak", "sdr", "sdri"})


@dataclass(frozen=True)
class Row:
    """One participant in a list: who, their business, and their week's score."""

    person: Person
    score: Score | None

    @property
    def slipping(self) -> bool:
        """Their score shows a drop (the same test as the weekly summaries)."""
        return self.score is not None and self.score.is_dropping


@command("peserta", args=ANY_ARGS, roles=MANAGERS, help_key="pst.help", menu_key="pst.menu", order=15)
async def participants_command(ctx: Context) -> None:
    """Mentors: `peserta` lists their group; everyone here: `peserta NAMA` or `peserta <angkatan>`."""
    wanted = command_args(ctx)
    if not wanted:
        if ctx.person.role == Role.KOORDINATOR:
            await coordinator_hint(ctx)
        else:
            await show_list(ctx, Person.mentor_id == ctx.person.id, t("pst.your_group", ctx.lang))
        return
    cohort = await matching_cohort(ctx, wanted)
    if cohort is not None:
        scope = Person.cohort == cohort
        if ctx.person.role != Role.KOORDINATOR:
            scope = and_(scope, Person.mentor_id == ctx.person.id)
        await show_list(ctx, scope, cohort)
        return
    await find_and_show(ctx, wanted)


async def coordinator_hint(ctx: Context) -> None:
    """Coordinators oversee everyone: ask for a name or a cohort, the cohorts as options."""
    cohorts = await cohorts_of(ctx.session, ctx.person)
    buttons = tuple(Button(cohort, f"pstc:{cohort}") for cohort in cohorts[:PICK_LIMIT]
                    if len(f"pstc:{cohort}".encode()) <= 64)  # Telegram's limit for a button's data
    ctx.reply("pst.coordinator_hint", buttons=buttons, cohorts=", ".join(cohorts) or "-")


@action("pstc", roles=MANAGERS)
async def cohort_button(ctx: Context, cohort: str) -> None:
    """An angkatan chosen from the options."""
    scope = Person.cohort == cohort
    if ctx.person.role != Role.KOORDINATOR:
        scope = and_(scope, Person.mentor_id == ctx.person.id)
    await show_list(ctx, scope, cohort)


async def matching_cohort(ctx: Context, wanted: str) -> str | None:
    """The angkatan the text names ("angkatan 1", "Angkatan1"), among those this person sees."""
    squeezed = "".join(wanted.lower().split())
    return next((c for c in await cohorts_of(ctx.session, ctx.person) if "".join(c.lower().split()) == squeezed),
                None)


def participants_query(scope: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
    """Active participants (in scope)."""
    condition = and_(Person.role == Role.PESERTA, Person.is_active.is_(True))
    return condition if scope is None else and_(condition, scope)


async def show_list(ctx: Context, scope: ColumnElement[bool], label: str) -> None:
    """Name, business, score band and last activity; the slipping ones first."""
    people = list((await ctx.session.execute(select(Person).where(participants_query(scope)))).scalars())
    if not people:
        ctx.reply("pst.none", label=label)
        return
    week = week_of(ctx.now, ctx.config.timezone)
    scores = {s.participant_id: s for s in await compute_scores(ctx.session, week, ctx.now, ctx.config, scope=scope)}
    rows = sorted((Row(p, scores.get(p.id)) for p in people),
                  key=lambda r: (not r.slipping, r.score.score if r.slipping and r.score else 0.0, r.person.name))
    lines = [list_line(ctx, row) for row in rows[:LIST_LIMIT]]
    if len(rows) > LIST_LIMIT:
        lines.append(t("pst.more", ctx.lang, n=len(rows) - LIST_LIMIT))
    slipping = sum(row.slipping for row in rows)
    buttons = tuple(Button(t("pst.btn_open", ctx.lang, name=row.person.name), f"pst:{row.person.id}")
                    for row in rows[:LIST_BUTTONS])
    ctx.reply("pst.list", buttons=buttons, label=label, count=len(rows), slipping=slipping, lines="\n".join(lines),
              example=rows[0].person.name.split()[0])


def list_line(ctx: Context, row: Row) -> str:
    """"⚠️ *Joko* (Warung Joko) · skor 35 · aktif 12 hari lalu"."""
    return t("pst.line", ctx.lang, band=band_icon(row), name=row.person.name, business=row.person.business_name or "-",
             score=score_text(row.score), last=last_seen(ctx, row.person))


def band_icon(row: Row) -> str:
    """⚠️ slipping, 🟢 good, 🟡 in between, ⚪ not scored yet."""
    if row.slipping:
        return "⚠️"
    if row.score is None:
        return "⚪"
    return "🟢" if row.score.score >= GOOD_SCORE else "🟡"


def band_text(ctx: Context, score: Score | None) -> str:
    """The score's band in words."""
    if score is None:
        return t("pst.band_none", ctx.lang)
    if score.is_dropping:
        return t("pst.band_slipping", ctx.lang)
    return t("pst.band_good" if score.score >= GOOD_SCORE else "pst.band_fair", ctx.lang)


def score_text(score: Score | None) -> str:
    """"35" or "–"."""
    return "–" if score is None else f"{score.score:.0f}"


def last_seen(ctx: Context, person: Person) -> str:
    """When they last wrote to the bot: "hari ini", "kemarin", "12 hari lalu", "belum pernah"."""
    if person.last_inbound_at is None:
        return t("pst.never", ctx.lang)
    zone = ctx.config.timezone
    days = (ctx.now.astimezone(zone).date() - person.last_inbound_at.astimezone(zone).date()).days
    if days <= 0:
        return t("pst.today", ctx.lang)
    return t("pst.yesterday", ctx.lang) if days == 1 else t("pst.days_ago", ctx.lang, n=days)


async def find_and_show(ctx: Context, wanted: str) -> None:
    """One match: the record; several: options; none: say so."""
    query = select(Person).where(participants_query())
    if ctx.person.role != Role.KOORDINATOR:
        query = query.where(Person.mentor_id == ctx.person.id)
    found = best_matches(wanted, list((await ctx.session.execute(query)).scalars()))
    if not found:
        ctx.reply("pst.not_found", name=wanted)
        return
    if len(found) == 1:
        await show_record(ctx, found[0])
        return
    buttons = tuple(Button(t("pst.btn_pick", ctx.lang, name=p.name, business=p.business_name or "-"), f"pst:{p.id}")
                    for p in found)
    ctx.reply("pst.pick", buttons=buttons, name=wanted)


def best_matches(wanted: str, people: list[Person]) -> list[Person]:
    """People whose name (or business) matches: the clear winner alone, else the close ones."""
    words = [w for w in wanted.lower().split() if w not in FILLERS]
    text = " ".join(words) or wanted.lower()
    exact = [p for p in people if p.name.lower() == text]
    if len(exact) == 1:
        return exact
    scored = sorted(((max(fuzz.WRatio(text, p.name.lower()), fuzz.WRatio(text, (p.business_name or "").lower())), p)
                     for p in people), key=lambda pair: (-pair[0], pair[1].name))
    close = [(score, p) for score, p in scored if score >= MATCH_CUTOFF]
    if not close:
        return []
    if len(close) == 1 or close[0][0] - close[1][0] >= CLEAR_LEAD:
        return [close[0][1]]
    return [p for score, p in close if score > close[0][0] - CLEAR_LEAD][:PICK_LIMIT]


@action("pst", roles=MANAGERS)
async def record_button(ctx: Context, person_id: str) -> None:
    """A participant chosen from a list or from the options."""
    person = await ctx.session.get(Person, number) if (number := record_id(person_id)) is not None else None
    if person is None or person.role != Role.PESERTA or not oversees(ctx.person, person):
        ctx.reply("pst.not_found", name=person_id)
        return
    await show_record(ctx, person)


async def show_record(ctx: Context, person: Person) -> None:
    """Business, cohort, mentor, score and why, presensi, tugas, last report, questions."""
    week = week_of(ctx.now, ctx.config.timezone)
    scores = await compute_scores(ctx.session, week, ctx.now, ctx.config, scope=Person.id == person.id)
    score = scores[0] if scores else None
    mentor = await ctx.session.get(Person, person.mentor_id) if person.mentor_id else None
    tickets = await recent_tickets(ctx.session, person)
    buttons = tuple(Button(t("pst.btn_ticket", ctx.lang, number=ticket.id), f"tk:{ticket.id}")
                    for ticket in tickets if ticket.status in ACTIVE)
    ctx.reply("pst.record", buttons=(*buttons, Button(t("pst.btn_list", ctx.lang), "cmd:peserta")),
              name=person.name, business=person.business_name or "-", cohort=person.cohort or "-",
              district=person.district or "-", mentor=mentor.name if mentor else "-", phone=person.phone or "-",
              score=score_text(score), band=band_text(ctx, score),
              reasons="; ".join(score.reasons) if score and score.reasons else t("pst.no_reasons", ctx.lang),
              attendance=await attendance_text(ctx, person), tugas=await tugas_text(ctx, person),
              report=await report_text(ctx, person), questions=questions_text(ctx, tickets),
              last=last_seen(ctx, person))


async def attendance_text(ctx: Context, person: Person) -> str:
    """"3 hadir, 1 terlambat, 0 izin, 0 sakit, 1 alpa"."""
    query = (select(Attendance.status, func.count()).where(Attendance.participant_id == person.id)
             .group_by(Attendance.status))
    counts: dict[str, int] = dict((await ctx.session.execute(query)).all())
    return ", ".join(f"{counts.get(status, 0)} {t(ATTENDANCE_KEYS[status], ctx.lang)}" for status in AttendanceStatus)


async def tugas_text(ctx: Context, person: Person) -> str:
    """"2 dari 3 terkirim; belum: Tugas HPP (batas Kam, 5 Mar 2026 23.59 WIB)"."""
    query = (select(Assignment).where(audience_clause(Assignment, person),
                                       Assignment.due_at >= ctx.now - timedelta(days=TUGAS_DAYS))
             .order_by(Assignment.due_at))
    assignments = list((await ctx.session.execute(query)).scalars())
    if not assignments:
        return t("pst.tugas_none", ctx.lang)
    sent, missing = 0, []
    for assignment in assignments:
        if await latest_submission(ctx.session, assignment.id, person.id) is not None:
            sent += 1
            continue
        due = due_for(assignment, await extension_of(ctx.session, assignment.id, person.id))
        missing.append((assignment.title, due))
    text = t("pst.tugas_sent", ctx.lang, sent=sent, total=len(assignments))
    if missing:
        text += t("pst.tugas_missing", ctx.lang, items=", ".join(
            t("pst.tugas_item", ctx.lang, title=title, due=format_moment(due, ctx.config.timezone, ctx.lang))
            for title, due in missing[:2]))
    return text


async def report_text(ctx: Context, person: Person) -> str:
    """The last laporan bulanan sent: "Februari 2026 — omzet Rp 3.500.000", or none yet."""
    query = (select(MonthlyReport).where(MonthlyReport.participant_id == person.id,
                                         MonthlyReport.submitted_at.is_not(None))
             .order_by(MonthlyReport.month.desc()).limit(1))
    report = (await ctx.session.execute(query)).scalar_one_or_none()
    if report is None:
        return t("pst.report_none", ctx.lang)
    omzet = format_rupiah(report.omzet) if report.omzet is not None else "-"
    return t("pst.report_line", ctx.lang, month=month_label(report.month, ctx.lang), omzet=omzet)


async def recent_tickets(session: AsyncSession, person: Person) -> list[Ticket]:
    """The participant's latest questions, newest first."""
    query = (select(Ticket).where(Ticket.participant_id == person.id).order_by(Ticket.id.desc())
             .limit(TICKETS_SHOWN))
    return list((await session.execute(query)).scalars())


def questions_text(ctx: Context, tickets: list[Ticket]) -> str:
    """"#4 Permodalan (menunggu jawaban), #2 Legalitas/Perizinan (ditutup)"."""
    if not tickets:
        return t("pst.questions_none", ctx.lang)
    return ", ".join(t("pst.question_item", ctx.lang, number=ticket.id,
                       topic=topic_label(ctx.config, ticket.topic, ctx.lang), status=t(TICKET_KEYS[ticket.status], ctx.lang))
                     for ticket in tickets)

