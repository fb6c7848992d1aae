"""Weekly digests: coordinators get the programme's figures (text, chart, workbook), mentors their group.

Every Monday 07:00 (ReportsRules.digest_weekday/digest_time) for the week just ended, once (JobRun);
on demand with `ringkasan [2026-W10]` for the week so far (handlers/reports/summaries.py, figured by a
background job), and `klinik digest` on the command line.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import delete, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from handlers.activities.report_views import latest_report_month, report_roll, report_roll_query
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticket_figures import mentor_ratings
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.job_runs import already_ran, is_quiet, load_people, record_run, weekly_moment
from handlers.kernel.messages import Attachment, Channel, Outgoing
from handlers.participation.scores import (
    RECORD_COLUMNS,
    SCORES_TABLE,
    Score,
    keep_week_facts,
    scan_scores,
    shift_week,
    week_bounds,
    week_of,
)
from handlers.reports import figures
from handlers.reports.chart_process import Painter
from handlers.reports.outcomes import programme_outcomes
from handlers.reports.render import (
    at_risk_row,
    chart_figures,
    coordinator_text,
    has_chart,
    mentor_text,
    write_workbook,
)
from handlers.reports.rules import ReportsRules
from handlers.reports.shapes import Digest, MentorSummary
from handlers.reports.targets import target_progress
from handlers.reports.xlsx import RowsXml
from storage.bulk import insert_records
from storage.models import MediaLink, ParticipationScore, Person, Role

JOB_ID = "weekly_digest"
SCORES_JOB_ID = "weekly_scores"  # the week's scores stored as it closes (close_week)
T = TypeVar("T")
TREND_WEEKS, TREND_COHORTS = 8, 4  # weeks of the active trend; cohort lines beside the programme's
# Slipping participants named in a mentor's summary (a phone screen): the first of each mentor's share that
# figures.AtRiskList keeps (one number, so the two cannot part).
SUMMARY_NAMES = figures.AT_RISK_FIRST
SIDE_CACHE_KIB = -256  # SQLite page cache of a side connection (negative: KiB)
STORE_BATCH = 2000  # stored score rows written per insert while the scores stream
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class WeekScores:
    """What the digest keeps of a week's scores: sums by cohort and mentor, the dropping, counts per mentor.

    A closed week's are summed in SQL from the scores stored when it closed (_sum_stored): no dropping are
    held then; stored_digest streams them from the stored scores (figures.stored_at_risk)."""

    grouping: figures.Grouping
    dropping: list[Score] = field(default_factory=list)
    by_mentor: dict[int, list[int]] = field(default_factory=dict)  # mentor id: [participants, active]
    participants: int = 0

    def add(self, score: Score) -> None:
        """Count one score in (in participant order, as compute_scores returns them)."""
        self.grouping.add(score)
        self.participants += 1
        if score.is_dropping:
            self.dropping.append(score)
        if score.mentor_id is not None:
            counts = self.by_mentor.setdefault(score.mentor_id, [0, 0])
            counts[0] += 1
            counts[1] += score.is_active


async def week_scores(session: AsyncSession, week: str, now: datetime, config: Config) -> WeekScores:
    """An empty WeekScores for the week: the mentors' names and the month's report roll, read once."""
    end = min(week_bounds(week, config.timezone)[1], now)
    names = await figures.mentor_names(session)
    reports = await report_roll(session, latest_report_month(end, config), end, config)
    return WeekScores(figures.Grouping(names, reports))


async def score_and_store(session: AsyncSession, week: str, now: datetime, config: Config,
                          summed: WeekScores | None = None) -> int:
    """Score every participant for the week as they stream from one query, storing the rows a batch at a
    time (a rerun overwrites, never duplicates) and summing them into `summed` if given: no list of
    100,000 scores or records is held. Returns the participants scored."""
    await session.execute(delete(ParticipationScore).where(ParticipationScore.week == week))
    batch: list[tuple[object, ...]] = []
    scored = 0
    async for score in scan_scores(session, week, now, config, explain_all=True):
        scored += 1
        if summed is not None:
            summed.add(score)
        batch.append(score.as_record(week, now))
        if len(batch) >= STORE_BATCH:
            await insert_records(session, SCORES_TABLE, RECORD_COLUMNS, batch)
            batch = []
    await insert_records(session, SCORES_TABLE, RECORD_COLUMNS, batch)
    await keep_week_facts(session, week, config)
    record_run(session, SCORES_JOB_ID, week, now, {"participants": scored})
    return scored


async def close_week(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: once a week has ended (the first tick after Monday 00:00), score and store it, once.

    The week's scores are facts of a closed week: stored as it closes, the Monday digest (and the day's nudge
    scan, which compares against them) read them instead of scoring 100,000 participants at 07:00."""
    week = shift_week(week_of(now, config.timezone), -1)
    if await already_ran(session, SCORES_JOB_ID, week):
        return []
    stored = select(ParticipationScore.id).where(ParticipationScore.week == week).limit(1)
    if (await session.execute(stored)).first() is not None:
        # Stored by its digest before this job existed: kept as it is (scored again days later, the week would
        # count what people did after it), and read like a week this job closed.
        record_run(session, SCORES_JOB_ID, week, now, {"already_stored": True})
        return []
    await score_and_store(session, week, now, config)
    return []


async def _sum_stored(session: AsyncSession, week: str, names: dict[int, str], now: datetime,
                      config: Config) -> WeekScores:
    """A closed week's figures summed in SQL from the scores stored when it closed (stored_digest's)."""
    end = min(week_bounds(week, config.timezone)[1], now)
    grouping = figures.Grouping(names, {})
    summed = WeekScores(grouping)
    roll = report_roll_query(latest_report_month(end, config), end, config)
    for cohort, mentor_id, _first, *counts in await figures.stored_groups(session, week, roll):
        grouping.add_counts(cohort, mentor_id, tuple(counts))
        summed.participants += counts[0]
        if mentor_id is not None:
            pair = summed.by_mentor.setdefault(mentor_id, [0, 0])
            pair[0] += counts[0]
            pair[1] += counts[1]
    return summed


async def stored_digest(session: AsyncSession, week: str, now: datetime, config: Config,
                        figured: Callable[[Digest], object] | None = None) -> tuple[WeekScores, Digest] | None:
    """The digest of a week closed and stored (close_week), None if it was not: the stored scores are summed
    (and the at-risk list streamed) on connections of their own while every other figure is read.

    figured: called with the digest as soon as every figure but the at-risk list is in (the chart needs
    none of it: send_weekly_digests draws it while the list streams)."""
    if not await already_ran(session, SCORES_JOB_ID, week):
        return None
    names = await figures.mentor_names(session)
    end = min(week_bounds(week, config.timezone)[1], now)
    return await _figure(session, week, _read_apart(session, lambda side: _sum_stored(side, week, names, now, config)),
                         _read_apart(session, lambda side: _stored_at_risk(side, week, end, names)), now, config,
                         figured)


async def build_digest(session: AsyncSession, week: str, scores: Iterable[Score], now: datetime,
                       config: Config) -> Digest:
    """Sum the week's scores by cohort and mentor and add tickets, answers, at-risk, trends, targets and outcomes."""
    summed = await week_scores(session, week, now, config)
    for score in scores:
        summed.add(score)
    return await digest_of(session, week, summed, now, config)


async def digest_of(session: AsyncSession, week: str, summed: WeekScores, now: datetime, config: Config) -> Digest:
    """The digest from a running week's summed scores (a closed week's is stored_digest's): tickets, answers,
    at-risk, trends, targets and outcomes added."""
    end = min(week_bounds(week, config.timezone)[1], now)
    names = summed.grouping.mentor_names
    at_risk = _read_apart(session, lambda side: _held_at_risk(side, end, summed.dropping, names))
    return (await _figure(session, week, _ready(summed), at_risk, now, config))[1]


async def _stored_at_risk(session: AsyncSession, week: str, end: datetime,
                          names: dict[int, str]) -> figures.AtRiskList:
    """A stored week's at-risk list, its rows written as the workbook's (xlsx.RowsXml, in a worker thread) as
    they stream in order from the database: one pass, none held (tens of thousands at 100,000 participants)."""
    written = RowsXml()
    try:
        found = await figures.stored_at_risk(session, week, end, names,
                                             lambda rows: asyncio.to_thread(written.add, map(at_risk_row, rows)))
    except BaseException:
        written.close()
        raise
    found.written = written
    return found


async def _ready(value: T) -> T:
    return value


async def _held_at_risk(session: AsyncSession, end: datetime, dropping: list[Score],
                        names: dict[int, str]) -> figures.AtRiskList:
    return figures.AtRiskList(held=await figures.at_risk(session, end, dropping, names))


async def _figure(session: AsyncSession, week: str, summed: Awaitable[WeekScores],
                  at_risk: Awaitable[figures.AtRiskList], now: datetime, config: Config,
                  figured: Callable[[Digest], object] | None = None) -> tuple[WeekScores, Digest]:
    """The digest: the at-risk list read beside every other figure (and `figured` called before it is in)."""
    listed = asyncio.ensure_future(at_risk)
    try:
        scores, digest = await _figures(session, week, summed, now, config)
        if figured is not None:
            figured(digest)
        digest.at_risk = await listed
    except BaseException:
        listed.cancel()
        with suppress(BaseException):
            (await listed).close()
        raise
    return scores, digest


async def _figures(session: AsyncSession, week: str, summed: Awaitable[WeekScores], now: datetime,
                   config: Config) -> tuple[WeekScores, Digest]:
    start, week_end = week_bounds(week, config.timezone)
    end = min(week_end, now)
    weeks = [shift_week(week, -n) for n in range(TREND_WEEKS - 1, -1, -1)]
    bounds = [(week_bounds(w, config.timezone)[0], min(week_bounds(w, config.timezone)[1], end)) for w in weeks]
    # The heaviest figures read only what is committed (reports, presensi, earlier weeks' scores, nudges,
    # names): on connections of their own they run while this session does the rest (SQLite and PostgreSQL
    # work in their own threads or server, so two cores are used).
    apart = asyncio.gather(
        _read_apart(session, lambda side: programme_outcomes(side, end, config)),
        _read_apart(session, lambda side: target_progress(side, end, config)),
        _read_apart(session, lambda side: figures.active_by_week(side, weeks[:-1])),
        _read_apart(session, lambda side: figures.risk_by_week(side, bounds)),
        summed)
    try:
        previous = await figures.previous_active(session, shift_week(week, -1))
        open_tickets = await figures.open_tickets_by_mentor(session)
        answers = await figures.first_responses(session, start, end, config)
        ratings = await mentor_ratings(session, since=start, until=end)
        ticket_ages = await figures.unanswered_by_age(session, end)
    finally:
        outcomes, targets, stored, risk_trend, scores = await apart
    total, cohorts, mentors = scores.grouping.result()
    total.previous_active_pct, by_cohort, by_mentor = previous
    for group in cohorts:
        group.previous_active_pct = by_cohort.get(group.key)
    for mentor in mentors:
        mentor.previous_active_pct = by_mentor.get(mentor.key)
        mid = int(mentor.key)
        mentor.open_tickets = open_tickets.get(mid, (0, None))[0]
        mentor.response_hours = answers.hours.get(mid, [])
        if mid in ratings:
            mentor.rating_average, mentor.ratings = ratings[mid].average, ratings[mid].count
    hours = [h for m in mentors for h in m.response_hours]
    rated = [(m.rating_average or 0.0, m.ratings) for m in mentors if m.ratings]
    return scores, Digest(
        week=week, start=start, end=end, is_partial=end < week_end, total=total, cohorts=cohorts, mentors=mentors,
        at_risk=figures.AtRiskList(), ticket_ages=ticket_ages,  # the list follows (_figure)
        response_median=round(statistics.median(hours), 1) if hours else None,
        rating_average=round(sum(a * n for a, n in rated) / sum(n for _, n in rated), 2) if rated else None,
        targets=targets, weeks=weeks, active_trend=_active_trend(stored, weeks, total, cohorts, config.language),
        risk_trend=risk_trend, answers=(answers.on_time, answers.late, answers.waiting), outcomes=outcomes,
        deadline_hours=config.rules(ConsultationRules).sla_remind_hours, open_tickets=open_tickets)


async def _read_apart(session: AsyncSession, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run a read-only query on a connection of its own (the session's engine); inline when there is none."""
    async with _apart(session) as side:
        return await read(side)


@asynccontextmanager
async def _apart(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session of its own on the session's engine, for reads of what is committed (the session if none)."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        yield session
        return
    async with AsyncSession(engine) as side:
        if engine.dialect.name != "sqlite":
            yield side
            return
        # Several of these run at once: each with SQLite's default 2 MB page cache they held ≈11 MB more of the
        # bot's memory at 100,000 participants, for no gain in time (the pages stay in the OS's cache).
        default = (await side.execute(text("PRAGMA cache_size"))).scalar_one()
        await side.execute(text(f"PRAGMA cache_size={SIDE_CACHE_KIB}"))
        try:
            yield side
        finally:
            await side.execute(text(f"PRAGMA cache_size={int(default)}"))


def _active_trend(stored: dict[str, dict[str, tuple[int, int]]], weeks: list[str], total: figures.GroupFigures,
                  cohorts: list[figures.GroupFigures], language: str) -> list[tuple[str, list[float | None]]]:
    """Active % over the weeks: the programme, then every cohort (or the weakest few of many)."""
    shown = sorted(cohorts, key=lambda g: (g.active_pct if g.active_pct is not None else 101, g.label))[:TREND_COHORTS]
    lines: list[tuple[str, list[float | None]]] = []
    for label, key, now in ((t("out.chart_everyone", language), None, total),
                            *((g.label, g.key, g) for g in sorted(shown, key=lambda g: g.label))):
        values: list[float | None] = []
        for week in weeks[:-1]:
            counts = list(stored[week].values()) if key is None else [stored[week].get(key, (0, 0))]
            values.append(figures.percent(sum(a for a, _ in counts), sum(n for _, n in counts)))
        lines.append((label, [*values, now.active_pct]))
    return lines


async def mentor_summaries(session: AsyncSession, week: str, scores: Iterable[Score] | WeekScores,
                           at_risk: list[figures.AtRisk] | figures.AtRiskList,
                           open_tickets: dict[int, tuple[int, datetime | None]] | None = None) -> dict[int, MentorSummary]:
    """Each mentor's summary from the week's scores, their share of the at-risk list, and their queues
    (open_tickets: figures.open_tickets_by_mentor's, if already read)."""
    counts = scores.by_mentor if isinstance(scores, WeekScores) else _mentor_counts(scores)
    summaries: dict[int, MentorSummary] = {}
    for mentor_id, (participants, active) in counts.items():
        summary = summaries[mentor_id] = MentorSummary(mentor_id, week)
        summary.participants, summary.active = participants, active
    shares = at_risk if isinstance(at_risk, figures.AtRiskList) else figures.AtRiskList(held=at_risk)
    for mentor_id, (slipping_count, slipping) in shares.mentors.items():
        summary = summaries.setdefault(mentor_id, MentorSummary(mentor_id, week))
        summary.slipping_count, summary.slipping = slipping_count, slipping[:SUMMARY_NAMES]
    await _add_queues(session, summaries, week, open_tickets)
    return summaries


def _mentor_counts(scores: Iterable[Score]) -> dict[int, list[int]]:
    counts: dict[int, list[int]] = {}
    for score in scores:
        if score.mentor_id is not None:
            pair = counts.setdefault(score.mentor_id, [0, 0])
            pair[0] += 1
            pair[1] += score.is_active
    return counts


async def at_risk_of(session: AsyncSession, week: str, scores: list[Score], now: datetime,
                     config: Config) -> list[figures.AtRisk]:
    """The week's at-risk list (up to now for a running week), for the digest and the mentors' summaries."""
    end = min(week_bounds(week, config.timezone)[1], now)
    return await figures.at_risk(session, end, scores, await figures.mentor_names(session))


async def _add_queues(session: AsyncSession, summaries: dict[int, MentorSummary], week: str,
                      tickets: dict[int, tuple[int, datetime | None]] | None) -> None:
    if tickets is None:
        tickets = await figures.open_tickets_by_mentor(session)
    reviews, leaves = await figures.reviews_waiting(session), await figures.leave_requests_waiting(session)
    for mentor_id in set(tickets) | set(reviews) | set(leaves):
        summaries.setdefault(mentor_id, MentorSummary(mentor_id, week))
    for mentor_id, summary in summaries.items():
        summary.open_tickets, summary.oldest_ticket = tickets.get(mentor_id, (0, None))
        summary.reviews, summary.leave_requests = reviews.get(mentor_id, 0), leaves.get(mentor_id, 0)


@dataclass(frozen=True)
class MediaFile:
    """A file written under an unguessable name, to serve as `media:<token>` once linked (link_media)."""

    token: str
    path: Path
    kind: str
    mime: str
    name: str


async def save_media(session: AsyncSession, *, kind: str, suffix: str, mime: str, name: str, now: datetime,
                     config: Config, write: Callable[[Path], None]) -> Attachment:
    """Write a file under an unguessable name and serve it as `media:<token>` until it expires."""
    return link_media(session, await write_media(kind=kind, suffix=suffix, mime=mime, name=name, config=config,
                                                 write=write), now, config)


async def write_media(*, kind: str, suffix: str, mime: str, name: str, config: Config,
                      write: Callable[[Path], None]) -> MediaFile:
    """Write a file under an unguessable name (a worker thread; no session needed)."""
    token = secrets.token_urlsafe(24)
    path = await asyncio.to_thread(_write_file, Path(config.media_dir), f"{token}{suffix}", write)
    return MediaFile(token, path, kind, mime, name)


def link_media(session: AsyncSession, file: MediaFile, now: datetime, config: Config) -> Attachment:
    """Serve a written file as `media:<token>` until it expires."""
    session.add(MediaLink(token=file.token, source="file", ref=str(file.path), mime=file.mime, name=file.name,
                          created_at=now, expires_at=now + timedelta(days=config.media_ttl_days)))
    # The file is ours: every channel fetches `media:` refs from the media table, whatever `channel` says.
    return Attachment(kind=file.kind, ref=f"media:{file.token}", channel=Channel.WHATSAPP, mime=file.mime,
                      name=file.name)


def _write_file(folder: Path, name: str, write: Callable[[Path], None]) -> Path:
    path = folder.absolute() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)
    return path


async def coordinator_messages(session: AsyncSession, digest: Digest, coordinators: list[Person],
                               now: datetime, config: Config, painter: Painter | None = None,
                               chart: Awaitable[MediaFile | None] | None = None) -> list[Outgoing]:
    """The digest text with the chart, then the workbook, for each coordinator (files made once).

    painter: a chart process started ahead, else one is started here if needed; chart: the picture already
    being drawn (chart_file, send_weekly_digests)."""
    if not coordinators:
        return []
    language = config.language
    # The picture is drawn by a child process while this one writes the workbook (two cores, and matplotlib
    # never enters the bot's memory: chart_process).
    own = None
    if chart is None:
        chart = chart_file(digest, painter or (own := Painter()), config)
    try:
        written = await asyncio.gather(
            write_media(kind="document", suffix=".xlsx", mime=XLSX, name=f"ringkasan-{digest.week}.xlsx",
                        config=config, write=lambda path: write_workbook(digest, path, language)), chart)
    finally:
        if own is not None:
            await asyncio.to_thread(own.close)
    book, *charts = [link_media(session, file, now, config) for file in written if file is not None]
    out = []
    for person in coordinators:
        lang = person.language or language
        out.append(Outgoing(text=coordinator_text(digest, config, lang), person_id=person.id,
                            attachments=tuple(charts), ref=f"digest:{digest.week}"))
        out.append(Outgoing(text=t("part.digest_workbook", lang), person_id=person.id, attachments=(book,),
                            ref=f"digest:{digest.week}"))
    return out


async def chart_file(digest: Digest, painter: Painter, config: Config) -> MediaFile | None:
    """The digest picture drawn by the chart process into a file; None for a week with nothing to draw (no
    empty picture is sent)."""
    language = config.language
    if not has_chart(digest, language):
        return None
    return await write_media(kind="photo", suffix=".png", mime="image/png", name=f"ringkasan-{digest.week}.png",
                             config=config, write=lambda path: draw_chart(painter, digest, path, language))


async def _drop_chart(chart: asyncio.Future[MediaFile | None] | None, painter: Painter | None) -> None:
    """After a failure: the picture's process stopped and its file, if drawn, removed (it was never linked)."""
    if chart is None:
        return
    if painter is not None:
        await asyncio.to_thread(painter.close)  # a drawing still waited for ends here
    with suppress(BaseException):
        drawn = await chart
        if drawn is not None:
            drawn.path.unlink(missing_ok=True)


def draw_chart(painter: Painter, digest: Digest, path: Path, language: str) -> None:
    """The digest picture (render.write_chart's) drawn by the chart process (blocking: a worker thread)."""
    painter.draw(chart_figures(digest, language), path, language)


async def send_weekly_digests(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: once the week's digest time has passed (not in quiet hours), report last week once."""
    rules = config.rules(ReportsRules)
    if is_quiet(now, config) or now < weekly_moment(now, rules.digest_weekday, rules.digest_time, config):
        return []
    week = shift_week(week_of(now, config.timezone), -1)
    if await already_ran(session, JOB_ID, week):
        return []
    coordinators = await staff(session, Role.KOORDINATOR)
    # The chart process imports matplotlib while the figures are read, and draws as soon as they are in,
    # while the at-risk list still streams; the mentors' queues are read while the files are written.
    painter = Painter() if coordinators else None
    chart: asyncio.Future[MediaFile | None] | None = None

    def figured(digest: Digest) -> None:
        nonlocal chart
        if painter is not None:
            chart = asyncio.ensure_future(chart_file(digest, painter, config))

    try:
        found = await stored_digest(session, week, now, config, figured)
        if found is None:  # not closed (the bot was down at midnight): scored and stored now
            scores = await week_scores(session, week, now, config)
            await score_and_store(session, week, now, config, scores)
            digest = await digest_of(session, week, scores, now, config)
        else:
            scores, digest = found
        try:
            out, summaries = await asyncio.gather(
                coordinator_messages(session, digest, coordinators, now, config, painter, chart),
                _read_apart(session, lambda side: mentor_summaries(side, week, scores, digest.at_risk,
                                                                   digest.open_tickets)))
        finally:
            digest.at_risk.close()
    except BaseException:
        await _drop_chart(chart, painter)
        raise
    finally:
        if painter is not None:
            await asyncio.to_thread(painter.close)
    mentors = await load_people(session, list(summaries))
    for mentor_id, summary in summaries.items():
        mentor = mentors.get(mentor_id)
        if mentor is not None and mentor.is_active and mentor.role == Role.PENDAMPING:
            out.append(Outgoing(text=mentor_text(summary, now, config, mentor.language or config.language),
                                person_id=mentor_id, ref=f"summary:{week}"))
    await purge_expired_media(session, now)
    record_run(session, JOB_ID, week, now, {"coordinators": len(coordinators), "mentors": len(summaries),
                                            "participants": scores.participants, "at_risk": len(digest.at_risk)})
    return out


async def staff(session: AsyncSession, role: Role) -> list[Person]:
    """Active people of a role, by id."""
    query = select(Person).where(Person.role == role, Person.is_active.is_(True)).order_by(Person.id)
    return list((await session.execute(query)).scalars())


async def purge_expired_media(session: AsyncSession, now: datetime) -> None:
    """Delete expired digest, rekap and kinerja files and their links (only files this package wrote)."""
    query = select(MediaLink.token, MediaLink.ref).where(
        MediaLink.source == "file", MediaLink.expires_at <= now,
        or_(MediaLink.name.like("ringkasan-%"), MediaLink.name.like("rekap-%"), MediaLink.name.like("kinerja-%")))
    expired = (await session.execute(query)).all()
    if expired:
        await asyncio.to_thread(_remove_files, [ref for _token, ref in expired])
        await session.execute(delete(MediaLink).where(MediaLink.token.in_([token for token, _ in expired])))


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)
