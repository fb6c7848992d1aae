"""Synthetic programme for the job benchmark: people, a year of sessions, tugas, reports, tickets.

Rows are built as plain dicts and written with Core executemany (PostgreSQL: COPY), never as
ORM objects one by one. A fixed seed makes every run generate the same programme.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, text
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.participation.rules import ParticipationRules
from handlers.participation.scores import shift_week
from storage.activities import refresh_presensi_facts
from storage.bulk import bulk_insert
from storage.models import (
    Agency,
    Assignment,
    Attendance,
    LeaveRequest,
    Meeting,
    MonthlyReport,
    NudgeLog,
    OutcomeTarget,
    ParticipationScore,
    Person,
    ProgrammeTarget,
    Submission,
    Ticket,
    TicketRating,
)
from storage.outcomes import refresh_participant_outcomes, refresh_participant_presence
from storage.participation import (
    ParticipantBaseline,
    ParticipationWeekGroup,
    baselines_backfill,
    week_groups_backfill,
)

ZONE = ZoneInfo("Asia/Jakarta")
AGENCIES = ["Diskop UKM dan Naker", "Disperindag", "Disporapar", "DKPP", "Dinas Kelautan dan Perikanan", "DP3AP2KB"]
BATCH = 20_000


@dataclass(frozen=True)
class Shape:
    """How big the programme is and when its year ends."""

    participants: int
    mentors: int
    now: datetime
    score_weeks: int = 52
    seed: int = 7

    @property
    def per_mentor(self) -> int:
        """Participants per mentor's group."""
        return max(1, self.participants // self.mentors)

    @property
    def start(self) -> datetime:
        """A Monday a year before now."""
        day = (self.now - timedelta(days=364)).date()
        return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), tzinfo=ZONE)


class Generator:
    """Builds the programme in table order, streaming big tables in chunks."""

    def __init__(self, shape: Shape) -> None:
        self.shape, self.rng = shape, random.Random(shape.seed)
        n = shape.participants
        self.first_participant = shape.mentors + 6
        self.engagement = [self.rng.uniform(0.35, 1.0) for _ in range(n)]
        # One participant in twenty drops out in the last three weeks: the nudge scan has work to do.
        self.drops_at = [shape.now - timedelta(days=self.rng.randint(5, 21)) if self.rng.random() < 0.05 else None
                         for _ in range(n)]

    def pid(self, index: int) -> int:
        """Person id of the index-th participant."""
        return self.first_participant + index

    def mentor_of(self, index: int) -> int:
        """Mentor id (1-based) of the index-th participant."""
        return min(index // self.shape.per_mentor, self.shape.mentors - 1) + 1

    def cohort_of_mentor(self, mentor: int) -> str:
        """Twenty mentors make an angkatan."""
        return f"Angkatan {(mentor - 1) // 20 + 1}"

    def is_engaged(self, index: int, moment: datetime, p: float) -> bool:
        """A participant's chance of taking part at a moment (zero after they drop)."""
        dropped = self.drops_at[index]
        return (dropped is None or moment < dropped) and self.rng.random() < p * self.engagement[index]

    def people(self) -> list[dict[str, Any]]:
        """Mentors, coordinators, then participants with agency, channel and last message time."""
        s, rows = self.shape, []
        base = {"backup_mentor_id": None, "business_name": "", "sector": "", "district": "", "topics": "",
                "language": "id", "consent_given": True, "consent_at": s.start, "unreachable_reason": None,
                "is_active": True, "created_at": s.start, "updated_at": s.start, "telegram_user_id": None,
                "telegram_chat_id": None, "last_whatsapp_inbound_at": None, "mentor_id": None, "cohort": "",
                "extra": {}, "last_inbound_at": None, "preferred_channel": "telegram"}
        for m in range(1, s.mentors + 1):
            rows.append(base | {"id": m, "role": "pendamping", "name": f"Pendamping {m}", "phone": f"+62811{m:08d}",
                                "telegram_user_id": f"{m}", "telegram_chat_id": f"{m}"})
        for c in range(1, 6):
            rows.append(base | {"id": s.mentors + c, "role": "koordinator", "name": f"Koordinator {c}",
                                "phone": f"+62813{c:08d}", "telegram_user_id": f"k{c}", "telegram_chat_id": f"k{c}"})
        for i in range(s.participants):
            last = s.now - timedelta(hours=self.rng.expovariate(1 / (24 * 6 / self.engagement[i])))
            if self.drops_at[i] is not None:
                last = min(last, self.drops_at[i])  # type: ignore[type-var]
            mentor = self.mentor_of(i)
            rows.append(base | {"id": self.pid(i), "role": "peserta", "name": f"Peserta {i}", "phone": f"+62812{i:08d}",
                                "mentor_id": mentor, "cohort": self.cohort_of_mentor(mentor),
                                "extra": {"instansi": AGENCIES[i % len(AGENCIES)]}, "last_inbound_at": last,
                                "last_whatsapp_inbound_at": last, "preferred_channel": "whatsapp"})
        return rows

    def meetings(self) -> Iterator[tuple[dict[str, Any], list[int]]]:
        """A group session every other week per mentor, a cohort session every four weeks."""
        s, mid = self.shape, 0
        weeks = (s.now - s.start).days // 7 + 1
        for week in range(weeks):
            monday = s.start + timedelta(weeks=week)
            for mentor in range(1 + week % 2, s.mentors + 1, 2):
                mid += 1
                members = [i for i in range((mentor - 1) * s.per_mentor, mentor * s.per_mentor) if i < s.participants]
                yield self._meeting(mid, monday + timedelta(days=1 + mentor % 3, hours=10), mentor, ""), members
            if week % 4 == 0:
                for cohort_start in range(0, s.mentors, 20):
                    mid += 1
                    members = list(range(cohort_start * s.per_mentor, min(s.participants, (cohort_start + 20) * s.per_mentor)))
                    yield self._meeting(mid, monday + timedelta(days=3, hours=13), None,
                                        self.cohort_of_mentor(cohort_start + 1)), members

    def _meeting(self, mid: int, starts: datetime, mentor: int | None, cohort: str) -> dict[str, Any]:
        closes = starts + timedelta(hours=2)
        return {"id": mid, "title": "Pertemuan", "cohort": cohort, "mentor_id": mentor, "created_by_id": None,
                "starts_at": starts, "ends_at": starts + timedelta(hours=2), "place": "", "link": "",
                "checkin_code": "1234", "checkin_opens_at": starts - timedelta(minutes=30),
                "checkin_closes_at": closes, "late_after_at": starts + timedelta(minutes=15),
                "checkin_opened_by_id": None, "is_cancelled": False,
                # Closing a window (handlers.activities.attendance_jobs, every 5 minutes) writes alpa for the unrecorded.
                "checkin_closed_at": closes + timedelta(minutes=5) if closes < self.shape.now else None,
                "created_at": starts - timedelta(days=7)}

    def attendance(self, meeting: dict[str, Any], members: list[int]) -> Iterator[dict[str, Any]]:
        """Presensi for a held session: hadir, terlambat, izin/sakit or alpa (as the close job writes)."""
        starts = meeting["starts_at"]
        if starts + timedelta(hours=2) > self.shape.now:
            return
        for i in members:
            roll = self.rng.random()
            present = self.is_engaged(i, starts, 0.95)
            status = ("hadir" if roll < 0.85 else "terlambat") if present else ("izin" if roll < 0.1 else "alpa")
            yield {"meeting_id": meeting["id"], "participant_id": self.pid(i), "status": status, "source": "code",
                   "checked_in_at": starts if present else None, "recorded_by_id": None, "created_at": starts,
                   "updated_at": starts}

    def assignments(self) -> Iterator[tuple[dict[str, Any], list[int]]]:
        """A tugas per angkatan every other week, due Friday 23:00."""
        s, aid = self.shape, 0
        cohorts = range(0, s.mentors, 20)
        for week in range(0, (s.now - s.start).days // 7 + 1, 2):
            due = s.start + timedelta(weeks=week, days=4, hours=23)
            for cohort_start in cohorts:
                aid += 1
                members = list(range(cohort_start * s.per_mentor, min(s.participants, (cohort_start + 20) * s.per_mentor)))
                yield ({"id": aid, "title": "Tugas", "description": "", "cohort": self.cohort_of_mentor(cohort_start + 1),
                        "mentor_id": None, "created_by_id": None, "due_at": due, "cutoff_at": None,
                        "created_at": due - timedelta(days=7)}, members)

    def submissions(self, assignment: dict[str, Any], members: list[int]) -> Iterator[dict[str, Any]]:
        """Most engaged participants send on time; recent work waits for review."""
        due = assignment["due_at"]
        for i in members:
            sent = due - timedelta(hours=self.rng.uniform(-30, 90))
            if sent > self.shape.now or not self.is_engaged(i, sent, 0.9):
                continue
            reviewed = sent + timedelta(days=3) < self.shape.now
            yield {"assignment_id": assignment["id"], "participant_id": self.pid(i), "version": 1, "text": "",
                   "attachments": [], "status": "diterima" if reviewed else "terkirim", "is_late": sent > due,
                   "submitted_at": sent, "reviewed_by_id": self.mentor_of(i) if reviewed else None,
                   "reviewed_at": sent + timedelta(days=2) if reviewed else None, "review_comment": ""}

    def reports(self) -> Iterator[dict[str, Any]]:
        """Laporan bulanan sent between the 1st and the 5th of the next month."""
        s = self.shape
        month, k = s.start.replace(day=1), 0
        while month < s.now.replace(day=1):
            following = (month + timedelta(days=32)).replace(day=1)
            for i in range(s.participants):
                sent = following + timedelta(days=self.rng.uniform(0, 4.9))
                if sent < s.now and self.is_engaged(i, sent, 0.85):
                    # Omzet, workers and permits grow with the months (no random draw: the rest stays the same).
                    permits = [code for code, since in (("nib", i % 12), ("pirt", 6 if i % 4 == 0 else 99),
                                                        ("halal", 9 if i % 10 == 0 else 99)) if k >= since]
                    yield {"participant_id": self.pid(i), "month": month.strftime("%Y-%m"),
                           "omzet": 4_000_000 + 100_000 * k * (i % 5), "workers": 1 + k * (i % 3) // 6,
                           "customers": 40, "permits": permits, "main_problem": "", "form_step": "done",
                           "submitted_at": sent, "created_at": sent, "updated_at": sent}
            month, k = following, k + 1

    def tickets(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """About three questions per participant a year; most answered within two days, half rated."""
        s, tid = self.shape, 0
        for i in range(s.participants):
            for _ in range(self.rng.choice((0, 1, 2, 3, 4, 5, 6))):
                tid += 1
                created = s.start + timedelta(seconds=self.rng.uniform(0, (s.now - s.start).total_seconds()))
                answered = created + timedelta(hours=self.rng.expovariate(1 / 14))
                is_open = answered > s.now or self.rng.random() < 0.01
                ticket = {"id": tid, "participant_id": self.pid(i), "mentor_id": self.mentor_of(i),
                          "status": "open" if is_open else "closed", "topic": "lainnya", "created_at": created,
                          "last_message_at": created if is_open else answered,
                          "first_response_at": None if is_open else answered, "resolved_at": None,
                          "closed_by_id": None, "expert_id": None, "reassignments": 0, "escalations": 0,
                          "rating_requested_at": None}
                rating = None if is_open or self.rng.random() < 0.5 else {
                    "ticket_id": tid, "participant_id": self.pid(i), "mentor_id": self.mentor_of(i), "expert_id": None,
                    "score": self.rng.choice((3, 4, 4, 5, 5)), "comment": "", "rated_at": answered + timedelta(hours=1)}
                yield ticket, rating

    def scores(self, weeks: list[str]) -> Iterator[dict[str, Any]]:
        """Stored weekly scores of earlier weeks (the baseline the nudge scan compares against)."""
        for week in weeks:
            for i in range(self.shape.participants):
                value = round(min(100.0, max(0.0, self.rng.gauss(100 * self.engagement[i], 10))), 1)
                mentor = self.mentor_of(i)
                yield {"week": week, "participant_id": self.pid(i), "mentor_id": mentor,
                       "cohort": self.cohort_of_mentor(mentor), "score": value, "is_active": value > 50,
                       "is_dropping": value < 40, "sessions_expected": 1, "sessions_hadir": int(value > 50),
                       "sessions_terlambat": 0, "sessions_izin": 0, "sessions_alpa": int(value <= 50),
                       "alpa_streak": 0, "tugas_due": 1, "tugas_on_time": int(value > 60), "tugas_missing": 0,
                       "report_sent": value > 40, "questions": 0, "silent_days": 2, "nudges_ignored": 0,
                       "reasons": [], "computed_at": self.shape.now}

    def nudges(self, weeks: list[str], mondays: list[datetime]) -> Iterator[dict[str, Any]]:
        """A year of ladders: 2% of participants a week, half escalated, a quarter to the list."""
        for week, monday in zip(weeks, mondays, strict=True):
            is_recent = self.shape.now - monday < timedelta(days=14)
            for i in self.rng.sample(range(self.shape.participants), self.shape.participants // 50):
                steps = ["nudge"] + (["mentor"] if self.rng.random() < 0.5 else [])
                steps += ["coordinator"] if len(steps) == 2 and self.rng.random() < 0.5 else []
                for offset, step in enumerate(steps):
                    yield {"participant_id": self.pid(i), "period": week, "step": step,
                           "sent_at": monday + timedelta(days=1 + 2 * offset, hours=9), "reasons": [],
                           "resolved_at": None if is_recent else monday + timedelta(days=9),
                           "resolution": None if is_recent else "replied"}


async def generate(conn: AsyncConnection, shape: Shape, weeks: list[str], mondays: list[datetime]) -> dict[str, int]:
    """Write the whole programme; returns row counts per table."""
    g, counts = Generator(shape), {}

    async def put(table: Table, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH * 5:
                await bulk_insert(conn, table, batch)
                counts[table.name] = counts.get(table.name, 0) + len(batch)
                batch = []
        await bulk_insert(conn, table, batch)
        counts[table.name] = counts.get(table.name, 0) + len(batch)

    await put(Person.__table__, g.people())  # type: ignore[arg-type]
    meetings = list(g.meetings())
    await put(Meeting.__table__, [m for m, _ in meetings])  # type: ignore[arg-type]
    await put(Attendance.__table__, (row for m, members in meetings for row in g.attendance(m, members)))  # type: ignore[arg-type]
    await put(LeaveRequest.__table__, _leave_requests(g, meetings))  # type: ignore[arg-type]
    assignments = list(g.assignments())
    await put(Assignment.__table__, [a for a, _ in assignments])  # type: ignore[arg-type]
    await put(Submission.__table__, (row for a, members in assignments for row in g.submissions(a, members)))  # type: ignore[arg-type]
    await put(MonthlyReport.__table__, g.reports())  # type: ignore[arg-type]
    tickets = list(g.tickets())
    await put(Ticket.__table__, [t for t, _ in tickets])  # type: ignore[arg-type]
    await put(TicketRating.__table__, [r for _, r in tickets if r is not None])  # type: ignore[arg-type]
    await put(ParticipationScore.__table__, g.scores(weeks))  # type: ignore[arg-type]
    await put(NudgeLog.__table__, g.nudges(weeks, mondays))  # type: ignore[arg-type]
    await keep_facts(conn, weeks[-1] if weeks else None)
    for statement in refresh_presensi_facts():  # as migration 0028 backfills them and each write keeps them
        await conn.execute(statement)
    for statement in refresh_participant_outcomes():  # as migration 0030 backfills them and each report keeps them
        await conn.execute(statement)
    for statement in refresh_participant_presence():  # as migration 0031 backfills them and presensi keeps them
        await conn.execute(statement)
    await _targets(conn, shape)
    if conn.dialect.name == "postgresql":
        for table in ("people", "meetings", "assignments", "tickets"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    return counts


async def keep_facts(conn: AsyncConnection, latest: str | None) -> None:
    """The facts the weekly job keeps as it stores scores (as the migration backfills them): every week's
    group counts, and the baselines for the week after the latest stored one."""
    await conn.execute(delete(ParticipationWeekGroup))
    await conn.execute(delete(ParticipantBaseline))
    await conn.execute(text(week_groups_backfill()))
    if latest is not None:
        target = shift_week(latest, 1)
        span = ParticipationRules().nudge_baseline_weeks
        await conn.execute(text(baselines_backfill(target, [shift_week(target, -n) for n in range(1, span + 1)])))


def _leave_requests(g: Generator, meetings: list[tuple[dict[str, Any], list[int]]]) -> Iterator[dict[str, Any]]:
    """A few izin requests a week; the coming week's still wait for the mentor."""
    for meeting, members in meetings:
        for i in members[:: max(1, len(members) // 2)]:
            pending = meeting["starts_at"] > g.shape.now
            yield {"meeting_id": meeting["id"], "participant_id": g.pid(i), "kind": "izin", "reason": "",
                   "attachments": [], "status": "pending" if pending else "approved", "decided_by_id": None,
                   "decided_at": None, "created_at": meeting["starts_at"] - timedelta(days=1)}


async def _targets(conn: AsyncConnection, shape: Shape) -> None:
    await bulk_insert(conn, ProgrammeTarget.__table__, [  # type: ignore[arg-type]
        {"id": 1, "name": "WUB Pamekasan", "target_participants": 10_000 + shape.participants, "trained_before": 8_200,
         "note": "", "updated_at": shape.now}])
    await bulk_insert(conn, Agency.__table__, [  # type: ignore[arg-type]
        {"id": n + 1, "programme_id": 1, "code": f"OPD{n + 1}", "name": name, "target_participants": shape.participants // len(AGENCIES),
         "trained_before": 0, "updated_at": shape.now} for n, name in enumerate(AGENCIES)])
    outcomes = [("programme", "WUB Pamekasan", measure, value) for measure, value in
                (("nib", shape.participants), ("pirt", shape.participants // 4), ("halal", shape.participants // 10),
                 ("jobs", shape.participants), ("omzet", 30))]
    outcomes += [("agency", f"OPD{n + 1}", "nib", shape.participants // len(AGENCIES)) for n in range(len(AGENCIES))]
    await bulk_insert(conn, OutcomeTarget.__table__, [  # type: ignore[arg-type]
        {"scope": scope, "key": key, "measure": measure, "target": value, "updated_at": shape.now}
        for scope, key, measure, value in outcomes])
