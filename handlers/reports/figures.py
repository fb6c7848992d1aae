"""The digest's figures: participation by cohort and mentor, tickets, response times, at-risk list.

Group figures are summed from the week's scores (already one row per participant); everything
else is one GROUP BY query each. First-response time counts working hours only (handlers.consultation.worktime).
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, overload

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    func,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.consultation.rules import ConsultationRules
from handlers.consultation.worktime import calendar_of, working_hours_between
from handlers.kernel.config import Config
from handlers.participation.queries import as_utc, names_of
from handlers.participation.scores import Score, group_sums
from handlers.reports.attribution import Attribution, load_handovers
from handlers.reports.xlsx import RowsXml
from storage.models import (
    LeaveRequest,
    LeaveStatus,
    NudgeLog,
    NudgeStep,
    ParticipationScore,
    Person,
    Role,
    Submission,
    SubmissionStatus,
    Ticket,
    TicketStatus,
)
from storage.participation import ParticipationWeekGroup

AGE_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, None))  # days waiting: [from, to)
REASONS_KEPT = 1_024  # distinct reason lists kept decoded while the at-risk list streams
STREAM_ROWS = 500  # rows per partition when a list is streamed (what is held of it at a time)
MANY_NAMES = 5_000  # beyond this many at risk, one query for every participant's name beats chunks of ids


@dataclass
class GroupFigures:
    """Participation of a cohort, a mentor's group or the whole programme for one week."""

    key: str
    label: str
    participants: int = 0
    active: int = 0
    sessions_expected: int = 0
    sessions_present: int = 0
    tugas_due: int = 0
    tugas_on_time: int = 0
    reports_due: int = 0
    reports_sent: int = 0
    score_total: float = 0.0
    previous_active_pct: float | None = None

    def add(self, score: Score, report: bool | None) -> None:
        """Count one participant's week in, with the month's report (None: not owed)."""
        self.participants += 1
        self.active += score.is_active
        self.sessions_expected += score.sessions_expected
        self.sessions_present += score.sessions_hadir + score.sessions_terlambat
        self.tugas_due += score.tugas_due
        self.tugas_on_time += score.tugas_on_time
        self.reports_due += report is not None
        self.reports_sent += report is True
        self.score_total += score.score

    def add_counts(self, counts: tuple[int, ...]) -> None:
        """Add summed counts (participants, active, expected, present, tugas due, on time, reports due, sent,
        score total in tenths) of several participants, as stored_groups reads them."""
        participants, active, expected, present, due, on_time, reports_due, reports_sent, tenths = counts
        self.participants += participants
        self.active += active
        self.sessions_expected += expected
        self.sessions_present += present
        self.tugas_due += due
        self.tugas_on_time += on_time
        self.reports_due += reports_due
        self.reports_sent += reports_sent
        self.score_total += tenths / 10

    def merge(self, other: GroupFigures) -> None:
        """Add another group's counts (a programme total from its cohorts)."""
        for name in ("participants", "active", "sessions_expected", "sessions_present", "tugas_due",
                     "tugas_on_time", "reports_due", "reports_sent", "score_total"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def active_pct(self) -> float | None:
        """Share of participants active in the week."""
        return percent(self.active, self.participants)

    @property
    def attendance_pct(self) -> float | None:
        """Hadir or terlambat among the sessions they were expected at."""
        return percent(self.sessions_present, self.sessions_expected)

    @property
    def tugas_pct(self) -> float | None:
        """Tugas sent on time among those due."""
        return percent(self.tugas_on_time, self.tugas_due)

    @property
    def average_score(self) -> float | None:
        """Mean participation score."""
        return round(self.score_total / self.participants, 1) if self.participants else None

    @property
    def active_change(self) -> float | None:
        """Percentage points of active participants since last week."""
        if self.active_pct is None or self.previous_active_pct is None:
            return None
        return round(self.active_pct - self.previous_active_pct, 1)


@dataclass
class MentorFigures(GroupFigures):
    """A mentor's group, plus how the mentor answers."""

    open_tickets: int = 0
    response_hours: list[float] = field(default_factory=list)
    rating_average: float | None = None
    ratings: int = 0

    @property
    def response_median(self) -> float | None:
        """Median working hours to the first answer, for tickets created this week (answered by its end)."""
        return round(statistics.median(self.response_hours), 1) if self.response_hours else None


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A participant whose score shows a drop: on the coordinator's list and on their mentor's."""

    participant_id: int
    name: str
    cohort: str
    mentor_id: int | None
    mentor: str
    score: float
    reasons: list[str]
    since: datetime | None  # when the nudge ladder started (None: not nudged yet)
    escalated: bool  # the nudge and the mentor did not bring them back: the ladder reached the coordinator


AT_RISK_FIRST = 8  # rows kept of the whole list (the coordinator's text names 3) and of each mentor's share
Slipping = tuple[float, str, list[str]]  # (score, name, reasons) of a mentor's slipping participant


class AtRiskList:
    """The week's at-risk list as the digest and the mentors' summaries use it, without holding every row:
    how many, the first few, and each mentor's count and first few, in the list's order (at_risk's).

    The whole list is either held (`held`: a running week's, scored on the spot) or, for a stored week, was
    written as the workbook's rows while it streamed from the database (`written`, by the digest: tens of
    thousands of rows at 100,000 participants are never all held)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, held: list[AtRisk] | None = None) -> None:
        self.count = 0
        self.first: list[AtRisk] = []
        self.mentors: dict[int, tuple[int, list[Slipping]]] = {}
        self.words: dict[str, str] = {}
        self.held: list[AtRisk] | None = held
        self.written: RowsXml | None = None  # the workbook's rows of the list, written ahead
        for risk in held or ():
            self.add(risk)

    def add(self, risk: AtRisk) -> None:
        """Count the next row of the list in."""
        self.count += 1
        if len(self.first) < AT_RISK_FIRST:
            self.first.append(risk)
        if risk.mentor_id is not None:
            count, slipping = self.mentors.get(risk.mentor_id, (0, []))
            if len(slipping) < AT_RISK_FIRST:  # reasons repeat across thousands of mentors: each text held once
                slipping.append((risk.score, risk.name, [self.words.setdefault(word, word) for word in risk.reasons]))
            self.mentors[risk.mentor_id] = (count + 1, slipping)

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        """Let go of the rows written ahead, if any."""
        if self.written is not None:
            self.written.close()

    @overload
    def __getitem__(self, index: int) -> AtRisk: ...

    @overload
    def __getitem__(self, index: slice) -> list[AtRisk]: ...

    def __getitem__(self, index: int | slice) -> AtRisk | list[AtRisk]:
        """One of the first rows, or a slice of them (within the first AT_RISK_FIRST)."""
        return self.first[index]

    def __eq__(self, other: object) -> bool:
        """Equal counts, first rows and mentors' shares (not how the whole list is read)."""
        if not isinstance(other, AtRiskList):
            return NotImplemented
        return (self.count, self.first, self.mentors) == (other.count, other.first, other.mentors)

    def __repr__(self) -> str:
        return f"AtRiskList(count={self.count}, first={self.first!r})"


def percent(part: int, whole: int) -> float | None:
    """part/whole as a percentage with one decimal; None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


class Grouping:
    """Participation summed by cohort and mentor one score at a time (the digest streams 100,000 of them)."""

    def __init__(self, mentor_names: dict[int, str], reports: dict[int, bool]) -> None:
        self.mentor_names, self.reports = mentor_names, reports
        self.cohorts: dict[str, GroupFigures] = {}
        self.mentors: dict[int, MentorFigures] = {}

    def add(self, score: Score) -> None:
        """Count one participant's week in, with the month's report from the roll."""
        cohort = self.cohorts.get(score.cohort)
        if cohort is None:
            cohort = self.cohorts[score.cohort] = GroupFigures(score.cohort, score.cohort or "-")
        report = self.reports.get(score.participant_id)
        cohort.add(score, report)
        key = score.mentor_id or 0
        mentor = self.mentors.get(key)
        if mentor is None:
            mentor = self.mentors[key] = MentorFigures(str(key), self.mentor_names.get(key, "-"))
        mentor.add(score, report)

    def add_counts(self, cohort: str, mentor_id: int | None, counts: tuple[int, ...]) -> None:
        """Count in the summed figures of the participants of one cohort and mentor (stored_groups)."""
        group = self.cohorts.get(cohort)
        if group is None:
            group = self.cohorts[cohort] = GroupFigures(cohort, cohort or "-")
        group.add_counts(counts)
        key = mentor_id or 0
        mentor = self.mentors.get(key)
        if mentor is None:
            mentor = self.mentors[key] = MentorFigures(str(key), self.mentor_names.get(key, "-"))
        mentor.add_counts(counts)

    def result(self) -> tuple[GroupFigures, list[GroupFigures], list[MentorFigures]]:
        """Programme total, cohorts and mentors (each sorted by label)."""
        total = GroupFigures("", "")
        for group in self.cohorts.values():
            total.merge(group)
        return (total, sorted(self.cohorts.values(), key=lambda g: g.label),
                sorted(self.mentors.values(), key=lambda g: g.label))


def group_scores(scores: Iterable[Score], mentor_names: dict[int, str],
                 reports: dict[int, bool]) -> tuple[GroupFigures, list[GroupFigures], list[MentorFigures]]:
    """Programme total, per cohort and per mentor, summed in one pass; `reports` is the month's report roll."""
    grouping = Grouping(mentor_names, reports)
    for score in scores:
        grouping.add(score)
    return grouping.result()


async def stored_groups(session: AsyncSession, week: str, roll: Select[Any]) -> list[tuple[Any, ...]]:
    """A stored week's scores summed per cohort and mentor, with the month's report roll (a query of
    (participant_id, sent), as report_roll_query) joined: (cohort, mentor_id, first participant id,
    participants, active, expected, present, tugas due, on time, reports due, reports sent, score in tenths),
    in the order Grouping.add would have met them (by their first participant).

    The sums kept with the week's group counts (keep_week_facts) when it has them, only the reports counted
    here; else everything summed from the week's scores."""
    kept = ParticipationWeekGroup
    groups = (await session.execute(
        select(kept.cohort, kept.mentor_key, kept.first_participant, kept.participants, kept.active,
               kept.sessions_expected, kept.sessions_present, kept.tugas_due, kept.tugas_on_time, kept.score_tenths)
        .where(kept.week == week))).all()
    if not groups or any(None in group for group in groups):
        return await _summed_groups(session, week, roll)
    scores, owed = ParticipationScore, roll.subquery()
    mentor = func.coalesce(scores.mentor_id, 0)
    # From the roll (every active participant) to each one's stored score by key: no temporary index on the roll.
    query = (select(scores.cohort, mentor, func.count(), func.coalesce(func.sum(case((owed.c.sent.is_(True), 1),
                                                                                      else_=0)), 0))
             .select_from(owed).join(scores, and_(scores.week == week, scores.participant_id == owed.c.participant_id))
             .group_by(scores.cohort, mentor))
    reports = {(cohort, key): (int(due), int(sent)) for cohort, key, due, sent in (await session.execute(query))}
    found = [(cohort, key or None, first, participants, active, expected, present, due, on_time,
              *reports.get((cohort, key), (0, 0)), tenths)
             for cohort, key, first, participants, active, expected, present, due, on_time, tenths in groups]
    return sorted(found, key=lambda row: row[2])


async def _summed_groups(session: AsyncSession, week: str, roll: Select[Any]) -> list[tuple[Any, ...]]:
    """stored_groups from the week's scores (a week whose group counts were kept without the sums)."""
    scores, owed, sums = ParticipationScore, roll.subquery(), group_sums()

    def total(summed: Any) -> Any:
        return func.coalesce(summed, 0)

    query = (select(scores.cohort, scores.mentor_id, sums["first_participant"], sums["participants"],
                    *[total(sums[name]) for name in ("active", "sessions_expected", "sessions_present", "tugas_due",
                                                     "tugas_on_time")],
                    total(func.sum(case((owed.c.participant_id.is_not(None), 1), else_=0))),
                    total(func.sum(case((owed.c.sent.is_(True), 1), else_=0))), total(sums["score_tenths"]))
             .outerjoin(owed, owed.c.participant_id == scores.participant_id)
             .where(scores.week == week).group_by(scores.cohort, scores.mentor_id))
    return sorted((await session.execute(query)).all(), key=lambda row: row[2])


async def previous_active(session: AsyncSession, week: str) -> tuple[float | None, dict[str, float], dict[str, float]]:
    """Active % of a stored week: overall, by cohort, by mentor id (as text); from the kept group counts
    (ParticipationWeekGroup) when the week has them, else from its scores."""
    kept = ParticipationWeekGroup
    if (await session.execute(select(kept.week).where(kept.week == week).limit(1))).first() is not None:
        by_cohort: Any = select(kept.cohort, func.sum(kept.active), func.sum(kept.participants)).where(
            kept.week == week).group_by(kept.cohort)
        by_mentor: Any = select(kept.mentor_key, func.sum(kept.active), func.sum(kept.participants)).where(
            kept.week == week).group_by(kept.mentor_key)
    else:
        active = func.sum(case((ParticipationScore.is_active.is_(True), 1), else_=0))
        by_cohort = select(ParticipationScore.cohort, active, func.count()).where(
            ParticipationScore.week == week).group_by(ParticipationScore.cohort)
        by_mentor = select(ParticipationScore.mentor_id, active, func.count()).where(
            ParticipationScore.week == week).group_by(ParticipationScore.mentor_id)
    cohorts = {str(k): (int(a), int(n)) for k, a, n in (await session.execute(by_cohort))}
    mentors = {str(k or 0): (int(a), int(n)) for k, a, n in (await session.execute(by_mentor))}
    total = percent(sum(a for a, _ in cohorts.values()), sum(n for _, n in cohorts.values()))
    return (total, {k: percent(a, n) or 0.0 for k, (a, n) in cohorts.items()},
            {k: percent(a, n) or 0.0 for k, (a, n) in mentors.items()})


async def mentor_names(session: AsyncSession) -> dict[int, str]:
    """Every mentor's name by id."""
    query = select(Person.id, Person.name).where(Person.role == Role.PENDAMPING)
    return dict((await session.execute(query)).all())


def waiting_since() -> ColumnElement[datetime]:
    """Since when the participant waits: the question, or their follow-up after an answer."""
    return case((Ticket.first_response_at.is_(None), Ticket.created_at), else_=Ticket.last_message_at)


async def unanswered_by_age(session: AsyncSession, now: datetime) -> list[tuple[int, int | None, int]]:
    """(from days, to days, open tickets) per age bucket."""
    since = waiting_since()
    sums = []
    for low, high in AGE_BUCKETS:
        condition = since <= now - timedelta(days=low)
        if high is not None:
            condition = and_(condition, since > now - timedelta(days=high))
        sums.append(func.sum(case((condition, 1), else_=0)))
    row = (await session.execute(select(*sums).where(Ticket.status == TicketStatus.OPEN))).one()
    return [(low, high, int(n or 0)) for (low, high), n in zip(AGE_BUCKETS, row, strict=True)]


async def open_tickets_by_mentor(session: AsyncSession) -> dict[int, tuple[int, datetime | None]]:
    """Open tickets per mentor, with the longest wait's start."""
    query = (select(Ticket.mentor_id, func.count(), func.min(waiting_since()))
             .where(Ticket.status == TicketStatus.OPEN).group_by(Ticket.mentor_id))
    return {mid: (int(n), as_utc(oldest)) for mid, n, oldest in (await session.execute(query))}


@dataclass
class Answers:
    """The week's tickets against the deadline, and working hours to the first answer per mentor."""

    hours: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    on_time: int = 0
    late: int = 0
    waiting: int = 0  # unanswered, still inside the deadline


async def first_responses(session: AsyncSession, start: datetime, end: datetime, config: Config) -> Answers:
    """Tickets created in the window: working hours to the first answer (answered by its end) per mentor, and
    how many were answered within sla_remind_hours, late (answered later or unanswered past it) or waiting.

    The one first-response definition (README "Mentor performance"), shared with the monthly ranking."""
    query = select(Ticket.id, Ticket.mentor_id, Ticket.created_at, Ticket.first_response_at).where(
        Ticket.created_at >= start, Ticket.created_at < end)
    calendar, deadline = calendar_of(config), config.rules(ConsultationRules).sla_remind_hours
    answers = Answers()
    rows = (await session.execute(query)).all()
    # A ticket counts for whoever held it at its first answer (README "Attribution"), not today's holder.
    handovers = Attribution({}, {}, await load_handovers(session) if rows else {})
    for ticket_id, holder_now, created, answered in rows:
        if answered is not None and answered < end:
            hours = working_hours_between(created, answered, calendar)
            mentor_id = handovers.holder_at(ticket_id, holder_now, answered)
            answers.hours[mentor_id].append(hours)
            answers.on_time += hours <= deadline
            answers.late += hours > deadline
        elif working_hours_between(created, end, calendar) > deadline:
            answers.late += 1
        else:
            answers.waiting += 1
    return answers


async def active_by_week(session: AsyncSession, weeks: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """(active, participants) per stored week and cohort: the kept group counts (ParticipationWeekGroup),
    and one GROUP BY over the scores of any week without them."""
    found: dict[str, dict[str, tuple[int, int]]] = {week: {} for week in weeks}
    kept = ParticipationWeekGroup
    query = (select(kept.week, kept.cohort, func.sum(kept.active), func.sum(kept.participants))
             .where(kept.week.in_(weeks)).group_by(kept.week, kept.cohort))
    for week, cohort, n_active, n in (await session.execute(query)):
        found[week][str(cohort or "")] = (int(n_active or 0), int(n))
    missing = [week for week in weeks if not found[week]]
    if not missing:
        return found
    active = func.sum(case((ParticipationScore.is_active.is_(True), 1), else_=0))
    query = (select(ParticipationScore.week, ParticipationScore.cohort, active, func.count())
             .where(ParticipationScore.week.in_(missing))
             .group_by(ParticipationScore.week, ParticipationScore.cohort))
    for week, cohort, n_active, n in (await session.execute(query)):
        found[week][str(cohort or "")] = (int(n_active or 0), int(n))
    return found


async def risk_by_week(session: AsyncSession, bounds: list[tuple[datetime, datetime]]) -> tuple[list[int], list[int]]:
    """Per week: participants whose nudge ladder started (at risk) and whose ladder closed by a reply or a
    recovery (recovered), counted in one query."""
    first, last = bounds[0][0], bounds[-1][1]
    recovered = NudgeLog.resolution.in_(("replied", "recovered"))
    sums = [func.count(func.distinct(case((and_(NudgeLog.step == NudgeStep.NUDGE, NudgeLog.sent_at >= start,
                                               NudgeLog.sent_at < end), NudgeLog.participant_id))))
            for start, end in bounds]
    sums += [func.count(func.distinct(case((and_(recovered, NudgeLog.resolved_at >= start, NudgeLog.resolved_at < end),
                                           NudgeLog.participant_id))))
             for start, end in bounds]
    query = select(*sums).where(or_(and_(NudgeLog.sent_at >= first, NudgeLog.sent_at < last),
                                    and_(NudgeLog.resolved_at >= first, NudgeLog.resolved_at < last)))
    row = [int(n or 0) for n in (await session.execute(query)).one()]
    return row[:len(bounds)], row[len(bounds):]


async def reviews_waiting(session: AsyncSession) -> dict[int, int]:
    """Submissions not yet reviewed, per mentor of the participant."""
    waiting = select(Submission.participant_id).where(
        Submission.status.in_([SubmissionStatus.TERKIRIM, SubmissionStatus.TERLAMBAT]),
        Submission.reviewed_at.is_(None))
    return await _per_mentor(session, waiting)


async def leave_requests_waiting(session: AsyncSession) -> dict[int, int]:
    """Izin/sakit requests not yet decided, per mentor of the participant."""
    pending = select(LeaveRequest.participant_id).where(LeaveRequest.status == LeaveStatus.PENDING)
    return await _per_mentor(session, pending)


async def _per_mentor(session: AsyncSession, rows: Select[int]) -> dict[int, int]:
    # Materialized first: the few waiting rows, then their people. Left to itself SQLite walks
    # every participant to group by mentor in index order, probing a year of rows for each.
    waiting = rows.cte("waiting").prefix_with("MATERIALIZED")
    query = (select(Person.mentor_id, func.count()).select_from(waiting)
             .join(Person, Person.id == waiting.c.participant_id).group_by(Person.mentor_id))
    return {mid: int(n) for mid, n in (await session.execute(query)) if mid is not None}


async def at_risk(session: AsyncSession, end: datetime, scores: Iterable[Score],
                  mentor_names: dict[int, str]) -> list[AtRisk]:
    """Participants whose score shows a drop: the one list behind the coordinator's digest and every
    mentor's summary. Those the nudge ladder brought to the coordinator first (longest first), then the
    lowest scores."""
    dropping = [score for score in scores if score.is_dropping]
    if not dropping:
        return []
    ladders = await _ladders(session, end)
    names = (await names_of(session, [score.participant_id for score in dropping]) if len(dropping) <= MANY_NAMES
             else dict((await session.execute(select(Person.id, Person.name).where(Person.role == Role.PESERTA))).all()))
    found = []
    for score in dropping:
        since, reached = ladders.get(score.participant_id, (None, False))
        found.append(AtRisk(score.participant_id, names.get(score.participant_id, "?"), score.cohort,
                            score.mentor_id, mentor_names.get(score.mentor_id or 0, "-"), score.score,
                            score.reasons, since, reached))
    return _at_risk_order(found)


async def stored_at_risk(session: AsyncSession, week: str, end: datetime, mentor_names: dict[int, str],
                         sink: Callable[[list[AtRisk]], Awaitable[None]]) -> AtRiskList:
    """at_risk of a stored week, read in its order in SQL: its count, first rows and mentors' shares are kept,
    every partition of rows is given to `sink` (while the next one is read) and let go."""
    found, pending = AtRiskList(), None
    try:
        async for rows in stream_stored_at_risk(session, week, end, mentor_names):
            for risk in rows:
                found.add(risk)
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(sink(rows))
    finally:
        if pending is not None:
            await pending
    return found


async def stream_stored_at_risk(session: AsyncSession, week: str, end: datetime,
                                mentor_names: dict[int, str]) -> AsyncIterator[list[AtRisk]]:
    """A stored week's at-risk list in at_risk's order, a partition of rows at a time: the dropping scores
    with their names and open nudge ladders joined and sorted in SQL (nothing held per participant).

    _at_risk_order in two queries: those the ladder brought to the coordinator (few; longest first), then
    everyone else by score, read along the (week, score) index: rows come as each score's few are sorted by
    name, not after all 48,000 at 100,000 participants are."""
    scores, ladders = ParticipationScore, _ladders_query(end).subquery()
    connection = await session.connection()
    name: Any = func.coalesce(Person.name, "?")
    sorted_name = name.collate("C") if connection.dialect.name == "postgresql" else name  # Python's str order
    query = (select(scores.participant_id, name, scores.cohort, scores.mentor_id, scores.score,
                    type_coerce(scores.reasons, String), ladders.c.since, func.coalesce(ladders.c.escalated, 0))
             .outerjoin(Person, Person.id == scores.participant_id)
             .outerjoin(ladders, ladders.c.participant_id == scores.participant_id)
             .where(scores.week == week, scores.is_dropping.is_(True)))
    escalated = ladders.c.escalated == 1
    cohorts: dict[str, str] = {}  # the few cohort names shared by the rows kept
    decoded: dict[str, list[str]] = {}  # reasons repeat (two rows in three at 100k): decoded once while kept
    for part in (query.where(escalated).order_by(ladders.c.since, sorted_name, scores.participant_id),
                 query.where(or_(ladders.c.escalated.is_(None), ~escalated))
                 .order_by(scores.score, sorted_name, scores.participant_id)):
        result = await connection.stream(part.execution_options(yield_per=STREAM_ROWS))
        try:
            async for rows in result.partitions():
                found = []
                for pid, person, cohort, mentor_id, score, said, since, top in rows:
                    if said.__class__ is str:
                        listed = decoded.get(said)
                        if listed is None:
                            if len(decoded) >= REASONS_KEPT:
                                decoded.clear()
                            listed = decoded[said] = json.loads(said)
                    else:  # None, or asyncpg's own decoding
                        listed = list(said or ())
                    found.append(AtRisk(pid, person, cohorts.setdefault(cohort, cohort), mentor_id,
                                        mentor_names.get(mentor_id or 0, "-"), score, listed, as_utc(since), bool(top)))
                yield found
        finally:
            await result.close()


def _ladders_query(end: datetime) -> Select[Any]:
    """(participant_id, since, escalated) of the nudge ladders open at `end`: the rows still open read by
    the index on resolved_at (two ranges, not the whole year of ladders)."""
    escalated = case((NudgeLog.step == NudgeStep.COORDINATOR, 1), else_=0).label("escalated")
    steps = union_all(
        select(NudgeLog.participant_id, NudgeLog.sent_at, escalated)
        .where(NudgeLog.resolved_at.is_(None), NudgeLog.sent_at < end),
        select(NudgeLog.participant_id, NudgeLog.sent_at, escalated)
        .where(NudgeLog.resolved_at >= end, NudgeLog.sent_at < end)).subquery()
    return (select(steps.c.participant_id, func.min(steps.c.sent_at).label("since"),
                   func.max(steps.c.escalated).label("escalated"))
            .group_by(steps.c.participant_id))


async def _ladders(session: AsyncSession, end: datetime) -> dict[int, tuple[datetime | None, bool]]:
    """Open nudge ladders at `end`: participant id -> (since, reached the coordinator)."""
    return {pid: (as_utc(since), bool(top)) for pid, since, top in (await session.execute(_ladders_query(end)))}


def _at_risk_order(found: list[AtRisk]) -> list[AtRisk]:
    """Those the nudge ladder brought to the coordinator first (longest first), then the lowest scores."""
    return sorted(found, key=lambda r: (not r.escalated, r.since.timestamp() if r.escalated and r.since else r.score,
                                        r.name))
