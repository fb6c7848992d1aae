"""Participation records: weekly scores, the nudge ladder, job runs, targets and the scheduler lease.

A participant's agency (OPD) is the roster's extra column `instansi` (or `opd`, `agency`) kept in
Person.extra; it is matched to Agency.code or Agency.name without regard to case.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    case,
    or_,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import Executable

from storage.base import Base
from storage.people import Person

WEEK_NAME = re.compile(r"^\d{4}-W\d{2}$")  # only ISO week names reach the backfill SQL

# Audiences of meetings and tugas are whole angkatan: the score queries join people by cohort.
Index("ix_people_cohort", Person.cohort)


class ParticipationScore(Base):
    """One participant's score for one ISO week ("2026-W10"), with its parts and reasons.

    mentor_id and cohort are copied at computation time, so a week stays attributed to the
    mentor who had the participant then, even after a reassignment. A derived snapshot rebuilt by
    the weekly job, so no foreign keys: checking two of them per row triples the time of the
    weekly insert of 100,000 rows on PostgreSQL.
    """

    __tablename__ = "participation_scores"
    __table_args__ = (UniqueConstraint("week", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    participant_id: Mapped[int]
    mentor_id: Mapped[int | None]
    cohort: Mapped[str] = mapped_column(String(100), default="")
    score: Mapped[float] = mapped_column(Float)
    is_active: Mapped[bool] = mapped_column(default=False)
    is_dropping: Mapped[bool] = mapped_column(default=False)
    sessions_expected: Mapped[int] = mapped_column(default=0)
    sessions_hadir: Mapped[int] = mapped_column(default=0)
    sessions_terlambat: Mapped[int] = mapped_column(default=0)
    sessions_izin: Mapped[int] = mapped_column(default=0)
    sessions_alpa: Mapped[int] = mapped_column(default=0)
    alpa_streak: Mapped[int] = mapped_column(default=0)
    tugas_due: Mapped[int] = mapped_column(default=0)
    tugas_on_time: Mapped[int] = mapped_column(default=0)
    tugas_missing: Mapped[int] = mapped_column(default=0)
    report_sent: Mapped[bool | None]
    questions: Mapped[int] = mapped_column(default=0)
    silent_days: Mapped[int] = mapped_column(default=0)
    nudges_ignored: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    computed_at: Mapped[datetime]


class ParticipationWeekGroup(Base):
    """Participants and active ones per stored week, cohort and mentor (0: none), kept when a week's scores
    are stored (handlers.participation.scores.keep_week_facts): the digest's trends read these few thousand
    rows instead of 100,000 scores a week. A week without rows here is counted from the scores."""

    __tablename__ = "participation_week_groups"

    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    cohort: Mapped[str] = mapped_column(String(100), primary_key=True)
    mentor_key: Mapped[int] = mapped_column(primary_key=True)
    active: Mapped[int]
    participants: Mapped[int]
    # The rest of the digest's sums (kept since migration 0034; NULL in rows kept before: summed from the scores).
    first_participant: Mapped[int | None]  # the group's lowest participant id (the order groups are met in)
    sessions_expected: Mapped[int | None]
    sessions_present: Mapped[int | None]  # hadir or terlambat
    tugas_due: Mapped[int | None]
    tugas_on_time: Mapped[int | None]
    score_tenths: Mapped[int | None]  # the scores' sum, each rounded to a tenth, in tenths


class ParticipantBaseline(Base):
    """Each participant's average stored score over the `span` weeks before `week`, kept when a week's
    scores are stored (for the week after): the daily scan reads one row per participant instead of
    averaging 400,000 scores. Rows for another week or span are not used (the scores are averaged)."""

    __tablename__ = "participant_baselines"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    span: Mapped[int]
    average: Mapped[float] = mapped_column(Float)
    weeks: Mapped[int]


def week_groups_backfill() -> str:
    """SQL (SQLite and PostgreSQL) that counts every stored week's scores into participation_week_groups."""
    return ("INSERT INTO participation_week_groups (week, cohort, mentor_key, active, participants) "
            "SELECT week, cohort, COALESCE(mentor_id, 0), SUM(CASE WHEN is_active THEN 1 ELSE 0 END), COUNT(*) "
            "FROM participation_scores GROUP BY week, cohort, COALESCE(mentor_id, 0)")


def baselines_backfill(week: str, weeks: list[str]) -> str:
    """SQL that fills participant_baselines for `week` from the stored scores of `weeks` (ISO week names)."""
    names = ", ".join(f"'{name}'" for name in weeks if WEEK_NAME.match(name))
    return ("INSERT INTO participant_baselines (participant_id, week, span, average, weeks) "
            f"SELECT participant_id, '{week}', {len(weeks)}, AVG(score), COUNT(*) FROM participation_scores "
            f"WHERE week IN ({names}) GROUP BY participant_id")


class NudgeStep(StrEnum):
    """Rungs of the ladder: the participant, then their mentor, then the coordinator's list."""

    NUDGE = "nudge"
    MENTOR = "mentor"
    COORDINATOR = "coordinator"


class NudgeLog(Base):
    """A ladder step taken for a participant; `period` is the ISO week the ladder started.

    The unique key makes each step happen once per period even when the job runs twice;
    resolved_at closes the ladder (the participant wrote again, or recovered).
    """

    __tablename__ = "nudge_log"
    __table_args__ = (
        UniqueConstraint("participant_id", "period", "step"),
        Index("ix_nudge_log_open", "resolved_at", "step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    period: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(index=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))


class JobRun(Base):
    """A scheduled job done for a period ("2026-03-04", "2026-W10"): the run happens once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProgrammeTarget(Base):
    """How many residents a programme must train, and how many it trained before the bot."""

    __tablename__ = "programme_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    target_participants: Mapped[int] = mapped_column(default=0)
    trained_before: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class Agency(Base):
    """An agency (OPD) sharing the programme, with its own target and earlier figures."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme_targets.id"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    target_participants: Mapped[int] = mapped_column(default=0)
    trained_before: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class SchedulerLease(Base):
    """Who runs the scheduled jobs: the holder renews before expires_at or loses the lease."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


async def prefer_quick_plans(session: AsyncSession) -> None:
    """PostgreSQL, this transaction only: no JIT (compiling the weekly aggregates costs more than it
    saves) and enough sort memory for a month of presensi (the 4 MB default spills it to disk)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def acquire_lease(session: AsyncSession, holder: str, now: datetime, ttl: float,
                        *, name: str = "scheduler") -> bool:
    """Take or renew the lease for ttl seconds; False while another live holder has it.

    One conditional UPDATE decides atomically: PostgreSQL locks the row and re-checks the
    condition for a concurrent updater, SQLite has a single writer. The caller commits.
    """
    await session.execute(_insert_if_missing(session, name, now))
    taken = await session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name,
               or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now))
        .values(holder=holder, expires_at=now + timedelta(seconds=ttl),
                acquired_at=case((SchedulerLease.holder == holder, SchedulerLease.acquired_at), else_=now))
        .execution_options(synchronize_session=False))
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def _insert_if_missing(session: AsyncSession, name: str, now: datetime) -> Executable:
    values = {"name": name, "holder": "", "acquired_at": now, "expires_at": now}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(SchedulerLease).values(values).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(SchedulerLease).values(values).on_conflict_do_nothing()


async def lease_holder(session: AsyncSession, *, name: str = "scheduler") -> str | None:
    """Who holds (or last held) the lease."""
    lease = await session.get(SchedulerLease, name)
    return lease.holder if lease is not None else None


async def take_lease_from(session: AsyncSession, dead: str, holder: str, now: datetime, ttl: float,
                          *, name: str = "scheduler") -> bool:
    """Take the lease from a holder known to be dead, without waiting for it to expire."""
    taken = await session.execute(
        update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == dead)
        .values(holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False))
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, holder: str, now: datetime, *, name: str = "scheduler") -> None:
    """Give the lease up at shutdown so another process takes over at once."""
    await session.execute(
        update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now).execution_options(synchronize_session=False))
