"""Sessions and attendance as a grid, tugas with their submissions: what `sesi`, `tugas` and `tinjau` show
in chat, for the sessions and tugas the viewer manages (the chat's audience rules)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, func, select
from starlette.responses import Response

from bot.console.months import chosen_month, month_choices
from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.activities.assignment_review import (
    WAITING,
    awaits_verdict,
    return_for_revision,
    reviewable,
    submission_step,
)
from handlers.activities.assignments import STATUS_KEYS as TUGAS_KEYS
from handlers.activities.attendance import STATUS_KEYS as ATTENDANCE_KEYS
from handlers.activities.audience import can_manage, cohorts_of, is_in_audience, managed_clause
from handlers.kernel.dates import (
    format_day_month,
    format_moment,
)
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, MANAGERS
from handlers.reports.rekap import month_period
from storage.models import (
    Assignment,
    Attendance,
    Meeting,
    Person,
    Role,
    Submission,
    SubmissionStatus,
)

GRID_COLUMNS = 31  # sessions of one month shown as columns (a phone scrolls sideways)


def participants_clause(viewer: Person, cohort: str = "") -> list[ColumnElement[bool]]:
    """Active participants the viewer oversees (`oversees` in SQL), optionally of one cohort."""
    conditions = [Person.role == Role.PESERTA, Person.is_active.is_(True), Person.erased_at.is_(None)]
    if viewer.role not in COORDINATORS:
        conditions.append(Person.mentor_id == viewer.id)
    if cohort:
        conditions.append(Person.cohort == cohort)
    return conditions


def audience_of(target: Meeting | Assignment) -> ColumnElement[bool]:
    """SQL twin of is_in_audience: the participants a session or tugas is for."""
    if target.mentor_id is not None:
        return Person.mentor_id == target.mentor_id
    return and_(Person.cohort == target.cohort, Person.cohort != "")


class ActivityPages:
    """GET /console/sesi (grid), /console/tugas, /console/tugas/{id}."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/sesi", self.sessions, MANAGERS),
                ("GET", "/tugas", self.assignments, MANAGERS),
                ("GET", "/tugas/{assignment_id}", self.assignment, MANAGERS),
                ("POST", "/tugas/{assignment_id}/nilai", self.review, MANAGERS)]

    def _day(self, visit: Visit, moment: datetime) -> str:
        return format_day_month(moment.astimezone(visit.config.timezone).date(), visit.lang)

    # ------------------------------------------------------------------ sessions

    async def sessions(self, visit: Visit) -> Response:
        """A month's sessions (columns) × one page of participants (rows), each cell their presensi."""
        params = visit.request.query_params
        month = chosen_month(visit)
        cohorts = await cohorts_of(visit.db, visit.me)
        cohort = params.get("cohort", "")[:100]
        cohort = cohort if cohort in cohorts else ""
        period = month_period(month, visit.config)
        meetings = list((await visit.db.execute(
            select(Meeting).where(managed_clause(Meeting, visit.me, cohorts), Meeting.is_cancelled.is_(False),
                                  Meeting.starts_at >= period.start, Meeting.starts_at < period.end,
                                  *([Meeting.cohort.in_(["", cohort])] if cohort else []))
            .order_by(Meeting.starts_at, Meeting.id).limit(GRID_COLUMNS + 1))).scalars())
        more = len(meetings) > GRID_COLUMNS
        meetings = meetings[:GRID_COLUMNS]
        conditions = participants_clause(visit.me, cohort)
        total = int((await visit.db.execute(select(func.count()).select_from(Person).where(*conditions))).scalar_one())
        paging = Paging(page_number(visit), total)
        people = list((await visit.db.execute(select(Person).where(*conditions).order_by(Person.name, Person.id)
                                              .limit(paging.size).offset(paging.offset))).scalars())
        marks = {(row.meeting_id, row.participant_id): row.status for row in (await visit.db.execute(
            select(Attendance).where(Attendance.meeting_id.in_([m.id for m in meetings]),
                                     Attendance.participant_id.in_([p.id for p in people])))).scalars()}
        grid = [(person, [self._cell(visit, marks, meeting, person) for meeting in meetings]) for person in people]
        columns = [(meeting, self._day(visit, meeting.starts_at)) for meeting in meetings]
        return self.pages.render(
            visit, "sesi.html", month=month, months=month_choices(visit), cohorts=cohorts, cohort=cohort,
            columns=columns, grid=grid, more=more, total=total, page=paging.page, pages=paging.pages,
            link=lambda page: f"{PREFIX}/sesi?" + urlencode({"bulan": month, "cohort": cohort, "halaman": page}))

    def _cell(self, visit: Visit, marks: dict[tuple[int, int], str], meeting: Meeting,
              person: Person) -> tuple[str, str]:
        """(css class, word): the status, "–" when not recorded, empty when the session is not theirs."""
        if not is_in_audience(person, meeting):
            return ("none", "")
        status = marks.get((meeting.id, person.id))
        if status is None:
            return ("open" if meeting.ends_at > visit.now else "missing", "–")
        return (status, visit.text(ATTENDANCE_KEYS[status]))

    # ------------------------------------------------------------------ tugas

    async def assignments(self, visit: Visit) -> Response:
        """The tugas this person manages, newest due first, with how many of their participants sent it."""
        cohorts = await cohorts_of(visit.db, visit.me)
        clause = managed_clause(Assignment, visit.me, cohorts)
        total = int((await visit.db.execute(select(func.count()).select_from(Assignment).where(clause))).scalar_one())
        paging = Paging(page_number(visit), total, size=20)
        found = list((await visit.db.execute(select(Assignment).where(clause)
                                             .order_by(Assignment.due_at.desc(), Assignment.id.desc())
                                             .limit(paging.size).offset(paging.offset))).scalars())
        rows = [(assignment, *await self._tally(visit, assignment)) for assignment in found]
        return self.pages.render(
            visit, "tugas.html", rows=rows, total=total, page=paging.page, pages=paging.pages,
            due=lambda assignment: format_moment(assignment.due_at, visit.config.timezone, visit.lang),
            link=lambda page: f"{PREFIX}/tugas?" + urlencode({"halaman": page}))

    async def _tally(self, visit: Visit, assignment: Assignment) -> tuple[int, int, int]:
        """(participants, sent, accepted) among those the viewer oversees."""
        who = [*participants_clause(visit.me), audience_of(assignment)]
        people = int((await visit.db.execute(select(func.count()).select_from(Person).where(*who))).scalar_one())
        sent, accepted = (await visit.db.execute(
            select(func.count(func.distinct(Submission.participant_id)),
                   func.count(func.distinct(Submission.participant_id)).filter(Submission.status == SubmissionStatus.DITERIMA))
            .join(Person, Person.id == Submission.participant_id)
            .where(Submission.assignment_id == assignment.id, *who))).one()
        return people, int(sent), int(accepted)

    async def _assignment(self, visit: Visit) -> Assignment:
        number = record_id(str(visit.request.path_params["assignment_id"]))
        assignment = await visit.db.get(Assignment, number) if number is not None else None
        if assignment is None:
            raise Refused("web.not_found", status=404)
        if not await can_manage(visit.db, visit.me, assignment):  # the chat's own check
            raise Refused("web.refused_not_yours")
        return assignment

    async def assignment(self, visit: Visit, status: int = 200) -> Response:
        """One tugas: each participant (one page) with their latest submission and its review."""
        assignment = await self._assignment(visit)
        who = [*participants_clause(visit.me), audience_of(assignment)]
        total = int((await visit.db.execute(select(func.count()).select_from(Person).where(*who))).scalar_one())
        paging = Paging(page_number(visit), total)
        people = list((await visit.db.execute(select(Person).where(*who).order_by(Person.name, Person.id)
                                              .limit(paging.size).offset(paging.offset))).scalars())
        latest: dict[int, Submission] = {}
        for submission in (await visit.db.execute(
                select(Submission).where(Submission.assignment_id == assignment.id,
                                         Submission.participant_id.in_([p.id for p in people]))
                .order_by(Submission.version))).scalars():
            latest[submission.participant_id] = submission  # the newest version wins
        rows: list[tuple[Person, Submission | None, str]] = [
            (person, latest.get(person.id), self._status(visit, latest.get(person.id))) for person in people]
        return self.pages.render(
            visit, "tugas_detail.html", status=status, assignment=assignment, rows=rows, total=total, page=paging.page,
            waiting=WAITING,
            pages=paging.pages, stamp=lambda moment: format_moment(moment, visit.config.timezone, visit.lang),
            link=lambda page: f"{PREFIX}/tugas/{assignment.id}?" + urlencode({"halaman": page}))

    async def review(self, visit: Visit) -> Response:
        """Accept, or return with a note, the latest version, as `tinjau` does (the participant is told)."""
        assignment = await self._assignment(visit)
        verdict, comment = visit.field("keputusan"), visit.field("catatan")
        number = record_id(visit.field("submission"))
        if verdict not in ("terima", "revisi") or number is None:
            raise Refused("desk.decision_unknown", status=400)
        ctx = visit.chat_context()
        found = await reviewable(ctx, number)  # the participant must be one this person oversees
        if found is not None and found[2].id != assignment.id:
            raise Refused("web.not_found", status=404)
        if found is not None and verdict == "terima":
            await submission_step(ctx, "ok", number)
        elif found is not None and not comment:
            ctx.reply("tgs.comment_hint")
        elif found is not None and await awaits_verdict(ctx, *found):
            return_for_revision(ctx, *found, comment)
        await visit.finish_chat(ctx)
        return await self.assignment(visit)

    @staticmethod
    def _status(visit: Visit, submission: Submission | None) -> str:
        return visit.text(TUGAS_KEYS[submission.status]) if submission else visit.text("tgs.status_belum")
