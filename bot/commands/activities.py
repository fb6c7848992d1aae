"""`klinik session add|list` and `klinik tugas add|list`: programme activities from the command line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers.activities.assignment_form import announce_assignment, create_assignment
from handlers.activities.session_form import announce_meeting, create_meeting
from handlers.kernel.config import Config
from handlers.kernel.dates import (
    format_moment,
    format_span,
    parse_clock,
    parse_day,
    parse_moment,
)
from handlers.kernel.i18n import t
from handlers.kernel.outbox import enqueue_all
from handlers.kernel.phones import normalize_phone
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Assignment, Attendance, Meeting, Person, Role, Submission

T = TypeVar("T")


class InputError(Exception):
    """A command-line value that cannot be used; the message says which and why."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik session` and `klinik tugas`."""
    session = subparsers.add_parser("session", help=help_text("cli.help_session"))
    session_sub = session.add_subparsers(dest="session_command", required=True)
    add = session_sub.add_parser("add", help=help_text("cli.help_session_add"))
    _audience_arguments(add)
    add.add_argument("--title", required=True, help=help_text("cli.help_session_title"))
    add.add_argument("--date", required=True, help=help_text("cli.help_session_date"))
    add.add_argument("--start", required=True, help=help_text("cli.help_session_start"))
    add.add_argument("--end", required=True, help=help_text("cli.help_session_end"))
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--place", help=help_text("cli.help_session_place"))
    where.add_argument("--link", help=help_text("cli.help_session_link"))
    add.set_defaults(func=cmd_session_add)
    session_sub.add_parser("list", help=help_text("cli.help_session_list")).set_defaults(func=cmd_session_list)
    tugas = subparsers.add_parser("tugas", help=help_text("cli.help_tugas"))
    tugas_sub = tugas.add_subparsers(dest="tugas_command", required=True)
    add_tugas = tugas_sub.add_parser("add", help=help_text("cli.help_tugas_add"))
    _audience_arguments(add_tugas)
    add_tugas.add_argument("--title", required=True, help=help_text("cli.help_tugas_title"))
    add_tugas.add_argument("--description", required=True, help=help_text("cli.help_tugas_description"))
    add_tugas.add_argument("--due", required=True, help=help_text("cli.help_tugas_due"))
    add_tugas.add_argument("--cutoff", help=help_text("cli.help_tugas_cutoff"))
    add_tugas.set_defaults(func=cmd_tugas_add)
    tugas_sub.add_parser("list", help=help_text("cli.help_tugas_list")).set_defaults(func=cmd_tugas_list)


def _audience_arguments(parser: argparse.ArgumentParser) -> None:
    audience = parser.add_mutually_exclusive_group(required=True)
    audience.add_argument("--cohort", help=help_text("cli.help_cohort"))
    audience.add_argument("--mentor-phone", help=help_text("cli.help_mentor_phone"))


def _run(work: Callable[[AsyncSession, Config, datetime], Awaitable[T]], *, write: bool) -> T:
    settings = load_settings()
    config = settings.handler_config()

    async def main() -> T:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            sessions = make_sessionmaker(engine)
            async with sessions.begin() if write else sessions() as session:
                return await work(session, config, datetime.now(UTC))
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def _audience(session: AsyncSession, args: argparse.Namespace, language: str) -> tuple[str, int | None]:
    """(cohort, mentor_id) from --cohort or --mentor-phone, checked against the roster."""
    if args.mentor_phone:
        try:
            phone = normalize_phone(args.mentor_phone)
        except ValueError as error:
            raise InputError(t("cli.mentor_phone_invalid", language, phone=args.mentor_phone)) from error
        mentor = (await session.execute(select(Person).where(Person.phone == phone,
                                                             Person.role == Role.PENDAMPING))).scalar_one_or_none()
        if mentor is None:
            raise InputError(t("cli.mentor_unknown", language, phone=phone))
        return "", mentor.id
    count = await session.scalar(select(func.count()).select_from(Person).where(
        Person.role == Role.PESERTA, Person.cohort == args.cohort))
    if not count:
        raise InputError(t("cli.cohort_empty", language, cohort=args.cohort))
    return args.cohort, None


def _day(text: str, config: Config, now: datetime) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        day = parse_day(text, now.astimezone(config.timezone).date())
    if day is None:
        raise InputError(t("cli.date_unreadable", config.language, text=text))
    return day


def _clock(text: str, language: str) -> time:
    clock = parse_clock(text)
    if clock is None:
        raise InputError(t("cli.clock_unreadable", language, text=text))
    return clock


def _moment(text: str, config: Config, now: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=config.timezone)
    except ValueError:
        moment = parse_moment(text, now, config.timezone, time(23, 59))
    if moment is None:
        raise InputError(t("cli.moment_unreadable", config.language, text=text))
    return moment


def cmd_session_add(args: argparse.Namespace) -> int:
    """Create a session, announce it, print its check-in code."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> str:
        cohort, mentor_id = await _audience(session, args, config.language)
        day = _day(args.date, config, now)
        starts_at = datetime.combine(day, _clock(args.start, config.language), tzinfo=config.timezone)
        ends_at = datetime.combine(day, _clock(args.end, config.language), tzinfo=config.timezone)
        if ends_at <= starts_at or starts_at <= now:
            raise InputError(t("cli.session_times", config.language))
        meeting = await create_meeting(session, title=args.title, cohort=cohort, mentor_id=mentor_id,
                                       starts_at=starts_at, ends_at=ends_at, place=args.place or "",
                                       link=args.link or "", created_by_id=None, now=now, config=config)
        messages = await announce_meeting(session, meeting, config)
        await enqueue_all(session, messages, now, config)
        return t("cli.session_saved", config.language, id=meeting.id, title=meeting.title,
                 when=format_span(starts_at, ends_at, config.timezone, config.language),
                 code=meeting.checkin_code, count=len(messages))

    return _report(lambda: _run(work, write=True))


def cmd_session_list(_args: argparse.Namespace) -> int:
    """Print sessions from a week ago on, with code and attendance count."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> list[str]:
        query = (select(Meeting, func.count(Attendance.id)).outerjoin(Attendance, Attendance.meeting_id == Meeting.id)
                 .where(Meeting.ends_at >= now - timedelta(days=7)).group_by(Meeting.id).order_by(Meeting.starts_at))
        lines = [t("cli.session_line", config.language, id=m.id, title=m.title, code=m.checkin_code, count=count,
                   when=format_span(m.starts_at, m.ends_at, config.timezone, config.language),
                   audience=m.cohort or t("cli.group", config.language, mentor=m.mentor_id))
                 for m, count in await session.execute(query)]
        return lines or [t("cli.no_sessions", config.language)]

    print("\n".join(_run(work, write=False)))
    return 0


def cmd_tugas_add(args: argparse.Namespace) -> int:
    """Create a tugas and announce it."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> str:
        cohort, mentor_id = await _audience(session, args, config.language)
        due_at = _moment(args.due, config, now)
        cutoff_at = _moment(args.cutoff, config, now) if args.cutoff else None
        if due_at <= now or (cutoff_at is not None and cutoff_at <= due_at):
            raise InputError(t("cli.tugas_times", config.language))
        assignment = await create_assignment(session, title=args.title, description=args.description, cohort=cohort,
                                             mentor_id=mentor_id, due_at=due_at, cutoff_at=cutoff_at,
                                             created_by_id=None, now=now)
        messages = await announce_assignment(session, assignment, config)
        await enqueue_all(session, messages, now, config)
        return t("cli.tugas_saved", config.language, id=assignment.id, title=assignment.title,
                 due=format_moment(due_at, config.timezone, config.language), count=len(messages))

    return _report(lambda: _run(work, write=True))


def cmd_tugas_list(_args: argparse.Namespace) -> int:
    """Print tugas due from a month ago on, with how many participants submitted."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> list[str]:
        query = (select(Assignment, func.count(func.distinct(Submission.participant_id)))
                 .outerjoin(Submission, Submission.assignment_id == Assignment.id)
                 .where(Assignment.due_at >= now - timedelta(days=30)).group_by(Assignment.id)
                 .order_by(Assignment.due_at))
        lines = [t("cli.tugas_line", config.language, id=a.id, title=a.title, count=count,
                   due=format_moment(a.due_at, config.timezone, config.language),
                   audience=a.cohort or t("cli.group", config.language, mentor=a.mentor_id))
                 for a, count in await session.execute(query)]
        return lines or [t("cli.no_tugas", config.language)]

    print("\n".join(_run(work, write=False)))
    return 0


def _report(action: Callable[[], str]) -> int:
    try:
        print(action())
    except InputError as error:
        print(error)  # already in the configured language
        return 2
    return 0
