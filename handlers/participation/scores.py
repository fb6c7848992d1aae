"""Weekly participation score per participant, with its reasons in Indonesian.

A score (0–100) is the weighted mean of the parts that apply that week: presensi (hadir 1,
terlambat and izin/sakit partly, alpa 0), tugas sent on time, last month's laporan bulanan,
a question asked (a bonus only: not asking is no fault) and how recently they wrote; every
nudge ignored costs points. Weeks are ISO weeks in the programme's time zone ("2026-W10").
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from handlers.kernel.cohorts import is_current, local_day, pause_ends
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.rules import SharedRules
from handlers.participation.queries import (
    CHUNK,
    Member,
    SessionTally,
    TugasTally,
    alpa_streak,
    baselines,
    baselines_query,
    ignored_query,
    load_members,
    member_of,
    members_query,
    nudges_ignored,
    questions_asked,
    questions_query,
    reports_sent,
    session_tallies,
    tugas_tallies,
    tugas_tally_query,
    week_session_query,
    week_tugas,
)
from handlers.participation.rules import ParticipationRules
from storage.activities import PresensiFacts
from storage.bulk import insert_records
from storage.models import MonthlyReport, ParticipationScore
from storage.participation import ParticipantBaseline, ParticipationWeekGroup, prefer_quick_plans

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MIN_BASELINE_WEEKS = 2
IGNORED_LOOKBACK = timedelta(days=56)
REASON_LANGUAGE = "id"  # reasons are stored in Indonesian, the programme's working language
NO_SESSIONS, NO_TUGAS = SessionTally(), TugasTally()
SCORES_TABLE: Table = ParticipationScore.__table__  # type: ignore[assignment]


def week_of(moment: datetime, zone: ZoneInfo) -> str:
    """The ISO week of a moment in the programme zone: "2026-W10"."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str | None:
    """"2026-W10" (or "2026-w10") if it names a real ISO week, else None."""
    match = WEEK.match(text.strip().upper())
    if match is None:
        return None
    try:
        date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        return None
    return f"{match[1]}-W{match[2]}"


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in the programme zone."""
    year, number = (int(part) for part in week.split("-W"))
    start = datetime.combine(date.fromisocalendar(year, number, 1), time(0), tzinfo=zone)
    return start, datetime.combine(start.date() + timedelta(days=7), time(0), tzinfo=zone)


def shift_week(week: str, weeks: int) -> str:
    """The ISO week `weeks` later (negative: earlier)."""
    year, number = (int(part) for part in week.split("-W"))
    monday = date.fromisocalendar(year, number, 1) + timedelta(weeks=weeks)
    iso = monday.isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def report_month_due(end: datetime, config: Config) -> tuple[str, date]:
    """The latest laporan bulanan whose deadline has passed by end: ("2026-02", 2026-02-01)."""
    local = end.astimezone(config.timezone).date()
    back = 1 if local.day > config.rules(SharedRules).report_deadline_day else 2
    year, month = divmod(local.year * 12 + local.month - 1 - back, 12)
    return f"{year:04d}-{month + 1:02d}", date(year, month + 1, 1)


@dataclass(slots=True)
class Score:
    """One participant's week, as stored in ParticipationScore."""

    participant_id: int
    mentor_id: int | None
    cohort: str
    score: float
    is_active: bool
    is_dropping: bool
    sessions_expected: int
    sessions_hadir: int
    sessions_terlambat: int
    sessions_izin: int
    sessions_alpa: int
    alpa_streak: int
    tugas_due: int
    tugas_on_time: int
    tugas_missing: int
    report_sent: bool | None
    questions: int
    silent_days: int
    nudges_ignored: int
    reasons: list[str] = field(default_factory=list)

    def as_record(self, week: str, now: datetime) -> tuple[Any, ...]:
        """The ParticipationScore row in RECORD_COLUMNS order (the weekly insert builds 100,000)."""
        return (week, self.participant_id, self.mentor_id, self.cohort, self.score, self.is_active,
                self.is_dropping, self.sessions_expected, self.sessions_hadir, self.sessions_terlambat,
                self.sessions_izin, self.sessions_alpa, self.alpa_streak, self.tugas_due, self.tugas_on_time,
                self.tugas_missing, self.report_sent, self.questions, self.silent_days, self.nudges_ignored,
                self.reasons, now)


RECORD_COLUMNS = ["week", "participant_id", "mentor_id", "cohort", "score", "is_active", "is_dropping",
                  "sessions_expected", "sessions_hadir", "sessions_terlambat", "sessions_izin", "sessions_alpa",
                  "alpa_streak", "tugas_due", "tugas_on_time", "tugas_missing", "report_sent", "questions",
                  "silent_days", "nudges_ignored", "reasons", "computed_at"]


@dataclass(frozen=True)
class Facts:
    """Everything the set-based queries found for one week."""

    week_start: datetime
    end: datetime
    sessions: dict[int, SessionTally]
    tugas: dict[int, TugasTally]
    report_month: str
    report_cutoff: datetime
    reports: set[int]
    asked: dict[int, int]
    ignored: dict[int, int]
    baselines: dict[int, tuple[float, int]]


def week_window(week: str, now: datetime, config: Config) -> Facts:
    """The week's bounds and report month (up to now if the week is still running), no facts yet."""
    start, week_end = week_bounds(week, config.timezone)
    end = min(week_end, now)
    month, first = report_month_due(end, config)
    next_month = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Facts(week_start=start, end=end, sessions={}, tugas={}, report_month=month,
                 report_cutoff=datetime.combine(next_month, time(0), tzinfo=config.timezone), reports=set(),
                 asked={}, ignored={}, baselines={})


def baseline_weeks(week: str, config: Config) -> list[str]:
    """The stored weeks a week's score is compared against."""
    return [shift_week(week, -n) for n in range(1, config.rules(ParticipationRules).nudge_baseline_weeks + 1)]


async def gather_facts(session: AsyncSession, week: str, now: datetime, config: Config,
                       scope: ColumnElement[bool] | None = None) -> Facts:
    """Run every aggregate query once for the week (up to now if the week is still running)."""
    await prefer_quick_plans(session)
    window, rules = week_window(week, now, config), config.rules(ParticipationRules)
    start, end = window.week_start, window.end
    return replace(
        window,
        sessions=await session_tallies(session, start, end, timedelta(days=rules.alpa_streak_lookback_days),
                                       scope),
        tugas=await tugas_tallies(session, start, end, timedelta(days=rules.tugas_lookback_days), scope),
        reports=await reports_sent(session, window.report_month, end),
        asked=await questions_asked(session, start, end),
        ignored=await nudges_ignored(session, end - IGNORED_LOOKBACK, end),
        baselines=await baselines(session, baseline_weeks(week, config)),
    )


async def compute_scores(session: AsyncSession, week: str, now: datetime, config: Config,
                         scope: ColumnElement[bool] | None = None, *, explain_all: bool = True) -> list[Score]:
    """Every active participant's score for the week, from a handful of GROUP BY queries.

    explain_all=False words the reasons of dropping participants only (the daily scan needs no more).
    """
    facts = await gather_facts(session, week, now, config, scope)
    current = is_current(local_day(facts.week_start, config.timezone))  # alumni are not scored
    members = await load_members(session, facts.week_start, facts.report_cutoff,
                                 current if scope is None else and_(current, scope))
    paused = await pause_ends(session, local_day(facts.end, config.timezone), config.timezone)
    for member in members:
        count_pause_as_contact(member, paused, facts.end)
    return [score_member(member, facts, config, explain=explain_all) for member in members]


def count_pause_as_contact(member: Member, paused: dict[str, datetime], end: datetime) -> None:
    """Silence during a cohort's pause is not silence: seen at the pause's end (or now, while it lasts)."""
    if member.cohort in paused and paused[member.cohort] > member.last_seen_at:
        member.last_seen_at = min(paused[member.cohort], end)


@dataclass(frozen=True)
class Needed:
    """Which scores a scan returns: those of `keep` (participant ids), and the `lowest` dropping others not in `skip`.

    SQL weighs every participant with the same formula (estimate_score) and narrows; Python then scores
    the rows returned exactly (score_parts). The estimate errs towards returning: a margin on every
    threshold and `lowest` + LOWEST_MARGIN rows, so rounding never hides someone the exact score would pick.
    """

    keep: Select[Any]
    skip: Select[Any]
    lowest: int


LOWEST_MARGIN = 200
ESTIMATE_MARGIN = 0.05  # points: the SQL estimate is not rounded like the stored score


async def scan_scores(session: AsyncSession, week: str, now: datetime, config: Config, *,
                      scope: ColumnElement[bool] | None = None, needed: Needed | None = None,
                      explain_all: bool = False, partition: int = 2000) -> AsyncIterator[Score]:
    """The week's scores of every active participant in scope (or only the `needed` ones), from ONE query.

    The same facts and weighing as compute_scores, but rows arrive a partition at a time and
    nothing per participant is kept here: the daily scan holds the few it needs, not 100,000.
    """
    await prefer_quick_plans(session)
    facts, rules = week_window(week, now, config), config.rules(ParticipationRules)
    start, end = facts.week_start, facts.end
    current = is_current(local_day(start, config.timezone))
    members = members_query(start, facts.report_cutoff, current if scope is None else and_(current, scope)).subquery()
    pid = members.c.participant_id
    lookback = timedelta(days=rules.tugas_lookback_days)
    # Each aggregate computed once (MATERIALIZED), then joined by participant: the planners would
    # otherwise fold them into the outer query and group far more rows.
    # The week's presensi counts; the run of alpa from the kept presensi facts (no sort of a month of presensi).
    tallies = _once(week_session_query(start, end), "tallies")
    streak = alpa_streak(pid, end, timedelta(days=rules.alpa_streak_lookback_days))
    due: ColumnElement[Any]
    on_time: ColumnElement[Any]
    missing: ColumnElement[Any]
    if needed is None:
        tugas = _once(tugas_tally_query(start, end, lookback), "tugas")
        due, on_time, missing = tugas.c.due, tugas.c.on_time, tugas.c.missing
    else:  # the week's tugas only (all the estimate needs); the month's missing are counted for the rows picked
        week_due = week_tugas(start, end)
        due, on_time, missing = week_due.due(), week_due.sent_on_time(), literal(0)
    asked = _once(questions_query(start, end), "asked")
    ignored = _once(ignored_query(end - IGNORED_LOOKBACK, end), "ignored")
    # The month's report and the kept baseline are read by key per participant (no table of 100,000 built).
    report = aliased(MonthlyReport)
    reported = and_(report.participant_id == pid, report.month == facts.report_month,
                    report.submitted_at.is_not(None), report.submitted_at < end)
    base: Any
    if await baselines_kept(session, week, config) is None:
        base = _once(baselines_query(baseline_weeks(week, config)), "base")
        based, average, weeks = base.c.participant_id == pid, base.c.average, base.c.weeks
    else:
        base = aliased(ParticipantBaseline)
        based, average, weeks = and_(base.participant_id == pid, base.week == week), base.average, base.weeks
    query: Select[Any] = (
        select(*members.c, tallies.c.expected, tallies.c.hadir, tallies.c.terlambat, tallies.c.izin, tallies.c.alpa,
               streak.label("streak"), due.label("due"), on_time.label("on_time"), missing.label("missing"),
               report.participant_id.label("reported"), asked.c.n.label("asked"), ignored.c.n.label("ignored"),
               average.label("average"), weeks.label("weeks"))
        .outerjoin(tallies, tallies.c.participant_id == pid).outerjoin(report, reported)
        .outerjoin(asked, asked.c.participant_id == pid).outerjoin(ignored, ignored.c.participant_id == pid)
        .outerjoin(base, based).outerjoin(PresensiFacts, PresensiFacts.participant_id == pid))
    query = (query.outerjoin(tugas, tugas.c.participant_id == pid) if needed is None
             else week_due.joins(query, members.c.mentor_id, members.c.cohort, pid))
    paused = await pause_ends(session, local_day(end, config.timezone), config.timezone)
    connection = await session.connection()  # Core rows: the ORM's per-row bookkeeping is not needed here

    def score_row(row: Any, tugas_of: TugasTally | None = None) -> Score:
        member = member_of(*row[:6])
        count_pause_as_contact(member, paused, end)
        expected, hadir, late, izin, alpa, streak, due, on_time, missing, reported, n_asked, n_ignored, \
            average, weeks = row[6:]
        if tugas_of is None:
            tugas_of = NO_TUGAS if due is None else TugasTally(due, on_time, missing)
        return score_parts(
            member, NO_SESSIONS if expected is None and not streak
            else SessionTally(expected or 0, hadir or 0, late or 0, izin or 0, alpa or 0, streak or 0),
            tugas_of, reported is not None, n_asked or 0, n_ignored or 0,
            (0.0, 0) if average is None else (float(average), int(weeks)), facts, config, explain=explain_all)

    if needed is not None:
        silent = silent_days(members.c.last_seen, members.c.cohort, paused, end, connection.dialect.name)
        picked = (await connection.execute(narrow(query, needed, silent, config))).all()
        exact = await tugas_of_few(connection, [row[0] for row in picked], start, end, lookback)
        for row in picked:
            yield score_row(row, exact.get(row[0], NO_TUGAS))
        return
    query = query.order_by(pid)  # compute_scores' order: the digest's groups and lists come out the same
    result = await connection.stream(query.execution_options(yield_per=partition))
    async for rows in result.partitions():
        for row in rows:
            yield score_row(row)


async def tugas_of_few(connection: AsyncConnection, ids: list[int], start: datetime, end: datetime,
                       lookback: timedelta) -> dict[int, TugasTally]:
    """tugas_tallies of a few participants (the rows a narrowed scan picked), a few hundred per query."""
    found: dict[int, TugasTally] = {}
    for first in range(0, len(ids), CHUNK):
        query = tugas_tally_query(start, end, lookback, only=ids[first:first + CHUNK])
        found.update((pid, TugasTally(due, on_time, missing)) for pid, due, on_time, missing
                     in await connection.execute(query))
    return found


def narrow(query: Select[Any], needed: Needed, silent: ColumnElement[int], config: Config) -> Select[Any]:
    """Keep the rows of `needed.keep`, and the lowest estimated scores of those maybe dropping (not skipped)."""
    rules, width = config.rules(ParticipationRules), len(query.selected_columns)
    # One level per derived figure, each fenced with OFFSET 0 so the planners (SQLite and PostgreSQL) do not
    # fold it into the next and evaluate it once per use: the estimate was computed four times a row.
    with_silence = query.add_columns(silent.label("silent")).offset(0).subquery()
    estimate = estimate_score(with_silence.c, with_silence.c.silent, config)
    scored = select(*with_silence.c, estimate.label("estimate")).offset(0).subquery()
    c = scored.c
    falling = and_(func.coalesce(c.weeks, 0) >= MIN_BASELINE_WEEKS,
                   func.coalesce(c.average, 0) - c.estimate >= rules.nudge_drop_points - ESTIMATE_MARGIN)
    maybe = or_(falling, c.estimate < rules.nudge_score_threshold + ESTIMATE_MARGIN,
                c.silent >= rules.nudge_silence_days, func.coalesce(c.streak, 0) >= rules.nudge_alpa_streak)
    # Used once, the scored rows stream through a top-N sort: no 100,000-row table of scores is built.
    pid = c.participant_id
    fresh = (select(*list(scored.c)[:width])
             .where(maybe, pid.not_in(needed.keep), pid.not_in(needed.skip))
             .order_by(c.estimate, pid).limit(needed.lowest + LOWEST_MARGIN).subquery())
    kept = query.where(query.selected_columns.participant_id.in_(needed.keep))  # a few rows, read by participant
    return union_all(kept, select(*fresh.c)).subquery().select()


def silent_days(last_seen: Any, cohort: Any, paused: dict[str, datetime], end: datetime,
                dialect: str) -> ColumnElement[int]:
    """Whole days since last seen, in SQL, as score_parts counts them (a paused cohort's silence excepted)."""
    if dialect == "sqlite":
        stamp = end.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        days: ColumnElement[Any] = cast(func.julianday(stamp) - func.julianday(last_seen), Integer)
    else:
        days = func.floor(func.extract("epoch", literal(end, DateTime(timezone=True)) - last_seen) / 86400)
    days = case((days > 0, days), else_=0)
    if not paused:
        return days
    pauses = [(and_(cohort == name, last_seen < literal(until, DateTime(timezone=True)) if dialect != "sqlite"
                    else last_seen < until.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")),
               max(0, (end - min(until, end)).days)) for name, until in paused.items()]
    return case(*pauses, else_=days)


def estimate_score(c: Any, silent: ColumnElement[int], config: Config) -> ColumnElement[float]:
    """score_parts' weighing in SQL, unrounded (narrow() uses it to pick; Python scores what it picked)."""
    rules = config.rules(ParticipationRules)

    def given(column: Any) -> ColumnElement[bool]:
        return func.coalesce(column, 0) > 0

    def part(condition: ColumnElement[bool], value: Any) -> ColumnElement[float]:
        return case((condition, value), else_=0.0)

    contact = rules.score_weight_contact * case((silent >= rules.score_silence_zero_days, 0.0),
                                                else_=1.0 - silent * 1.0 / rules.score_silence_zero_days)
    present = c.hadir + rules.score_value_terlambat * c.terlambat + rules.score_value_izin * c.izin
    weight = (rules.score_weight_contact + part(given(c.expected), rules.score_weight_attendance)
              + part(given(c.due), rules.score_weight_tugas) + part(c.joined == 1, rules.score_weight_report)
              + part(given(c.asked), rules.score_weight_questions))
    weighted = (contact + part(given(c.expected), rules.score_weight_attendance * present * 1.0 / c.expected)
                + part(given(c.due), rules.score_weight_tugas * c.on_time * 1.0 / c.due)
                + part(and_(c.joined == 1, c.reported.is_not(None)), rules.score_weight_report)
                + part(given(c.asked), rules.score_weight_questions))
    value = case((weight > 0, 100.0 * weighted / weight), else_=100.0) \
        - rules.score_penalty_ignored_nudge * func.coalesce(c.ignored, 0)
    return case((value > 0, value), else_=0.0)


def _once(query: Select[Any] | Select[int, int], name: str) -> CTE:
    return query.cte(name).prefix_with("MATERIALIZED")


def score_member(member: Member, facts: Facts, config: Config, *, explain: bool = True) -> Score:
    """Weigh one participant's facts into a score, flag a drop, and say why in words."""
    return score_parts(member, facts.sessions.get(member.id, NO_SESSIONS), facts.tugas.get(member.id, NO_TUGAS),
                       member.id in facts.reports, facts.asked.get(member.id, 0), facts.ignored.get(member.id, 0),
                       facts.baselines.get(member.id, (0.0, 0)), facts, config, explain=explain)


def score_parts(member: Member, tally: SessionTally, tugas: TugasTally, has_report: bool, questions: int,
                ignored: int, baseline_of: tuple[float, int], facts: Facts, config: Config, *,
                explain: bool = True) -> Score:
    """The score of one participant from their facts (facts gives the week's end and report month)."""
    rules = config.rules(ParticipationRules)
    report = has_report if member.joined_before_report_month_end else None
    silent = max(0, (facts.end - member.last_seen_at).days)
    weight, weighted = _parts(tally, tugas, report, questions, silent, config)
    value = 100 * weighted / weight if weight else 100.0
    score = round(max(0.0, value - rules.score_penalty_ignored_nudge * ignored), 1)
    active = bool(tally.hadir or tally.terlambat or questions or tugas.on_time or member.wrote_this_week)
    result = Score(member.id, member.mentor_id, member.cohort, score, active, False, tally.expected,
                   tally.hadir, tally.terlambat, tally.izin, tally.alpa, tally.streak, tugas.due,
                   tugas.on_time, tugas.missing, report, questions, silent, ignored)
    baseline, weeks = baseline_of
    is_falling = weeks >= MIN_BASELINE_WEEKS and baseline - score >= rules.nudge_drop_points
    result.is_dropping = (is_falling or score < rules.nudge_score_threshold or silent >= rules.nudge_silence_days
                          or tally.streak >= rules.nudge_alpa_streak)
    if explain or result.is_dropping:
        result.reasons = reasons_for(result, facts.report_month, baseline if is_falling else None, config)
    return result


def _parts(tally: SessionTally, tugas: TugasTally, report: bool | None, questions: int, silent: int,
           config: Config) -> tuple[float, float]:
    """Total weight and weighted sum (values 0..1) of the parts that apply this week; contact always does."""
    rules = config.rules(ParticipationRules)
    weight = rules.score_weight_contact
    weighted = weight * max(0.0, 1 - silent / rules.score_silence_zero_days)
    if tally.expected:
        present = (tally.hadir + rules.score_value_terlambat * tally.terlambat
                   + rules.score_value_izin * tally.izin)
        weight += rules.score_weight_attendance
        weighted += rules.score_weight_attendance * present / tally.expected
    if tugas.due:
        weight += rules.score_weight_tugas
        weighted += rules.score_weight_tugas * tugas.on_time / tugas.due
    if report is not None:
        weight += rules.score_weight_report
        weighted += rules.score_weight_report if report else 0.0
    if questions:
        weight += rules.score_weight_questions
        weighted += rules.score_weight_questions
    return weight, weighted


def reasons_for(score: Score, report_month: str, baseline: float | None, config: Config) -> list[str]:
    """Why a score is low, most telling first: "alpa 2 sesi berturut-turut", "3 tugas belum dikirim"."""
    texts, reasons = reason_texts(REASON_LANGUAGE), []
    if score.alpa_streak >= config.rules(ParticipationRules).nudge_alpa_streak:
        reasons.append(texts["alpa_streak"].format(n=score.alpa_streak))
    elif score.sessions_alpa:
        reasons.append(texts["alpa_week"].format(n=score.sessions_alpa, of=score.sessions_expected))
    if score.tugas_missing:
        reasons.append(texts["tugas_missing"].format(n=score.tugas_missing))
    if score.report_sent is False:
        reasons.append(texts["report_missing"].format(month=month_name(report_month, REASON_LANGUAGE)))
    if score.silent_days >= config.rules(ParticipationRules).nudge_silence_days:
        reasons.append(texts["silent"].format(days=score.silent_days))
    if score.nudges_ignored:
        reasons.append(texts["nudges_ignored"].format(n=score.nudges_ignored))
    if baseline is not None:
        reasons.append(texts["falling"].format(before=f"{baseline:.0f}", now=f"{score.score:.0f}"))
    return reasons


@cache
def reason_texts(language: str) -> dict[str, str]:
    """The reason templates, looked up once: a weekly run writes hundreds of thousands of reasons."""
    keys = {"alpa_streak": "part.reason_alpa_streak", "alpa_week": "part.reason_alpa_week",
            "tugas_missing": "part.reason_tugas_missing", "report_missing": "part.reason_report_missing",
            "silent": "part.reason_silent", "nudges_ignored": "part.reason_nudges_ignored",
            "falling": "part.reason_falling"}
    return {name: t(key, language) for name, key in keys.items()}


@cache
def month_name(month: str, language: str) -> str:
    """"2026-02" → "Februari 2026"."""
    year, number = month.split("-")
    return f"{t('dates.months', language).split(',')[int(number) - 1]} {year}"


async def store_scores(session: AsyncSession, week: str, scores: list[Score], now: datetime,
                       config: Config | None = None) -> None:
    """Replace the week's stored scores in one bulk insert (a rerun overwrites, never duplicates), and the
    facts kept from them (keep_week_facts; with the config's baseline span, else the default's)."""
    await session.execute(delete(ParticipationScore).where(ParticipationScore.week == week))
    await insert_records(session, SCORES_TABLE, RECORD_COLUMNS, [score.as_record(week, now) for score in scores])
    await keep_week_facts(session, week, config or Config())


def group_sums() -> dict[str, Any]:
    """A week's scores summed per group, by ParticipationWeekGroup's column (SQL aggregates of
    ParticipationScore): what keep_week_facts keeps and the digest sums again for a week kept without them."""
    scores = ParticipationScore
    return {"active": func.sum(case((scores.is_active.is_(True), 1), else_=0)), "participants": func.count(),
            "first_participant": func.min(scores.participant_id),
            "sessions_expected": func.sum(scores.sessions_expected),
            "sessions_present": func.sum(scores.sessions_hadir + scores.sessions_terlambat),
            "tugas_due": func.sum(scores.tugas_due), "tugas_on_time": func.sum(scores.tugas_on_time),
            "score_tenths": func.sum(cast(func.round(scores.score * 10), Integer))}


async def keep_week_facts(session: AsyncSession, week: str, config: Config) -> None:
    """After a week's scores are stored: its counts per cohort and mentor, and every participant's baseline
    for the week after, each written by one INSERT…SELECT (the digest and the daily scan read these)."""
    groups, scores = ParticipationWeekGroup, ParticipationScore
    await session.execute(delete(groups).where(groups.week == week))
    mentor = func.coalesce(scores.mentor_id, 0)
    sums = group_sums()
    await session.execute(insert(groups).from_select(
        ["week", "cohort", "mentor_key", *sums],
        select(scores.week, scores.cohort, mentor, *sums.values())
        .where(scores.week == week).group_by(scores.week, scores.cohort, mentor)))
    target = shift_week(week, 1)
    weeks = baseline_weeks(target, config)
    averaged = baselines_query(weeks).subquery()
    await session.execute(delete(ParticipantBaseline))
    await session.execute(insert(ParticipantBaseline).from_select(
        ["participant_id", "week", "span", "average", "weeks"],
        select(averaged.c.participant_id, literal(target), literal(len(weeks)), averaged.c.average,
               averaged.c.weeks)))


async def baselines_kept(session: AsyncSession, week: str, config: Config) -> Select[Any] | None:
    """(participant_id, average, weeks) from the kept baselines if they are the week's (same span), else None."""
    span = config.rules(ParticipationRules).nudge_baseline_weeks
    kept = ParticipantBaseline
    found = (await session.execute(select(kept.span).where(kept.week == week).limit(1))).scalar_one_or_none()
    if found != span:
        return None
    columns: list[Any] = [kept.participant_id.label("participant_id"), kept.average.label("average"),
                          kept.weeks.label("weeks")]
    return select(*columns).where(kept.week == week)
