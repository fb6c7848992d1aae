"""Set-based queries behind the participation score: one GROUP BY over all participants each.

Every function returns a dict keyed by participant id; none runs a query per participant, so
the cost grows with the rows in the time window, not with round trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.activities import PresensiAlpaRun, PresensiFacts
from storage.base import UtcDateTime
from storage.models import (
    Assignment,
    Attendance,
    AttendanceStatus,
    Extension,
    Meeting,
    MonthlyReport,
    NudgeLog,
    NudgeStep,
    ParticipantPresence,
    ParticipationScore,
    Person,
    Role,
    Submission,
    Ticket,
)
from storage.outcomes import PRESENT

CHUNK = 500  # bounds IN (...) lists: SQLite and asyncpg cap the number of bound parameters


@dataclass(slots=True)
class Member:
    """A participant as the score needs them."""

    id: int
    mentor_id: int | None
    cohort: str
    last_seen_at: datetime  # their last message, or when they joined if they never wrote
    wrote_this_week: bool
    joined_before_report_month_end: bool


@dataclass(slots=True)
class SessionTally:
    """Presensi in the week, and the run of alpa at the end of the recent sessions."""

    expected: int = 0
    hadir: int = 0
    terlambat: int = 0
    izin: int = 0
    alpa: int = 0
    streak: int = 0


@dataclass(slots=True)
class TugasTally:
    """Tugas due in the week, those sent on time, and those still missing in the lookback."""

    due: int = 0
    on_time: int = 0
    missing: int = 0


def as_utc(value: Any) -> datetime | None:
    """Aggregates on SQLite come back as text or naive datetimes: make them aware (UTC)."""
    if value.__class__ is str:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value is None or value.tzinfo is not None:
        return value  # type: ignore[no-any-return]
    return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def is_participant(scope: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
    """Active participants who consented (the others are counts, never scored), optionally narrowed."""
    condition = and_(Person.role == Role.PESERTA, Person.is_active.is_(True), Person.consent_given.is_(True))
    return condition if scope is None else and_(condition, scope)


def members_query(week_start: datetime, report_cutoff: datetime, scope: ColumnElement[bool] | None = None) -> Select[Any]:
    """(participant_id, mentor_id, cohort, last_seen as text, wrote, joined) of every active participant in scope."""
    # Read as text and parsed with fromisoformat: the DateTime type's own parsing on SQLite costs
    # more than the query for 100,000 rows (PostgreSQL returns datetimes either way).
    last_seen = type_coerce(func.coalesce(Person.last_inbound_at, Person.created_at), String).label("last_seen")
    wrote = case((Person.last_inbound_at >= week_start, 1), else_=0).label("wrote")
    joined = case((Person.created_at < report_cutoff, 1), else_=0).label("joined")
    return select(Person.id.label("participant_id"), Person.mentor_id.label("mentor_id"), Person.cohort.label("cohort"),
                  last_seen, wrote, joined).where(is_participant(scope))


def member_of(pid: int, mentor: int | None, cohort: str, seen: Any, wrote: int, joined: int) -> Member:
    """A Member from a members_query row."""
    return Member(pid, mentor, cohort, as_utc(seen), wrote == 1, joined == 1)  # type: ignore[arg-type]


async def load_members(session: AsyncSession, week_start: datetime, report_cutoff: datetime,
                       scope: ColumnElement[bool] | None = None) -> list[Member]:
    """Every active participant (in scope), with the comparisons done in SQL."""
    query = members_query(week_start, report_cutoff, scope).order_by(Person.id)
    return [member_of(*row) for row in (await session.execute(query))]


async def names_of(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    """Names by person id, a few hundred ids per query."""
    unique, found = sorted(set(ids)), dict[int, str]()
    for start in range(0, len(unique), CHUNK):
        query = select(Person.id, Person.name).where(Person.id.in_(unique[start:start + CHUNK]))
        found.update((await session.execute(query)).all())
    return found


def audience(model: Any, columns: list[Any], scope: ColumnElement[bool] | None, *conditions: Any) -> Select[Any]:
    """(item columns…, participant_id) for every participant a Meeting/Assignment (or rows of one) is for."""
    for_group = (select(*columns, Person.id.label("participant_id"))
                 .join(Person, Person.mentor_id == model.mentor_id)
                 .where(model.mentor_id.is_not(None), is_participant(scope), *conditions))
    for_cohort = (select(*columns, Person.id.label("participant_id"))
                  .join(Person, Person.cohort == model.cohort)
                  .where(model.mentor_id.is_(None), model.cohort != "", is_participant(scope), *conditions))
    return union_all(for_group, for_cohort)  # type: ignore[return-value]


async def session_tallies(session: AsyncSession, week_start: datetime, end: datetime, lookback: timedelta,
                          scope: ColumnElement[bool] | None = None) -> dict[int, SessionTally]:
    """Presensi per participant: week counts, and the run of alpa at the end of the lookback."""
    query = session_tally_query(week_start, end, lookback, scope)
    return {pid: SessionTally(expected, hadir, late, izin, alpa, streak)
            for pid, expected, hadir, late, izin, alpa, streak in (await session.execute(query))}


def session_tally_query(week_start: datetime, end: datetime, lookback: timedelta,
                        scope: ColumnElement[bool] | None = None) -> Select[Any]:
    """(participant_id, expected, hadir, terlambat, izin, alpa, streak) per participant with presensi.

    Reads the records of closed sessions only: closing a check-in window (handlers.activities.attendance_jobs)
    writes alpa for everyone without a record, so no audience join is needed here.
    """
    rows = (select(Attendance.participant_id.label("participant_id"), Meeting.starts_at.label("starts_at"),
                   Attendance.status.label("status"),
                   func.row_number().over(partition_by=Attendance.participant_id,
                                          order_by=Meeting.starts_at.desc()).label("rn"))
            .select_from(Meeting).join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(Meeting.is_cancelled.is_(False), Meeting.starts_at >= end - lookback, Meeting.starts_at < end,
                   Meeting.checkin_closed_at.is_not(None), Meeting.checkin_closed_at <= end))
    if scope is not None:
        rows = rows.join(Person, Person.id == Attendance.participant_id).where(scope)
    tally = rows.subquery()
    in_week = tally.c.starts_at >= week_start

    def week_count(*statuses: str) -> Any:
        return func.sum(case((and_(in_week, tally.c.status.in_(statuses)), 1), else_=0))

    first_attended = func.min(case((tally.c.status != AttendanceStatus.ALPA.value, tally.c.rn)))
    return select(tally.c.participant_id.label("participant_id"), func.sum(case((in_week, 1), else_=0)).label("expected"),
                  week_count(AttendanceStatus.HADIR).label("hadir"),
                  week_count(AttendanceStatus.TERLAMBAT).label("terlambat"),
                  week_count(AttendanceStatus.IZIN, AttendanceStatus.SAKIT).label("izin"),
                  week_count(AttendanceStatus.ALPA).label("alpa"),
                  func.coalesce(first_attended - 1, func.count()).label("streak")).group_by(tally.c.participant_id)


def week_session_query(week_start: datetime, end: datetime) -> Select[Any]:
    """(participant_id, expected, hadir, terlambat, izin, alpa) in the sessions of [week_start, end) closed by end.

    session_tally_query's week counts without its streak (no sort of a month of presensi): the daily
    scan takes the streak from the kept facts (scores.alpa_streak)."""
    def count(*statuses: str) -> Any:
        return func.sum(case((Attendance.status.in_(statuses), 1), else_=0))

    return (select(Attendance.participant_id.label("participant_id"), func.count().label("expected"),
                   count(AttendanceStatus.HADIR).label("hadir"), count(AttendanceStatus.TERLAMBAT).label("terlambat"),
                   count(AttendanceStatus.IZIN, AttendanceStatus.SAKIT).label("izin"),
                   count(AttendanceStatus.ALPA).label("alpa"))
            .select_from(Meeting).join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(Meeting.is_cancelled.is_(False), Meeting.starts_at >= week_start, Meeting.starts_at < end,
                   Meeting.checkin_closed_at.is_not(None), Meeting.checkin_closed_at <= end)
            .group_by(Attendance.participant_id))


def counted_streak(participant_id: Any, end: datetime, lookback: timedelta) -> ColumnElement[int]:
    """The run of alpa at the end of one participant's closed sessions in [end - lookback, end), counted from
    their presensi (the index on participant_id), as session_tally_query counts it."""
    lo = end - lookback
    attended, met = aliased(Attendance), aliased(Meeting)
    counted, held = aliased(Attendance), aliased(Meeting)

    def window(record: Any, meeting: Any) -> ColumnElement[bool]:
        return and_(record.participant_id == participant_id, meeting.is_cancelled.is_(False),
                    meeting.checkin_closed_at.is_not(None), meeting.checkin_closed_at <= end,
                    meeting.starts_at >= lo, meeting.starts_at < end)

    present_at = (select(func.max(met.starts_at)).select_from(attended).join(met, met.id == attended.meeting_id)
                  .where(window(attended, met), attended.status != AttendanceStatus.ALPA.value)
                  .correlate_except(attended, met).scalar_subquery())
    since = func.coalesce(present_at, literal(lo - timedelta(microseconds=1), UtcDateTime()))
    return (select(func.count()).select_from(counted).join(held, held.id == counted.meeting_id)
            .where(window(counted, held), held.starts_at > since)
            .correlate_except(counted, held).scalar_subquery())


def alpa_streak(participant_id: Any, end: datetime, lookback: timedelta) -> ColumnElement[int]:
    """The run of alpa at `end` (as session_tally_query counts it) for a query with PresensiFacts outer-joined
    on participant_id. The kept facts answer when nothing in them is newer than `end`: an empty run, a run
    begun inside the window (all of it), else its sessions inside the window (PresensiAlpaRun, by key).
    A participant without facts (no closed session kept), or facts newer than `end`, is counted from the
    presensi."""
    facts, runs, lo = PresensiFacts, PresensiAlpaRun, end - lookback
    in_window = (select(func.count()).where(runs.participant_id == facts.participant_id, runs.starts_at >= lo,
                                             runs.starts_at < end).correlate_except(runs).scalar_subquery())
    current = and_(facts.participant_id.is_not(None), facts.last_session_at < end, facts.last_closed_at <= end)
    return case((and_(current, facts.alpa_run == 0), 0), (and_(current, facts.alpa_run_from >= lo), facts.alpa_run),
                (current, in_window), else_=counted_streak(participant_id, end, lookback))


async def tugas_tallies(session: AsyncSession, week_start: datetime, end: datetime, lookback: timedelta,
                        scope: ColumnElement[bool] | None = None) -> dict[int, TugasTally]:
    """Tugas per participant: due this week, sent by the (extended) deadline, missing overall."""
    query = tugas_tally_query(week_start, end, lookback, scope)
    return {pid: TugasTally(due, on_time, missing) for pid, due, on_time, missing in (await session.execute(query))}


def tugas_tally_query(week_start: datetime, end: datetime, lookback: timedelta,
                      scope: ColumnElement[bool] | None = None, only: list[int] | None = None) -> Select[Any]:
    """(participant_id, due, on_time, missing) per participant with tugas in the lookback (of `only` these ids)."""
    # The few tugas due in the window (or extended into it), materialized first: the planners then
    # read their submissions by index instead of scanning a year of submissions.
    ids = union(select(Assignment.id.label("id")).where(Assignment.due_at >= end - lookback, Assignment.due_at < end),
                select(Extension.assignment_id).where(Extension.due_at >= end - lookback, Extension.due_at < end)
                ).subquery()
    window = (select(Assignment.id, Assignment.due_at, Assignment.mentor_id, Assignment.cohort)
              .join(ids, ids.c.id == Assignment.id)).cte("tugas_window").prefix_with("MATERIALIZED")
    pairs = audience(window.c, [window.c.id.label("assignment_id"), window.c.due_at.label("due_at")], scope).subquery()
    firsts = (select(Submission.assignment_id, Submission.participant_id,
                     func.min(Submission.submitted_at).label("first_at"))
              .where(Submission.assignment_id.in_(select(window.c.id)))  # by index (a join scanned them all)
              .group_by(Submission.assignment_id, Submission.participant_id))
    first = firsts.subquery()
    due = func.coalesce(Extension.due_at, pairs.c.due_at).label("due")
    joined = (select(pairs.c.participant_id, due, first.c.first_at)
              .outerjoin(Extension, and_(Extension.assignment_id == pairs.c.assignment_id,
                                         Extension.participant_id == pairs.c.participant_id))
              .outerjoin(first, and_(first.c.assignment_id == pairs.c.assignment_id,
                                     first.c.participant_id == pairs.c.participant_id)))
    if only is not None:  # a few participants: their pairs, each pair's first submission read by index
        chosen = Person.id.in_(only) if scope is None else and_(Person.id.in_(only), scope)
        pairs = audience(window.c, [window.c.id.label("assignment_id"), window.c.due_at.label("due_at")],
                         chosen).subquery()
        first_at = (select(func.min(Submission.submitted_at))
                    .where(Submission.assignment_id == pairs.c.assignment_id,
                           Submission.participant_id == pairs.c.participant_id).scalar_subquery())
        joined = (select(pairs.c.participant_id, func.coalesce(Extension.due_at, pairs.c.due_at).label("due"),
                         first_at.label("first_at"))
                  .outerjoin(Extension, and_(Extension.assignment_id == pairs.c.assignment_id,
                                             Extension.participant_id == pairs.c.participant_id)))
    rows = joined.subquery()
    is_due = and_(rows.c.due < end, rows.c.due >= end - lookback)
    in_week = and_(rows.c.due >= week_start, rows.c.due < end)
    on_time = and_(in_week, rows.c.first_at.is_not(None), rows.c.first_at <= rows.c.due)
    return select(rows.c.participant_id.label("participant_id"), func.sum(case((in_week, 1), else_=0)).label("due"),
                  func.sum(case((on_time, 1), else_=0)).label("on_time"),
                  func.sum(case((and_(is_due, rows.c.first_at.is_(None)), 1), else_=0)).label("missing")
                  ).group_by(rows.c.participant_id)


@dataclass(frozen=True)
class WeekTugas:
    """The week's tugas per participant without building a row per (tugas, participant): due counted per
    mentor's group and per angkatan, moved by the participant's extensions, and on time from the submissions."""

    by_mentor: CTE  # (mentor_id, n): tugas for a mentor's group due this week
    by_cohort: CTE  # (cohort, n): tugas for an angkatan due this week
    moved: CTE  # (participant_id, n): tugas an extension moved into the week (+1) or out of it (-1)
    on_time: CTE  # (participant_id, n): tugas due this week sent by their (extended) deadline

    def due(self) -> ColumnElement[int]:
        """tugas_tally_query's `due` of a participant, in a query with these CTEs outer-joined (joins())."""
        return (func.coalesce(self.by_mentor.c.n, 0) + func.coalesce(self.by_cohort.c.n, 0)
                + func.coalesce(self.moved.c.n, 0))

    def sent_on_time(self) -> ColumnElement[int]:
        """tugas_tally_query's `on_time`, likewise."""
        return func.coalesce(self.on_time.c.n, 0)

    def joins(self, query: Select[Any], mentor_id: Any, cohort: Any, participant_id: Any) -> Select[Any]:
        """The query with the participant's (mentor_id, cohort, participant_id columns) rows of each joined."""
        return (query.outerjoin(self.by_mentor, self.by_mentor.c.mentor_id == mentor_id)
                .outerjoin(self.by_cohort, self.by_cohort.c.cohort == cohort)
                .outerjoin(self.moved, self.moved.c.participant_id == participant_id)
                .outerjoin(self.on_time, self.on_time.c.participant_id == participant_id))


def week_tugas(week_start: datetime, end: datetime) -> WeekTugas:
    """tugas_tally_query's `due` and `on_time` for [week_start, end), for participants read elsewhere (the
    daily scan's members): the few tugas of the week, the groups' counts, and the week's submissions."""
    ids = union(select(Assignment.id.label("id")).where(Assignment.due_at >= week_start, Assignment.due_at < end),
                select(Extension.assignment_id).where(Extension.due_at >= week_start, Extension.due_at < end)
                ).subquery()
    window = (select(Assignment.id, Assignment.due_at, Assignment.mentor_id, Assignment.cohort)
              .join(ids, ids.c.id == Assignment.id)).cte("week_tugas").prefix_with("MATERIALIZED")

    def materialized(query: Any, name: str) -> CTE:
        made: CTE = query.cte(name).prefix_with("MATERIALIZED")
        return made

    def in_week(due: Any) -> ColumnElement[bool]:
        return and_(due >= week_start, due < end)

    for_group = window.c.mentor_id.is_not(None)
    for_cohort = and_(window.c.mentor_id.is_(None), window.c.cohort != "")
    by_mentor = select(window.c.mentor_id.label("mentor_id"), func.count().label("n")).where(
        for_group, in_week(window.c.due_at)).group_by(window.c.mentor_id)
    by_cohort = select(window.c.cohort.label("cohort"), func.count().label("n")).where(
        for_cohort, in_week(window.c.due_at)).group_by(window.c.cohort)
    addressed = or_(and_(for_group, Person.mentor_id == window.c.mentor_id),
                    and_(for_cohort, Person.cohort == window.c.cohort))
    moved = (select(Extension.participant_id.label("participant_id"),
                    func.sum(case((in_week(Extension.due_at), 1), else_=0)
                             - case((in_week(window.c.due_at), 1), else_=0)).label("n"))
             .join(window, window.c.id == Extension.assignment_id).join(Person, Person.id == Extension.participant_id)
             .where(addressed, is_participant()).group_by(Extension.participant_id))
    first = (select(Submission.assignment_id.label("assignment_id"), Submission.participant_id.label("participant_id"),
                    func.min(Submission.submitted_at).label("first_at"))
             .where(Submission.assignment_id.in_(select(window.c.id)))
             .group_by(Submission.assignment_id, Submission.participant_id)).subquery()
    due = func.coalesce(Extension.due_at, window.c.due_at)
    on_time = (select(first.c.participant_id.label("participant_id"), func.count().label("n"))
               .join(window, window.c.id == first.c.assignment_id).join(Person, Person.id == first.c.participant_id)
               .outerjoin(Extension, and_(Extension.assignment_id == first.c.assignment_id,
                                          Extension.participant_id == first.c.participant_id))
               .where(addressed, is_participant(), in_week(due), first.c.first_at <= due)
               .group_by(first.c.participant_id))
    return WeekTugas(materialized(by_mentor, "week_tugas_groups"), materialized(by_cohort, "week_tugas_cohorts"),
                     materialized(moved, "week_tugas_moved"), materialized(on_time, "week_tugas_on_time"))


def reports_query(month: str, end: datetime) -> Select[Any]:
    """(participant_id) of those whose laporan bulanan for `month` ("2026-02") was submitted by end."""
    return select(MonthlyReport.participant_id.label("participant_id")).where(
        MonthlyReport.month == month, MonthlyReport.submitted_at.is_not(None), MonthlyReport.submitted_at < end)


async def reports_sent(session: AsyncSession, month: str, end: datetime) -> set[int]:
    """Participants whose laporan bulanan for `month` ("2026-02") was submitted by end."""
    return set((await session.execute(reports_query(month, end))).scalars())


def questions_query(start: datetime, end: datetime) -> Select[int, int]:
    """(participant_id, n): tickets opened per participant in the window."""
    return (select(Ticket.participant_id.label("participant_id"), func.count().label("n"))
            .where(Ticket.created_at >= start, Ticket.created_at < end).group_by(Ticket.participant_id))


async def questions_asked(session: AsyncSession, start: datetime, end: datetime) -> dict[int, int]:
    """Tickets opened per participant in the window."""
    return dict((await session.execute(questions_query(start, end))).all())


def ignored_query(start: datetime, end: datetime) -> Select[int, int]:
    """(participant_id, n): nudges that went unanswered until the mentor had to be told."""
    return (select(NudgeLog.participant_id.label("participant_id"), func.count().label("n"))
            .where(NudgeLog.step == NudgeStep.MENTOR, NudgeLog.sent_at >= start, NudgeLog.sent_at < end)
            .group_by(NudgeLog.participant_id))


async def nudges_ignored(session: AsyncSession, start: datetime, end: datetime) -> dict[int, int]:
    """Nudges that went unanswered until the mentor had to be told, per participant."""
    return dict((await session.execute(ignored_query(start, end))).all())


def baselines_query(weeks: list[str]) -> Select[Any]:
    """(participant_id, average, weeks): the stored scores of the given weeks."""
    return (select(ParticipationScore.participant_id.label("participant_id"),
                   func.avg(ParticipationScore.score).label("average"), func.count().label("weeks"))
            .where(ParticipationScore.week.in_(weeks)).group_by(ParticipationScore.participant_id))


async def baselines(session: AsyncSession, weeks: list[str]) -> dict[int, tuple[float, int]]:
    """Average stored score and number of weeks over the given weeks, per participant."""
    return {pid: (float(avg), int(n)) for pid, avg, n in (await session.execute(baselines_query(weeks)))}


def agency_of(fields: tuple[str, ...]) -> ColumnElement[str]:
    """The participant's agency from the roster's extra columns, lower-cased and trimmed."""
    values = [Person.extra[name].as_string() for name in fields]
    return func.lower(func.trim(func.coalesce(*values, literal(""))))


async def participants_by_agency(session: AsyncSession, fields: tuple[str, ...], min_sessions: int,
                                 end: datetime) -> dict[str, tuple[int, int]]:
    """(enrolled, trained) per agency key; trained = at least min_sessions hadir/terlambat by end."""
    agency = agency_of(fields).label("agency")
    # Per participant, stop at the min_sessions-th record (index on participant_id): far cheaper
    # than counting a year of presensi for everyone.
    present = (select(literal(1)).where(Attendance.participant_id == Person.id,
                                        Attendance.status.in_(PRESENT),  # as the kept first presence counts
                                        Attendance.created_at < end)
               .limit(max(1, min_sessions)).correlate(Person).subquery())
    is_trained = select(func.count()).select_from(present).scalar_subquery() >= min_sessions
    query = select(agency, func.count(), func.sum(case((is_trained, 1), else_=0)))
    if min_sessions == 1:  # the default: the kept first presence says it without a probe per participant
        query = (select(agency, func.count(), func.sum(case((ParticipantPresence.first_present_at < end, 1), else_=0)))
                 .outerjoin(ParticipantPresence, ParticipantPresence.participant_id == Person.id))
    query = query.where(Person.role == Role.PESERTA, Person.is_active.is_(True)).group_by(agency)
    return {key: (int(n), int(trained or 0)) for key, n, trained in (await session.execute(query))}
