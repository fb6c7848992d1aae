"""The nudge ladder: a friendly nudge, then the mentor, then the coordinator's at-risk list.

A ladder starts when a participant's score shows a drop and none is open; it is keyed by the ISO
week it started in, so a participant gets at most one nudge per week even if the job runs twice.
Any message from the participant after the nudge closes the ladder; so does a recovered score.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.cohorts import is_current, is_served, local_day
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.job_runs import already_ran, is_due_today, is_quiet, load_people, record_run
from handlers.kernel.messages import Outgoing
from handlers.participation.queries import is_participant
from handlers.participation.rules import ParticipationRules
from handlers.participation.scores import (
    Needed,
    Score,
    month_name,
    report_month_due,
    scan_scores,
    week_bounds,
    week_of,
)
from storage.models import NudgeLog, NudgeStep, Person

JOB_ID = "participation_nudges"
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Rung:
    """A ladder step already taken."""

    id: int
    participant_id: int
    period: str
    step: str
    sent_at: datetime


async def run_nudge_ladder(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Daily job body: score everyone, climb the ladders; nothing in quiet hours or twice a day."""
    if is_quiet(now, config) or not is_due_today(now, config.rules(ParticipationRules).nudge_time, config):
        return []
    period = now.astimezone(config.timezone).date().isoformat()
    if await already_ran(session, JOB_ID, period):
        return []
    week = week_of(now, config.timezone)
    ladders = await open_ladders(session)
    scan = await scan_participants(session, week, now, config, set(ladders))
    out, counts = await climb_ladders(session, scan, ladders, week, now, config)
    record_run(session, JOB_ID, period, now, counts | {"participants": scan.participants})
    return out


@dataclass
class Scan:
    """What the daily scan keeps of 100,000 scores: those with an open ladder, and the lowest newly dropping."""

    with_ladder: dict[int, Score]
    candidates: list[Score]  # dropping, no open ladder, not nudged this week: lowest scores first, at most the cap
    participants: int


async def scan_participants(session: AsyncSession, week: str, now: datetime, config: Config,
                            open_ids: set[int]) -> Scan:
    """Score in SQL, select there who the ladders need, score those exactly here (memory and time stay flat)."""
    # Scores are stored once a week, by the digest job, for the finished week; daily ones are not kept.
    served = is_served(local_day(now, config.timezone))  # alumni and paused cohorts get no nudge
    nudged_query = select(NudgeLog.participant_id).where(NudgeLog.period == week, NudgeLog.step == NudgeStep.NUDGE)
    nudged = set((await session.execute(nudged_query)).scalars())
    cap = config.rules(ParticipationRules).nudge_max_per_run
    needed = Needed(keep=select(NudgeLog.participant_id).where(NudgeLog.resolved_at.is_(None)), skip=nudged_query,
                    lowest=cap)
    with_ladder: dict[int, Score] = {}
    lowest: list[tuple[float, int, Score]] = []  # a max-heap (negated) of the `cap` lowest scores
    async for score in scan_scores(session, week, now, config, scope=served, needed=needed):
        pid = score.participant_id
        if pid in open_ids:
            with_ladder[pid] = score
        elif score.is_dropping and pid not in nudged:
            entry = (-score.score, -pid, score)
            if len(lowest) < cap:
                heapq.heappush(lowest, entry)
            elif entry > lowest[0]:
                heapq.heapreplace(lowest, entry)
    candidates = sorted((entry[2] for entry in lowest), key=lambda s: (s.score, s.participant_id))
    return Scan(with_ladder, candidates, await count_scored(session, week, now, config, served))


async def count_scored(session: AsyncSession, week: str, now: datetime, config: Config,
                       scope: ColumnElement[bool]) -> int:
    """How many participants the scan weighed (the job's record)."""
    current = is_current(local_day(week_bounds(week, config.timezone)[0], config.timezone))
    query = select(func.count()).select_from(Person).where(is_participant(and_(current, scope)))
    return int((await session.execute(query)).scalar_one())


async def climb_ladders(session: AsyncSession, scan: Scan, ladders: dict[int, dict[str, Rung]], week: str,
                        now: datetime, config: Config) -> tuple[list[Outgoing], dict[str, int]]:
    """Close ladders of people who wrote or recovered, escalate the rest, start new ones."""
    by_id = scan.with_ladder
    last_inbound = await _last_inbound(session, list(ladders))
    closed, to_mentor, to_coordinator = [], [], []
    for pid, rungs in ladders.items():
        period = next(iter(rungs.values())).period
        step = next_step(rungs, by_id.get(pid), last_inbound.get(pid), now, config)
        if step in ("replied", "inactive", "recovered"):
            closed.append((pid, period, step))
        elif step == NudgeStep.MENTOR:
            to_mentor.append((by_id[pid], period))
        elif step == NudgeStep.COORDINATOR:
            to_coordinator.append((by_id[pid], period))
    await close_ladders(session, closed, now)
    out = await tell_mentors(session, to_mentor, now, config)
    for score, period in to_coordinator:
        log_step(session, score, period, NudgeStep.COORDINATOR, now)
    nudges = await start_ladders(session, scan.candidates, week, now, config)
    counts = {"nudged": len(nudges), "mentor_alerts": len(to_mentor), "at_risk": len(to_coordinator),
              "closed": len(closed)}
    return nudges + out, counts


def next_step(rungs: dict[str, Rung], score: Score | None, last_inbound_at: datetime | None, now: datetime,
              config: Config) -> str | None:
    """What an open ladder needs today: closing (and why), the next rung, or nothing yet."""
    first = rungs.get(NudgeStep.NUDGE) or min(rungs.values(), key=lambda r: r.sent_at)
    mentor = rungs.get(NudgeStep.MENTOR)
    if last_inbound_at is not None and last_inbound_at > first.sent_at:
        return "replied"
    if score is None:
        return "inactive"  # left the programme or the roster
    if not score.is_dropping:
        return "recovered"
    if mentor is None and now - first.sent_at >= timedelta(days=config.rules(ParticipationRules).nudge_response_days):
        return NudgeStep.MENTOR
    if (mentor is not None and NudgeStep.COORDINATOR not in rungs
            and now - mentor.sent_at >= timedelta(days=config.rules(ParticipationRules).nudge_mentor_days)):
        return NudgeStep.COORDINATOR
    return None


async def open_ladders(session: AsyncSession) -> dict[int, dict[str, Rung]]:
    """Steps of every unresolved ladder, by participant and step."""
    query = select(NudgeLog.id, NudgeLog.participant_id, NudgeLog.period, NudgeLog.step,
                   NudgeLog.sent_at).where(NudgeLog.resolved_at.is_(None))
    ladders: dict[int, dict[str, Rung]] = defaultdict(dict)
    for row in (await session.execute(query)):
        rung = Rung(*row)
        ladders[rung.participant_id][rung.step] = rung
    return dict(ladders)


async def _last_inbound(session: AsyncSession, ids: list[int]) -> dict[int, datetime | None]:
    found: dict[int, datetime | None] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(Person.id, Person.last_inbound_at).where(Person.id.in_(ids[start:start + CHUNK]))
        found.update((await session.execute(query)).all())
    return found


async def close_ladders(session: AsyncSession, closed: list[tuple[int, str, str]], now: datetime) -> None:
    """Mark every open step of these participants resolved, with why (one open ladder each)."""
    by_resolution: dict[str, list[int]] = defaultdict(list)
    for pid, _period, resolution in closed:
        by_resolution[resolution].append(pid)
    for resolution, ids in by_resolution.items():
        for start in range(0, len(ids), CHUNK):
            await session.execute(
                update(NudgeLog).where(NudgeLog.participant_id.in_(ids[start:start + CHUNK]),
                                       NudgeLog.resolved_at.is_(None))
                .values(resolved_at=now, resolution=resolution).execution_options(synchronize_session=False))


def log_step(session: AsyncSession, score: Score, period: str, step: str, now: datetime) -> None:
    """Record a step; the unique key refuses a second one for the same ladder."""
    session.add(NudgeLog(participant_id=score.participant_id, period=period, step=step, sent_at=now,
                         reasons=score.reasons))


async def start_ladders(session: AsyncSession, chosen: list[Score], week: str, now: datetime,
                        config: Config) -> list[Outgoing]:
    """Nudge those newly dropping (lowest scores first, within the daily cap: Scan.candidates), once a week."""
    people = await load_people(session, [s.participant_id for s in chosen])
    out = []
    for score in chosen:
        person = people.get(score.participant_id)
        if person is None or not person.consent_given:
            continue
        log_step(session, score, week, NudgeStep.NUDGE, now)
        out.append(nudge_message(person, score, now, config))
    return out


def pending_items(score: Score, now: datetime, config: Config, language: str) -> list[str]:
    """What the participant can do now, in their words: tugas, the report, the next session."""
    items = []
    if score.tugas_missing:
        items.append(t("part.pending_tugas", language, n=score.tugas_missing))
    if score.report_sent is False:
        month, _ = report_month_due(now, config)
        items.append(t("part.pending_report", language, month=month_name(month, language)))
    if score.alpa_streak or score.sessions_alpa:
        items.append(t("part.pending_session", language))
    return items


def nudge_message(person: Person, score: Score, now: datetime, config: Config) -> Outgoing:
    """A friendly personal nudge naming what is pending; a template outside WhatsApp's 24-hour window."""
    language = person.language or config.language
    first_name = person.name.split()[0] if person.name else ""
    items = pending_items(score, now, config, language)
    pending = "\n".join(f"• {item}" for item in items)
    key = "part.nudge" if items else "part.nudge_quiet"
    text = t(key, language, name=first_name, programme=config.programme_name, pending=pending)
    summary = ", ".join(items) or t("part.nudge_template_none", language)
    return Outgoing(text=text, person_id=person.id, template="nudge",
                    template_vars={"1": first_name, "2": summary}, ref=f"nudge:{person.id}")


async def tell_mentors(session: AsyncSession, escalated: list[tuple[Score, str]], now: datetime,
                       config: Config) -> list[Outgoing]:
    """One message per mentor listing their participants who did not answer the nudge."""
    people = await load_people(session, [s.participant_id for s, _ in escalated]
                               + [s.mentor_id for s, _ in escalated if s.mentor_id])
    by_mentor: dict[int, list[Score]] = defaultdict(list)
    for score, period in escalated:
        log_step(session, score, period, NudgeStep.MENTOR, now)
        if score.mentor_id is None or score.mentor_id not in people:
            log_step(session, score, period, NudgeStep.COORDINATOR, now)  # nobody else to tell
            continue
        by_mentor[score.mentor_id].append(score)
    out = []
    for mentor_id, group in by_mentor.items():
        mentor = people[mentor_id]
        language = mentor.language or config.language
        lines = [t("part.mentor_alert_line", language, name=people[s.participant_id].name,
                   reasons="; ".join(s.reasons) or "-") for s in group]
        out.append(Outgoing(text=t("part.mentor_alert", language, days=config.rules(ParticipationRules).nudge_response_days,
                                   lines="\n".join(lines)), person_id=mentor.id, ref="nudge:mentor"))
    return out
