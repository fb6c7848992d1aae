"""Accountability workbooks (rekap): presensi, tugas, laporan bulanan, konsultasi and the register, for a scope and period.

A scope is the whole programme, an angkatan, an instansi (roster column) or a mentor's group; a period is a
local month or any range of days. Headers are Indonesian (the catalog's language), dates are local to the
programme, numbers stay numbers and roster text that looks like a formula stays text (xlsx_row).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.ticket_figures import ticket_figures
from handlers.kernel.config import Config
from handlers.kernel.dates import format_date, month_label
from handlers.kernel.i18n import t
from handlers.kernel.spreadsheet import xlsx_row
from handlers.participation.queries import agency_of, is_participant
from handlers.reports.attribution import Attribution, load_attribution, utc
from handlers.reports.rules import ReportsRules
from storage.models import (
    Assignment,
    Attendance,
    AttendanceStatus,
    Extension,
    Meeting,
    MonthlyReport,
    Person,
    Role,
    Submission,
)

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
STATUSES = (AttendanceStatus.HADIR, AttendanceStatus.TERLAMBAT, AttendanceStatus.IZIN, AttendanceStatus.SAKIT,
            AttendanceStatus.ALPA)
Sheet = tuple[str, list[str], list[list[Any]]]


@dataclass(frozen=True)
class Scope:
    """Whose figures: kind is programme, cohort, agency or mentor; value names the group."""

    kind: str
    value: str = ""
    label: str = ""
    members: frozenset[int] | None = None  # a mentor's participants of the period, once known (attribution.py)

    def clause(self, config: Config) -> ColumnElement[bool]:
        """SQL condition on Person for the participants of the scope."""
        if self.members is not None:
            return Person.id.in_(sorted(self.members))
        if self.kind == "cohort":
            return Person.cohort == self.value
        if self.kind == "mentor":
            return Person.mentor_id == int(self.value)
        if self.kind == "agency":
            return agency_of(config.rules(ReportsRules).agency_fields) == self.value.strip().lower()
        return true()


@dataclass(frozen=True)
class Period:
    """Local days [first, last] and the UTC moments that bound them."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def months(self) -> list[str]:
        """Every "YYYY-MM" the period touches."""
        found, day = [], self.first.replace(day=1)
        while day <= self.last:
            found.append(day.strftime("%Y-%m"))
            day = (day + timedelta(days=32)).replace(day=1)
        return found


@dataclass
class Rekap:
    """The workbook's title and its sheets (name, headers, rows)."""

    title: str
    scope: Scope
    period: Period
    sheets: list[Sheet] = field(default_factory=list)
    reports_sent: int = 0


def parse_month(text: str) -> str | None:
    """"2026-11" → "2026-11"; anything else None."""
    match = MONTH.match(text.strip())
    return match.group(0) if match else None


def month_period(month: str, config: Config) -> Period:
    """The local calendar month as a period."""
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return day_period(first, last, config)


def day_period(first: date, last: date, config: Config) -> Period:
    """Local days first..last (inclusive) as a period."""
    zone = config.timezone
    return Period(first, last, datetime.combine(first, time(), tzinfo=zone),
                  datetime.combine(last + timedelta(days=1), time(), tzinfo=zone))


def period_label(period: Period, language: str) -> str:
    """"November 2026" for a whole month, else "1 Nov 2026 – 15 Des 2026"."""
    months = period.months
    whole = (len(months) == 1 and period.first.day == 1
             and (period.last + timedelta(days=1)).month != period.last.month)
    if whole:
        return month_label(months[0], language)
    return f"{format_date(period.first, language)} – {format_date(period.last, language)}"


def file_name(rekap: Rekap) -> str:
    """"rekap-2026-11-angkatan-1.xlsx"."""
    period = rekap.period
    span = period.months[0] if len(period.months) == 1 else f"{period.first}_{period.last}"
    slug = re.sub(r"[^a-z0-9]+", "-", (rekap.scope.label if rekap.scope.kind != "programme" else "").lower()).strip("-")
    return f"rekap-{span}{'-' + slug if slug else ''}.xlsx"


def local(moment: datetime | None, config: Config) -> datetime | None:
    """A naive local datetime for a spreadsheet cell (the programme's zone), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite hands back the stored UTC without a zone
    return moment.astimezone(config.timezone).replace(tzinfo=None, microsecond=0)


async def build_rekap(session: AsyncSession, scope: Scope, period: Period, config: Config,
                      language: str) -> Rekap:
    """Every sheet of the workbook, read once from the database; a mentor's rows are those of their time."""
    who = await load_attribution(session)
    if scope.kind == "mentor":
        scope = replace(scope, members=frozenset(who.mentored_by(int(scope.value), period.start, period.end)))

    def mine(pid: int, moment: datetime | None) -> bool:
        return moment is None or scope.kind != "mentor" or who.mentor_at(pid, utc(moment)) == int(scope.value)

    people = await _participants(session, scope, config)
    mentors = dict((await session.execute(select(Person.id, Person.name).where(Person.role == Role.PENDAMPING))).all())
    agencies = config.rules(ReportsRules).agency_fields
    rekap = Rekap(t("rkp.title", language, scope=scope.label, period=period_label(period, language)), scope, period)
    zone = config.timezone
    attendance = [row for row in await _attendance(session, scope, period, config)
                  if mine(row[-1], row[0].replace(tzinfo=zone))]
    tugas = [row for row in await _tugas(session, scope, period, config, who)  # when first sent, else when due
             if mine(row[-1], (row[6] or row[1]).replace(tzinfo=zone))]
    every_report = await _reports(session, scope, period, config)
    sent_any = {(row[0], row[1]) for row in every_report}
    reports = [row for row in every_report if mine(row[1], row[6])]
    figures = await ticket_figures(session, since=period.start, until=period.end, config=config)
    holder = {f.ticket_id: who.ticket_mentor(f, period.end) for f in figures}  # at the first answer
    tickets = [f for f in figures if f.participant_id in people
               and (scope.kind != "mentor" or holder[f.ticket_id] == int(scope.value))]
    tally: dict[int, Counter[str]] = defaultdict(Counter)
    for row in attendance:
        tally[row[-1]][row[6]] += 1
    sent: dict[int, Counter[bool]] = defaultdict(Counter)
    for row in tugas:
        sent[row[-1]][row[6] is not None] += 1
    latest = await _latest_reports(session, scope, period, config)
    questions = Counter(f.participant_id for f in tickets)
    register = []
    for number, person in enumerate(sorted(people.values(), key=lambda p: (p.cohort, p.name)), start=1):
        counts = tally[person.id]
        present = counts[AttendanceStatus.HADIR] + counts[AttendanceStatus.TERLAMBAT]
        recorded = sum(counts.values())
        month, omzet = latest.get(person.id, (None, None))
        register.append([
            number, person.name, person.business_name, person.cohort, mentors.get(person.mentor_id or 0, ""),
            next((str(person.extra.get(name, "")).strip() for name in agencies if person.extra.get(name)), ""),
            person.district, present, recorded, round(100 * present / recorded, 1) if recorded else None,
            sent[person.id][True], sum(sent[person.id].values()), month, omzet, questions[person.id],
            t("rkp.active" if person.is_active else "rkp.inactive", language)])
    rekap.sheets.append(("rkp.sheet_register", [
        "rkp.col_no", "rkp.col_name", "rkp.col_business", "rkp.col_cohort", "rkp.col_mentor", "rkp.col_agency",
        "rkp.col_district", "rkp.col_present", "rkp.col_sessions", "rkp.col_attendance_pct", "rkp.col_tugas_sent",
        "rkp.col_tugas_due", "rkp.col_last_report", "rkp.col_last_omzet", "rkp.col_questions", "rkp.col_status"],
        register))
    rekap.sheets.append(("rkp.sheet_attendance", [
        "rkp.col_date", "rkp.col_session", "rkp.col_cohort", "rkp.col_mentor", "rkp.col_name", "rkp.col_business",
        "rkp.col_status", "rkp.col_checked_in"],
        [[d, title, cohort, mentors.get(mid or 0, ""), name, business, t(_status_key(status), language), checked]
         for d, title, cohort, mid, name, business, status, checked, _pid in attendance]))
    rekap.sheets.append(("rkp.sheet_attendance_totals", [
        "rkp.col_name", "rkp.col_cohort", "rkp.status_hadir", "rkp.status_terlambat", "rkp.status_izin",
        "rkp.status_sakit", "rkp.status_alpa", "rkp.col_sessions"],
        [[p.name, p.cohort, *[tally[p.id][s] for s in STATUSES], sum(tally[p.id].values())]
         for p in sorted(people.values(), key=lambda p: (p.cohort, p.name)) if tally[p.id]]))
    rekap.sheets.append(("rkp.sheet_tugas", [
        "rkp.col_tugas", "rkp.col_due", "rkp.col_name", "rkp.col_cohort", "rkp.col_status", "rkp.col_sent_at",
        "rkp.col_reviewed_at"],
        [[title, due, name, cohort, t(_tugas_key(status, sent_at, late), language), sent_at, reviewed]
         for title, due, name, cohort, status, late, sent_at, reviewed, _pid in tugas]))
    rekap.sheets.append(("rkp.sheet_reports", [
        "rkp.col_month", "rkp.col_name", "rkp.col_cohort", "rkp.col_report_status", "rkp.col_omzet",
        "rkp.col_workers", "rkp.col_customers", "rkp.col_permits", "rkp.col_sent_at"],
        _report_rows(reports, people, period, config, language,
                     lambda pid, month: (month, pid) not in sent_any  # owed to the mentor at the month's end
                     and mine(pid, min(month_period(month, config).end, period.end)))))
    rekap.reports_sent = len(reports)
    rekap.sheets.append(("rkp.sheet_tickets", [
        "rkp.col_ticket", "rkp.col_created", "rkp.col_name", "rkp.col_mentor", "rkp.col_topic",
        "rkp.col_ticket_status", "rkp.col_first_response_hours", "rkp.col_resolution_hours", "rkp.col_rating"],
        [[f.ticket_id, local(f.created_at, config), people[f.participant_id].name, mentors.get(holder[f.ticket_id], ""),
          f.topic, f.status, f.first_response_hours, f.resolution_hours, f.rating] for f in tickets]))
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for f in tickets:
        by_topic[f.topic].append(f)
    rekap.sheets.append(("rkp.sheet_topics", [
        "rkp.col_topic", "rkp.col_count", "rkp.col_answered", "rkp.col_first_response_median",
        "rkp.col_resolution_median", "rkp.col_rating_average"],
        [[topic, len(rows), sum(f.first_response_hours is not None for f in rows),
          _median([f.first_response_hours for f in rows]), _median([f.resolution_hours for f in rows]),
          _mean([f.rating for f in rows])] for topic, rows in sorted(by_topic.items())]))
    return rekap


def _report_rows(reports: list[list[Any]], people: dict[int, Person], period: Period, config: Config,
                 language: str, owes: Callable[[int, str], bool]) -> list[list[Any]]:
    """Each month's sent reports and, for active participants who owe it in the scope, a "belum lapor" row
    (by month, then name)."""
    sent = {(row[0], row[1]): row for row in reports}
    rows: list[list[Any]] = []
    for month in period.months:
        for person in sorted(people.values(), key=lambda p: (p.name, p.id)):
            found = sent.get((month, person.id))
            if found is None:
                if person.is_active and owes(person.id, month):
                    rows.append([month_label(month, language), person.name, person.cohort,
                                 t("rkp.report_missing", language), None, None, None, None, None])
                continue
            _month, _pid, omzet, workers, customers, permits, submitted = found
            rows.append([month_label(month, language), person.name, person.cohort, t("rkp.report_sent", language),
                         omzet, workers, customers, "; ".join(str(p) for p in permits), local(submitted, config)])
    return rows


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(statistics.median(found), 2) if found else None


def _mean(values: list[int | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(sum(found) / len(found), 2) if found else None


STATUS_KEYS: dict[str, str] = {"hadir": "rkp.status_hadir", "terlambat": "rkp.status_terlambat",
                               "izin": "rkp.status_izin", "sakit": "rkp.status_sakit"}


def _status_key(status: str) -> str:
    return STATUS_KEYS.get(str(status), "rkp.status_alpa")


def _tugas_key(status: str | None, sent_at: datetime | None, late: bool) -> str:
    if sent_at is None:
        return "rkp.tugas_missing"
    if status == "diterima":
        return "rkp.tugas_accepted"
    if status == "perlu_revisi":
        return "rkp.tugas_revise"
    return "rkp.tugas_late" if late else "rkp.tugas_sent"


async def _participants(session: AsyncSession, scope: Scope, config: Config) -> dict[int, Person]:
    query = select(Person).where(Person.role == Role.PESERTA, Person.erased_at.is_(None), scope.clause(config))
    return {p.id: p for p in (await session.execute(query)).scalars()}


async def _attendance(session: AsyncSession, scope: Scope, period: Period, config: Config) -> list[list[Any]]:
    """(date, session, cohort, mentor id, name, business, status, checked in, participant id) per record."""
    query = (select(Meeting.starts_at, Meeting.title, Meeting.cohort, Meeting.mentor_id, Person.name,
                    Person.business_name, Attendance.status, Attendance.checked_in_at, Person.id)
             .join(Attendance, Attendance.meeting_id == Meeting.id).join(Person, Person.id == Attendance.participant_id)
             .where(Meeting.is_cancelled.is_(False), Meeting.starts_at >= period.start, Meeting.starts_at < period.end,
                    Person.role == Role.PESERTA, Person.erased_at.is_(None), scope.clause(config))
             .order_by(Meeting.starts_at, Meeting.id, Person.name))
    return [[local(starts, config), title, cohort, mid, name, business, status, local(checked, config), pid]
            for starts, title, cohort, mid, name, business, status, checked, pid in (await session.execute(query))]


async def _tugas(session: AsyncSession, scope: Scope, period: Period, config: Config,
                 who: Attribution) -> list[list[Any]]:
    """(title, due, name, cohort, status, late, first sent, reviewed, participant id) per tugas and participant.

    A cohort's tugas is for its participants; a mentor's for the participants they mentored when it fell due."""
    assignments = (await session.execute(
        select(Assignment.id, Assignment.title, Assignment.due_at, Assignment.mentor_id, Assignment.cohort)
        .where(Assignment.due_at >= period.start, Assignment.due_at < period.end)
        .order_by(Assignment.due_at, Assignment.id))).all()
    if not assignments:
        return []
    people = sorted((await session.execute(select(Person.id, Person.name, Person.cohort).where(
        is_participant(scope.clause(config)), Person.erased_at.is_(None)))).all(), key=lambda p: (p.name, p.id))
    ids = [row.id for row in assignments]
    extended = {(aid, pid): due for aid, pid, due in (await session.execute(
        select(Extension.assignment_id, Extension.participant_id, Extension.due_at)
        .where(Extension.assignment_id.in_(ids))))}
    rows = [(a.id, a.title, extended.get((a.id, p.id), a.due_at), p.name, p.cohort, p.id)
            for a in assignments for p in people
            if (who.mentor_at(p.id, a.due_at) == a.mentor_id if a.mentor_id is not None
                else a.cohort != "" and p.cohort == a.cohort)]
    submissions: dict[tuple[int, int], list[Submission]] = defaultdict(list)
    if rows:
        found = await session.execute(select(Submission).where(Submission.assignment_id.in_(ids))
                                      .order_by(Submission.version, Submission.id))
        for sub in found.scalars():
            submissions[(sub.assignment_id, sub.participant_id)].append(sub)
    out = []
    for assignment_id, title, due, name, cohort, pid in rows:
        subs = submissions.get((assignment_id, pid), [])
        first, last = (subs[0], subs[-1]) if subs else (None, None)
        first_at = first.submitted_at if first else None
        late = first is not None and (first.is_late or _after(first.submitted_at, due))
        out.append([title, local(due, config), name, cohort, last.status if last else None, late,
                    local(first_at, config), local(last.reviewed_at if last else None, config), pid])
    return out


def _after(moment: datetime, due: datetime) -> bool:
    def utc(value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return utc(moment) > utc(due)


async def _reports(session: AsyncSession, scope: Scope, period: Period, config: Config) -> list[list[Any]]:
    """(month, participant id, omzet, workers, customers, permits, submitted) of submitted reports."""
    query = (select(MonthlyReport.month, MonthlyReport.participant_id, MonthlyReport.omzet, MonthlyReport.workers,
                    MonthlyReport.customers, MonthlyReport.permits, MonthlyReport.submitted_at)
             .join(Person, Person.id == MonthlyReport.participant_id)
             .where(MonthlyReport.month.in_(period.months), MonthlyReport.submitted_at.is_not(None),
                    Person.erased_at.is_(None), Person.role == Role.PESERTA, scope.clause(config))
             .order_by(MonthlyReport.month, Person.name))
    return [list(row) for row in (await session.execute(query))]


async def _latest_reports(session: AsyncSession, scope: Scope, period: Period,
                          config: Config) -> dict[int, tuple[str, int | None]]:
    """(month, omzet) of each participant's last report up to the period's last month."""
    query = (select(MonthlyReport.participant_id, MonthlyReport.month, MonthlyReport.omzet)
             .join(Person, Person.id == MonthlyReport.participant_id)
             .where(MonthlyReport.month <= period.months[-1], MonthlyReport.submitted_at.is_not(None),
                    MonthlyReport.submitted_at < period.end, Person.role == Role.PESERTA, scope.clause(config))
             .order_by(MonthlyReport.month))
    return {pid: (month, omzet) for pid, month, omzet in (await session.execute(query))}


def write_rekap(rekap: Rekap, path: Path, language: str) -> None:
    """The workbook: a title sheet, then one sheet per table (write-only keeps memory flat)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    cover = book.create_sheet(t("rkp.sheet_cover", language))
    cover.append(xlsx_row(cover, [rekap.title]))
    for key, _header, rows in rekap.sheets:
        cover.append(xlsx_row(cover, [t(key, language), len(rows)]))
    for key, header, rows in rekap.sheets:
        sheet = book.create_sheet(t(key, language))
        sheet.append(xlsx_row(sheet, [t(name, language) for name in header]))
        for row in rows:
            sheet.append(xlsx_row(sheet, row))
    book.save(path)
