"""Mentor performance, monthly: the coordinators' ranking (text + workbook) and each mentor's own page.

First response has ONE definition here and in the README: over the tickets a mentor holds that were
created in the month, the working hours from the question to the first answer (median of the answered
ones); a ticket is within the deadline when it was answered within ConsultationRules.sla_remind_hours
working hours, late when answered later or still unanswered past that deadline, and not yet counted while
it is unanswered and still inside it. Sent on the first working day of the month for the month before
(idempotent through JobRun) and on demand with `kinerja [2026-11]`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticket_figures import ticket_figures
from handlers.consultation.worktime import calendar_of, working_hours_between
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import month_label, month_of, previous_month
from handlers.kernel.forms import command_args
from handlers.kernel.i18n import t
from handlers.kernel.job_runs import already_ran, is_quiet, load_people, record_run
from handlers.kernel.messages import Attachment, Outgoing
from handlers.kernel.registry import ANY_ARGS, command
from handlers.kernel.roles import MANAGERS
from handlers.kernel.spreadsheet import xlsx_row
from handlers.reports.attribution import Attribution, load_attribution
from handlers.reports.charts import ranking_figure, ranking_panels, save_png
from handlers.reports.digest import XLSX, save_media, staff
from handlers.reports.month_figures import store_month_figures
from handlers.reports.numerals import number, pct
from handlers.reports.outcomes import programme_outcomes
from handlers.reports.progress import outcomes_text
from handlers.reports.rekap import month_period, parse_month
from handlers.reports.rules import ReportsRules
from storage.models import (
    Attendance,
    AttendanceStatus,
    Meeting,
    MonthlyReport,
    NudgeLog,
    Person,
    Role,
    Submission,
)

JOB_ID = "mentor_performance"
TEXT_MENTORS = 10  # ranking lines in the chat text (the workbook has everyone)
CHART_MENTORS = 6  # the best and the lowest on the picture, when there are more than twice as many
GOOD_SHARE, GOOD_ATTENDANCE, GOOD_REPORTS, GOOD_RATING, GOOD_REVIEW_HOURS = 80.0, 75.0, 80.0, 4.0, 16.0


@dataclass
class MentorMonth:
    """One mentor's month."""

    mentor_id: int
    name: str
    participants: int = 0
    questions: int = 0
    answered: int = 0
    within: int = 0
    late: int = 0
    response_hours: list[float] | None = None
    rating_total: int = 0
    ratings: int = 0
    sessions: int = 0
    present: int = 0
    recorded: int = 0
    reviewed: int = 0
    review_hours: list[float] | None = None
    reports_due: int = 0
    reports_sent: int = 0
    at_risk: int = 0
    recovered: int = 0
    omzet_before: int = 0
    omzet_after: int = 0

    @property
    def response_median(self) -> float | None:
        """Median working hours to the first answer."""
        return _median(self.response_hours)

    @property
    def within_pct(self) -> float | None:
        """Share of counted tickets answered within the deadline."""
        return _pct(self.within, self.within + self.late)

    @property
    def rating_average(self) -> float | None:
        """Average rating of the month."""
        return round(self.rating_total / self.ratings, 2) if self.ratings else None

    @property
    def attendance_pct(self) -> float | None:
        """Hadir or terlambat among their participants' records."""
        return _pct(self.present, self.recorded)

    @property
    def review_median(self) -> float | None:
        """Median working hours from a submission to its review."""
        return _median(self.review_hours)

    @property
    def reports_pct(self) -> float | None:
        """Reports sent among those owed."""
        return _pct(self.reports_sent, self.reports_due)

    @property
    def omzet_change_pct(self) -> float | None:
        """Omzet change of participants who reported both months."""
        if not self.omzet_before:
            return None
        return round(100 * (self.omzet_after - self.omzet_before) / self.omzet_before, 1)

    def rank_key(self) -> tuple[float, float, float, str]:
        """Share within the deadline, then attendance, then rating (higher first); no data ranks last."""
        return (-(self.within_pct if self.within_pct is not None else -1),
                -(self.attendance_pct if self.attendance_pct is not None else -1),
                -(self.rating_average or 0), self.name)


def _median(values: list[float] | None) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def mentor_months(session: AsyncSession, month: str, now: datetime, config: Config) -> list[MentorMonth]:
    """Every active mentor's figures for a month (up to now for the running month), ranked."""
    period = month_period(month, config)
    start, end = period.start, min(period.end, now)
    mentors = {pid: MentorMonth(pid, name) for pid, name in (await session.execute(
        select(Person.id, Person.name).where(Person.role == Role.PENDAMPING, Person.is_active.is_(True))))}
    active = list((await session.execute(select(Person.id).where(
        Person.role == Role.PESERTA, Person.is_active.is_(True)))).scalars())
    who = await load_attribution(session)  # every figure goes to the mentor of that time (attribution.py)
    group = {pid: who.mentor_at(pid, end) for pid in active}
    for mentor_id in group.values():
        if mentor_id in mentors:
            mentors[mentor_id].participants += 1
    await _add_tickets(session, mentors, who, start, end, config)
    await _add_sessions(session, mentors, who, start, end)
    await _add_reviews(session, mentors, start, end, config)
    await _add_reports(session, mentors, who, group, month, end)
    await _add_risk(session, mentors, who, start, end)
    return sorted(mentors.values(), key=MentorMonth.rank_key)


async def _add_tickets(session: AsyncSession, mentors: dict[int, MentorMonth], who: Attribution, start: datetime,
                       end: datetime, config: Config) -> None:
    deadline = config.rules(ConsultationRules).sla_remind_hours
    calendar = calendar_of(config)
    for ticket in await ticket_figures(session, since=start, until=end, config=config):
        mentor = mentors.get(who.ticket_mentor(ticket, end))
        if mentor is None:
            continue
        mentor.questions += 1
        if ticket.rating is not None:
            mentor.rating_total += ticket.rating
            mentor.ratings += 1
        hours = ticket.first_response_hours
        if hours is not None:
            mentor.answered += 1
            mentor.response_hours = [*(mentor.response_hours or []), hours]
            if hours <= deadline:
                mentor.within += 1
            else:
                mentor.late += 1
        elif working_hours_between(ticket.created_at, end, calendar) > deadline:
            mentor.late += 1


async def _add_sessions(session: AsyncSession, mentors: dict[int, MentorMonth], who: Attribution,
                        start: datetime, end: datetime) -> None:
    held = select(Meeting.mentor_id, Meeting.checkin_opened_by_id).where(
        Meeting.is_cancelled.is_(False), Meeting.starts_at >= start, Meeting.starts_at < end,
        or_(Meeting.mentor_id.is_not(None), Meeting.checkin_opened_by_id.is_not(None)))
    for owner, opener in (await session.execute(held)):
        mentor = mentors.get(owner if owner is not None else opener or 0)
        if mentor is not None:
            mentor.sessions += 1
    records = (select(Attendance.participant_id, Attendance.status, Meeting.starts_at)
               .join(Meeting, Meeting.id == Attendance.meeting_id)
               .where(Meeting.is_cancelled.is_(False), Meeting.starts_at >= start, Meeting.starts_at < end))
    for pid, status, starts_at in (await session.execute(records)):  # for the mentor of that day
        mentor = mentors.get(who.mentor_at(pid, starts_at) or 0)
        if mentor is not None:
            mentor.recorded += 1
            mentor.present += status in (AttendanceStatus.HADIR, AttendanceStatus.TERLAMBAT)


async def _add_reviews(session: AsyncSession, mentors: dict[int, MentorMonth], start: datetime, end: datetime,
                       config: Config) -> None:
    calendar = calendar_of(config)
    query = select(Submission.reviewed_by_id, Submission.submitted_at, Submission.reviewed_at).where(
        Submission.reviewed_at >= start, Submission.reviewed_at < end, Submission.reviewed_by_id.is_not(None))
    for reviewer, sent, reviewed in (await session.execute(query)):
        mentor = mentors.get(reviewer or 0)
        if mentor is not None and reviewed is not None:
            mentor.reviewed += 1
            mentor.review_hours = [*(mentor.review_hours or []),
                                   round(working_hours_between(_utc(sent), _utc(reviewed), calendar), 2)]


async def _add_reports(session: AsyncSession, mentors: dict[int, MentorMonth], who: Attribution,
                       group: dict[int, int | None], month: str, end: datetime) -> None:
    query = select(MonthlyReport.participant_id, MonthlyReport.month, MonthlyReport.omzet,
                   MonthlyReport.submitted_at).where(
        MonthlyReport.month.in_([month, previous_month(month)]), MonthlyReport.submitted_at.is_not(None),
        MonthlyReport.submitted_at < end)
    omzet: dict[int, dict[str, int | None]] = defaultdict(dict)
    sent_with: dict[int, int | None] = {}  # a sent report counts for the mentor of the day it was sent
    for pid, which, value, submitted in (await session.execute(query)):
        omzet[pid][which] = value
        if which == month and submitted is not None:
            sent_with[pid] = who.mentor_at(pid, submitted)
    for pid, mentor_id in group.items():
        mentor = mentors.get(sent_with.get(pid, mentor_id) or 0)
        if mentor is None:
            continue
        mentor.reports_due += 1
        reports = omzet.get(pid, {})
        mentor.reports_sent += month in reports
        before, after = reports.get(previous_month(month)), reports.get(month)
        if before is not None and after is not None:
            mentor.omzet_before += before
            mentor.omzet_after += after


async def _add_risk(session: AsyncSession, mentors: dict[int, MentorMonth], who: Attribution,
                    start: datetime, end: datetime) -> None:
    query = select(NudgeLog.participant_id, NudgeLog.sent_at, NudgeLog.resolved_at, NudgeLog.resolution).where(
        NudgeLog.sent_at < end, or_(NudgeLog.resolved_at.is_(None), NudgeLog.resolved_at >= start),
        or_(NudgeLog.sent_at >= start, and_(NudgeLog.resolved_at.is_not(None), NudgeLog.resolved_at < end)))
    risky: dict[int, datetime] = {}  # the moment that decides the mentor: recovery, else the spell's start
    recovered: set[int] = set()
    for pid, sent, resolved, resolution in (await session.execute(query)):
        if resolved is not None and _utc(resolved) < end and resolution in ("replied", "recovered"):
            recovered.add(pid)
            risky[pid] = _utc(resolved)
        elif pid not in recovered:
            risky[pid] = max(_utc(sent), start)
    for pid, moment in risky.items():
        mentor = mentors.get(who.mentor_at(pid, moment) or 0)
        if mentor is not None:
            mentor.at_risk += 1
            mentor.recovered += pid in recovered


def improvements(m: MentorMonth, config: Config, language: str) -> list[str]:
    """What this mentor could do better, from the figures that fall short."""
    deadline = number(config.rules(ConsultationRules).sla_remind_hours, language)
    tips = []
    if m.within_pct is not None and m.within_pct < GOOD_SHARE:
        tips.append(t("kin.tip_response", language, pct=pct(m.within_pct, language), hours=deadline))
    if m.review_median is not None and m.review_median > GOOD_REVIEW_HOURS:
        tips.append(t("kin.tip_reviews", language, hours=number(m.review_median, language)))
    if m.attendance_pct is not None and m.attendance_pct < GOOD_ATTENDANCE:
        tips.append(t("kin.tip_attendance", language, pct=pct(m.attendance_pct, language)))
    if m.reports_pct is not None and m.reports_pct < GOOD_REPORTS:
        tips.append(t("kin.tip_reports", language, sent=m.reports_sent, due=m.reports_due))
    if m.at_risk > m.recovered:
        tips.append(t("kin.tip_at_risk", language, n=m.at_risk - m.recovered))
    if m.rating_average is not None and m.rating_average < GOOD_RATING:
        tips.append(t("kin.tip_rating", language, rating=number(m.rating_average, language)))
    return tips or [t("kin.tip_keep", language)]


def _dash(value: float | None, language: str, *, percent: bool = False) -> str:
    if value is None:
        return "–"
    return pct(value, language) if percent else number(value, language)


def _signed(value: float | None, language: str) -> str:
    """"+50%", "−12,5%", "±0%" or "–"."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{pct(abs(value), language)}"


def ranking_text(months: list[MentorMonth], month: str, config: Config, language: str) -> str:
    """The coordinators' ranking: one line per mentor, best first, with the definition."""
    deadline = number(config.rules(ConsultationRules).sla_remind_hours, language)
    lines = [t("kin.rank_line", language, rank=i, name=m.name, within=_dash(m.within_pct, language, percent=True),
               median=_dash(m.response_median, language), attendance=_dash(m.attendance_pct, language, percent=True),
               rating=_dash(m.rating_average, language))
             for i, m in enumerate(months[:TEXT_MENTORS], start=1)]
    if len(months) > TEXT_MENTORS:
        lines.append(t("part.more", language, n=len(months) - TEXT_MENTORS))
    if not months:
        lines.append(t("kin.no_mentors", language))
    return t("kin.ranking", language, month=month_label(month, language), lines="\n".join(lines), hours=deadline)


def mentor_page(m: MentorMonth, month: str, config: Config, language: str) -> str:
    """A mentor's own month: figures and what to improve."""
    deadline = number(config.rules(ConsultationRules).sla_remind_hours, language)
    tips = "\n".join(f"• {tip}" for tip in improvements(m, config, language))
    return t("kin.page", language, month=month_label(month, language), participants=m.participants,
             questions=m.questions, answered=m.answered, median=_dash(m.response_median, language),
             within=_dash(m.within_pct, language, percent=True), hours=deadline,
             rating=_dash(m.rating_average, language), ratings=m.ratings, sessions=m.sessions,
             attendance=_dash(m.attendance_pct, language, percent=True), reviewed=m.reviewed,
             review=_dash(m.review_median, language), sent=m.reports_sent, due=m.reports_due, at_risk=m.at_risk,
             recovered=m.recovered, omzet=_signed(m.omzet_change_pct, language), tips=tips)


HEADER = ["kin.col_rank", "kin.col_mentor", "kin.col_participants", "kin.col_questions", "kin.col_answered",
          "kin.col_median", "kin.col_within", "kin.col_late", "kin.col_within_pct", "kin.col_rating",
          "kin.col_ratings", "kin.col_sessions", "kin.col_attendance_pct", "kin.col_reviewed", "kin.col_review_median",
          "kin.col_reports_sent", "kin.col_reports_due", "kin.col_at_risk", "kin.col_recovered",
          "kin.col_omzet_change"]


def performance_rows(months: list[MentorMonth]) -> list[list[Any]]:
    """One workbook row per mentor, in ranking order."""
    return [[i, m.name, m.participants, m.questions, m.answered, m.response_median, m.within, m.late, m.within_pct,
             m.rating_average, m.ratings, m.sessions, m.attendance_pct, m.reviewed, m.review_median, m.reports_sent,
             m.reports_due, m.at_risk, m.recovered, m.omzet_change_pct] for i, m in enumerate(months, start=1)]


def write_performance(months: list[MentorMonth], month: str, path: Path, config: Config, language: str) -> None:
    """The ranking workbook: one sheet, a row per mentor, the definition underneath."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(t("kin.sheet", language))
    sheet.append(xlsx_row(sheet, [t(key, language) for key in HEADER]))
    for row in performance_rows(months):
        sheet.append(xlsx_row(sheet, row))
    sheet.append([])
    sheet.append(xlsx_row(sheet, [t("kin.definition", language, month=month_label(month, language),
                                    hours=number(config.rules(ConsultationRules).sla_remind_hours, language))]))
    book.save(path)


def ranking_chart_data(months: list[MentorMonth], month: str, config: Config, language: str) -> dict[str, Any]:
    """What the ranking picture plots: the best and the lowest mentors (all of a small programme), the spread."""
    shown = months if len(months) <= 2 * CHART_MENTORS else [*months[:CHART_MENTORS], *months[-CHART_MENTORS:]]
    return {"month": month_label(month, language),
            "deadline_hours": number(config.rules(ConsultationRules).sla_remind_hours, language),
            "good": [0, GOOD_SHARE, GOOD_ATTENDANCE],
            "mentors": [[m.name, m.within_pct, m.attendance_pct] for m in shown],
            "spread": [m.within_pct for m in months]}


async def coordinator_messages(session: AsyncSession, months: list[MentorMonth], month: str,
                               coordinators: list[Person], now: datetime, config: Config) -> list[Outgoing]:
    """Ranking text with the chart and the programme's outcomes, then the workbook, for each coordinator
    (the files are written once, off the event loop)."""
    if not coordinators:
        return []
    language = config.language
    book = await save_media(session, kind="document", suffix=".xlsx", mime=XLSX, now=now, config=config,
                            name=f"kinerja-{month}.xlsx",
                            write=lambda path: write_performance(months, month, path, config, language))
    data = ranking_chart_data(months, month, config, language)
    charts: tuple[Attachment, ...] = ()
    if ranking_panels(data, language):
        charts = (await save_media(session, kind="photo", suffix=".png", mime="image/png", now=now, config=config,
                                   name=f"kinerja-{month}.png",
                                   write=lambda path: save_png(ranking_figure(data, language), data, path)),)
    outcomes = await programme_outcomes(session, min(month_period(month, config).end, now), config)
    out = []
    for person in coordinators:
        lang = person.language or language
        text = ranking_text(months, month, config, lang)
        if outcomes is not None:
            text += "\n\n" + outcomes_text(outcomes, lang)
        out.append(Outgoing(text=text, person_id=person.id, attachments=charts, ref=f"kinerja:{month}"))
        out.append(Outgoing(text=t("out.rank_workbook", lang), person_id=person.id, attachments=(book,),
                            ref=f"kinerja:{month}"))
    return out


def first_working_day(month: str, config: Config) -> datetime:
    """The first working day of a month at the digest time (programme zone)."""
    calendar = calendar_of(config)
    day = month_period(month, config).first
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, config.rules(ReportsRules).digest_time, tzinfo=config.timezone)


async def send_monthly_performance(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: from the first working day's digest time, last month's ranking and pages, once."""
    current = month_of(now, config.timezone)
    if is_quiet(now, config) or now < first_working_day(current, config):
        return []
    month = previous_month(current)
    if await already_ran(session, JOB_ID, month):
        return []
    months = await mentor_months(session, month, now, config)
    await store_month_figures(session, month, months, now)  # the console's /pendamping reads the stored month
    coordinators = await staff(session, Role.KOORDINATOR)
    out = await coordinator_messages(session, months, month, coordinators, now, config)
    people = await load_people(session, [m.mentor_id for m in months])
    for m in months:
        mentor = people.get(m.mentor_id)
        if mentor is not None:
            out.append(Outgoing(text=mentor_page(m, month, config, mentor.language or config.language),
                                person_id=m.mentor_id, ref=f"kinerja:{month}"))
    record_run(session, JOB_ID, month, now, {"coordinators": len(coordinators), "mentors": len(months)})
    return out


@command("kinerja", args=ANY_ARGS, roles=MANAGERS, help_key="kin.help", order=64)
async def show_performance(ctx: Context) -> None:
    """Coordinators get the ranking and workbook of a month (`kinerja 2026-11`, default this month so far);
    mentors their own page."""
    argument = command_args(ctx)
    month = parse_month(argument) if argument else month_of(ctx.now, ctx.config.timezone)
    if month is None:
        ctx.reply("kin.usage")
        return
    months = await mentor_months(ctx.session, month, ctx.now, ctx.config)
    if ctx.person.role == Role.KOORDINATOR:
        for message in await coordinator_messages(ctx.session, months, month, [ctx.person], ctx.now, ctx.config):
            ctx.send(Outgoing(text=message.text, to=ctx.inbound.address, person_id=ctx.person.id,
                              attachments=message.attachments, ref=message.ref))
        return
    mine = next((m for m in months if m.mentor_id == ctx.person.id), MentorMonth(ctx.person.id, ctx.person.name))
    ctx.send(Outgoing(text=mentor_page(mine, month, ctx.config, ctx.lang), to=ctx.inbound.address,
                      person_id=ctx.person.id))

