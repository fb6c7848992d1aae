"""The console's bounded reads: every list is one page (LIMIT/OFFSET) and every total an aggregate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.activities.assignments import STATUS_KEYS as TUGAS_KEYS
from handlers.activities.attendance import STATUS_KEYS as ATTENDANCE_KEYS
from handlers.activities.money import format_rupiah
from handlers.kernel.config import Config
from handlers.kernel.dates import month_label
from handlers.kernel.i18n import t
from handlers.participation.queries import agency_of
from handlers.participation.scores import shift_week
from handlers.reports.figures import waiting_since
from handlers.reports.rules import ReportsRules
from storage.models import (
    Assignment,
    Attendance,
    Meeting,
    MonthlyReport,
    NudgeLog,
    NudgeStep,
    ParticipationScore,
    Person,
    Role,
    Submission,
    Ticket,
    TicketMessage,
    TicketStatus,
)

PAGE_SIZE = 50
SILENT_DAYS = 14  # no message to the bot for this long: silent
GROUP_ROWS = 200  # agency × cohort rows on the overview
CHOICES = 500  # options in a filter or a mentor list
STORY_ROWS = 100  # rows per kind of event in a participant's story
SCORE_BANDS = {"rendah": (0.0, 40.0), "sedang": (40.0, 70.0), "tinggi": (70.0, 1000.0)}  # latest week's score
SCORE_BAND_KEYS = {"rendah": "tools.score_low", "sedang": "tools.score_mid", "tinggi": "tools.score_high"}
TREND_WEEKS = 12
SEARCH_CAP = 1000  # matches of one search; a wider one ("0812") asks for more letters


def at_risk_clause() -> ColumnElement[bool]:
    """A nudge ladder still open for the participant (the same ladder the digest's at-risk list reads).

    An IN over the open ladders (index ix_nudge_log_open: a few thousand rows) rather than a probe per person."""
    return Person.id.in_(select(NudgeLog.participant_id).where(NudgeLog.resolved_at.is_(None)))


def silent_clause(now: datetime) -> ColumnElement[bool]:
    """Nothing from the participant for SILENT_DAYS days (or ever)."""
    return or_(Person.last_inbound_at.is_(None), Person.last_inbound_at < now - timedelta(days=SILENT_DAYS))


def active_participants() -> ColumnElement[bool]:
    """Active participants on the roster."""
    return and_(Person.role == Role.PESERTA, Person.is_active == true(), Person.erased_at.is_(None))  # = : indexable


@dataclass(frozen=True)
class GroupRow:
    """One agency and cohort on the overview."""

    agency: str
    cohort: str
    participants: int
    at_risk: int
    silent: int


async def groups(db: AsyncSession, now: datetime, config: Config) -> list[GroupRow]:
    """Participants, at risk and silent per agency and cohort (one GROUP BY)."""
    agency = agency_of(config.rules(ReportsRules).agency_fields)
    query = (select(agency, Person.cohort, func.count(), func.sum(case((at_risk_clause(), 1), else_=0)),
                    func.sum(case((silent_clause(now), 1), else_=0)))
             .where(active_participants()).group_by(agency, Person.cohort).order_by(agency, Person.cohort)
             .limit(GROUP_ROWS))
    return [GroupRow(a or "", c or "", int(n), int(r or 0), int(s or 0)) for a, c, n, r, s in await db.execute(query)]


@dataclass(frozen=True)
class WeekRow:
    """The latest scored week's attendance and tugas over the programme."""

    week: str
    participants: int
    active: int
    sessions_expected: int
    sessions_present: int
    tugas_due: int
    tugas_on_time: int


async def latest_week(db: AsyncSession) -> WeekRow | None:
    """Sums of the newest stored participation week (the weekly job writes them)."""
    week = (await db.execute(select(func.max(ParticipationScore.week)))).scalar_one_or_none()
    if week is None:
        return None
    s = ParticipationScore
    row = (await db.execute(select(func.count(), func.sum(case((s.is_active, 1), else_=0)), func.sum(s.sessions_expected),
                                   func.sum(s.sessions_hadir + s.sessions_terlambat), func.sum(s.tugas_due),
                                   func.sum(s.tugas_on_time)).where(s.week == week))).one()
    return WeekRow(week, *(int(value or 0) for value in row))


@dataclass(frozen=True)
class Filters:
    """The participant list's search and filters, as given in the query string."""

    q: str = ""
    cohort: str = ""
    agency: str = ""
    district: str = ""
    mentor: int | None = None
    at_risk: bool = False
    no_consent: bool = False
    unreachable: bool = False
    score: str = ""  # a SCORE_BANDS key: the latest scored week's score in that band
    page: int = 1


PHONE_TYPED = re.compile(r"^[+\d][\d\s.-]{3,}$")
TOP = "\U0010ffff"  # above every character: lower(name) in [prefix, prefix + TOP) starts with prefix


def phone_prefix(text: str) -> str:
    """A typed number as the roster stores it: 0812…, 62812…, 812… → +62812… ("" when it is no number)."""
    if not PHONE_TYPED.match(text):
        return ""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("0"):
        return "+62" + digits[1:]
    if digits.startswith("62"):
        return "+" + digits
    return "+62" + digits if digits.startswith("8") else "+" + digits


def starts_with(column: ColumnElement[str], prefix: str, dialect: str) -> ColumnElement[bool]:
    """column starts with prefix, on an index: PostgreSQL LIKE 'x%' (text_pattern_ops), SQLite a byte range."""
    if dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    return and_(column >= prefix, column < prefix + TOP)


def search_clause(q: str, dialect: str) -> ColumnElement[bool]:
    """The search: the name or business name starts with the words typed (any case), or the phone number does.

    A prefix on an index (ix_people_search_name / _business, the phone's), never a scan of every row."""
    text = " ".join(q.lower().split())
    clauses = [starts_with(func.lower(Person.name), text, dialect),
               starts_with(func.lower(Person.business_name), text, dialect)]
    phone = phone_prefix(q.strip())
    if phone:
        clauses.append(starts_with(Person.phone, phone, dialect))
    return or_(*clauses)


def participant_conditions(viewer: Person, filters: Filters, config: Config, dialect: str = "sqlite",
                           for_count: bool = False) -> list[ColumnElement[bool]]:
    """What the list shows: active participants the viewer oversees, narrowed by the filters."""
    conditions = [active_participants()]
    if viewer.role != Role.KOORDINATOR:
        conditions.append(Person.mentor_id == viewer.id)
    if filters.q.strip():  # the matches first (on their indexes, at most SEARCH_CAP), then the other filters
        conditions.append(Person.id.in_(select(Person.id).where(search_clause(filters.q, dialect)).limit(SEARCH_CAP)))
    if filters.cohort:
        conditions.append(Person.cohort == filters.cohort)
    if filters.district:
        conditions.append(Person.district == filters.district)
    if filters.agency:
        conditions.append(agency_of(config.rules(ReportsRules).agency_fields) == filters.agency.lower())
    if filters.mentor is not None:
        conditions.append(Person.mentor_id == filters.mentor)
    if filters.at_risk:
        conditions.append(at_risk_clause())
    if filters.no_consent:
        conditions.append(or_(Person.consent_given.is_(None), Person.consent_given.is_(False)))
    if filters.unreachable:
        conditions.append(Person.unreachable_reason.is_not(None))
    if filters.score in SCORE_BANDS:
        # Counting: the band's ids from the (week, score) index, probed by id. A page: people in name order
        # (the list's index), each probed by (week, participant_id) until the page is full.
        low, high = SCORE_BANDS[filters.score]
        s = ParticipationScore
        latest = select(func.max(s.week)).scalar_subquery()
        band = [s.week == latest, s.score >= low, s.score < high]
        conditions.append(Person.id.in_(select(s.participant_id).where(*band)) if for_count
                          else exists(select(s.id).where(s.participant_id == Person.id, *band)))
    return conditions


async def participants_page(db: AsyncSession, viewer: Person, filters: Filters, config: Config,
                            now: datetime) -> tuple[int, list[tuple[Person, str, bool, bool]]]:
    """(total, rows of one page): each participant with their mentor's name, at risk, silent.

    The page's ids come first (people by role and name: an index walk), then only those rows are read
    with their mentor and flags."""
    conditions = participant_conditions(viewer, filters, config, db.bind.dialect.name)
    counted = participant_conditions(viewer, filters, config, db.bind.dialect.name, for_count=True)
    total = int((await db.execute(select(func.count()).select_from(Person).where(*counted))).scalar_one())
    ids = list((await db.execute(select(Person.id).where(*conditions).order_by(Person.name, Person.id)
                                 .limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE))).scalars())
    if not ids:
        return total, []
    mentor = aliased(Person)
    query = (select(Person, mentor.name, at_risk_clause(), silent_clause(now))
             .outerjoin(mentor, mentor.id == Person.mentor_id).where(Person.id.in_(ids)))
    found = {person.id: (person, name or "-", bool(risk), bool(silent))
             for person, name, risk, silent in await db.execute(query)}
    return total, [found[number] for number in ids if number in found]


async def choices(db: AsyncSession, viewer: Person, config: Config) -> dict[str, list[Any]]:
    """Values for the filters: cohorts, districts, agencies and mentors (bounded)."""
    scope = [active_participants()] + ([Person.mentor_id == viewer.id] if viewer.role != Role.KOORDINATOR else [])

    async def distinct(column: Any) -> list[str]:
        query: Select[Any] = select(column).where(*scope, column != "").distinct().order_by(column).limit(CHOICES)
        return [value for value in (await db.execute(query)).scalars() if value]

    agency = agency_of(config.rules(ReportsRules).agency_fields)
    return {"cohorts": await distinct(Person.cohort), "districts": await distinct(Person.district),
            "agencies": await distinct(agency), "mentors": await mentors(db)}


async def mentors(db: AsyncSession) -> list[Person]:
    """Active mentors by name (bounded)."""
    query = (select(Person).where(Person.role == Role.PENDAMPING, Person.is_active.is_(True))
             .order_by(Person.name, Person.id).limit(CHOICES))
    return list((await db.execute(query)).scalars())


@dataclass(frozen=True)
class Event:
    """One moment of a participant's story."""

    at: datetime
    kind: str  # question, answer, note, attendance, tugas, report, nudge
    title: str
    detail: str
    link: str = ""
    files: tuple[str, int, list[Any]] | None = None  # (kind, id, attachments) for the console's file links


NUDGE_KEYS: dict[str, str] = {NudgeStep.NUDGE: "web.nudge_step_nudge", NudgeStep.MENTOR: "web.nudge_step_mentor",
              NudgeStep.COORDINATOR: "web.nudge_step_coordinator"}


async def story(db: AsyncSession, person: Person, lang: str) -> list[Event]:
    """Questions and answers, attendance, tugas, monthly reports and nudges, oldest first (bounded per kind)."""
    events: list[Event] = []
    messages = (select(TicketMessage, Ticket.topic).join(Ticket, Ticket.id == TicketMessage.ticket_id)
                .where(Ticket.participant_id == person.id)
                .order_by(TicketMessage.created_at.desc()).limit(STORY_ROWS))
    for message, topic in await db.execute(messages):
        events.append(Event(message.created_at, message.kind, f"#{message.ticket_id} {topic}", message.text,
                            f"/console/tiket/{message.ticket_id}", ("tiket", message.id, message.attachments)))
    attendance = (select(Attendance, Meeting.title, Meeting.starts_at).join(Meeting, Meeting.id == Attendance.meeting_id)
                  .where(Attendance.participant_id == person.id).order_by(Meeting.starts_at.desc()).limit(STORY_ROWS))
    for presence, title, starts in await db.execute(attendance):
        status = ATTENDANCE_KEYS.get(presence.status)
        events.append(Event(starts, "attendance", title, t(status, lang) if status else presence.status))
    submissions = (select(Submission, Assignment.title).join(Assignment, Assignment.id == Submission.assignment_id)
                   .where(Submission.participant_id == person.id).order_by(Submission.submitted_at.desc())
                   .limit(STORY_ROWS))
    for submission, title in await db.execute(submissions):
        comment = f" · {submission.review_comment}" if submission.review_comment else ""
        status = TUGAS_KEYS.get(submission.status)
        events.append(Event(submission.submitted_at, "tugas", title,
                            (t(status, lang) if status else submission.status) + comment,
                            files=("tugas", submission.id, submission.attachments)))
    reports = (select(MonthlyReport).where(MonthlyReport.participant_id == person.id,
                                           MonthlyReport.submitted_at.is_not(None))
               .order_by(MonthlyReport.month.desc()).limit(STORY_ROWS))
    for report in (await db.execute(reports)).scalars():
        assert report.submitted_at is not None
        omzet = format_rupiah(report.omzet) if report.omzet is not None else "-"
        events.append(Event(report.submitted_at, "report", month_label(report.month, lang),
                            t("web.report_line", lang, omzet=omzet, workers=report.workers if report.workers is not None
                              else "-", customers=report.customers if report.customers is not None else "-")))
    nudges = (select(NudgeLog).where(NudgeLog.participant_id == person.id).order_by(NudgeLog.sent_at.desc())
              .limit(STORY_ROWS))
    for nudge in (await db.execute(nudges)).scalars():
        step = NUDGE_KEYS.get(nudge.step)
        events.append(Event(nudge.sent_at, "nudge", t(step, lang) if step else nudge.step,
                            t("web.nudge_closed", lang) if nudge.resolved_at else t("web.nudge_open", lang)))
    return sorted(events, key=lambda event: event.at)


async def queue_page(db: AsyncSession, viewer: Person, page: int) -> tuple[int, list[tuple[Ticket, str]]]:
    """Open tickets waiting for the viewer (all of them for a coordinator), longest waiting first."""
    conditions: list[ColumnElement[bool]] = [Ticket.status == TicketStatus.OPEN]
    if viewer.role != Role.KOORDINATOR:
        conditions.append(or_(Ticket.mentor_id == viewer.id, Ticket.expert_id == viewer.id))
    total = int((await db.execute(select(func.count()).select_from(Ticket).where(*conditions))).scalar_one())
    query = (select(Ticket, Person.name).join(Person, Person.id == Ticket.participant_id).where(*conditions)
             .order_by(waiting_since(), Ticket.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return total, [(ticket, name) for ticket, name in await db.execute(query)]


async def thread(db: AsyncSession, ticket: Ticket) -> list[tuple[TicketMessage, str]]:
    """The ticket's messages with their authors, oldest first (bounded)."""
    query = (select(TicketMessage, Person.name).join(Person, Person.id == TicketMessage.author_id)
             .where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id.desc()).limit(STORY_ROWS))
    return list(reversed([(message, name) for message, name in await db.execute(query)]))


@dataclass(frozen=True)
class TrendWeek:
    """One stored week's average participation score over the programme."""

    week: str
    average: float
    scored: int


async def score_trend(db: AsyncSession, weeks: int = TREND_WEEKS) -> list[TrendWeek]:
    """The average score of each of the latest `weeks` stored weeks, oldest first (one GROUP BY on the
    (week, score) index)."""
    latest = (await db.execute(select(func.max(ParticipationScore.week)))).scalar_one_or_none()
    if latest is None:
        return []
    wanted = [shift_week(latest, -n) for n in range(weeks - 1, -1, -1)]
    s = ParticipationScore
    query = select(s.week, func.avg(s.score), func.count()).where(s.week.in_(wanted)).group_by(s.week).order_by(s.week)
    return [TrendWeek(week, round(float(average or 0), 1), int(count)) for week, average, count in await db.execute(query)]


def trend_points(trend: list[TrendWeek], width: int = 480, height: int = 120, pad: int = 8) -> str:
    """The SVG polyline points of the trend on a 0–100 scale (server-rendered, no script)."""
    if not trend:
        return ""
    step = (width - 2 * pad) / max(1, len(trend) - 1)
    return " ".join(f"{pad + i * step:.1f},{pad + (height - 2 * pad) * (1 - min(100.0, w.average) / 100):.1f}"
                    for i, w in enumerate(trend))
