"""`klinik session add|list` and `klinik tugas add|list`: programme activities from the command line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import load_settings
from handlers.activities.assignment_form import announce_assignment, create_assignment
from handlers.activities.dates import (
    format_moment,
    format_span,
    parse_clock,
    parse_day,
    parse_moment,
)
from handlers.activities.session_form import announce_meeting, create_meeting
from handlers.kernel.config import Config
from handlers.kernel.outbox import enqueue_all
from handlers.kernel.phones import normalize_phone
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Assignment, Attendance, Meeting, Person, Role, Submission

T = TypeVar("T")


class InputError(Exception):
    """A command-line value that cannot be used; the message says which and why."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik session` and `klinik tugas`."""
    session = subparsers.add_parser("session", help="sessions (pertemuan): add and list")
    session_sub = session.add_subparsers(dest="session_command", required=True)
    add = session_sub.add_parser("add", help="create a session and announce it to its participants")
    _audience_arguments(add)
    add.add_argument("--title", required=True)
    add.add_argument("--date", required=True, help="2026-03-12, 12/3, 12-03-2026, besok, senin")
    add.add_argument("--start", required=True, help="09.00 or 09:00")
    add.add_argument("--end", required=True, help="11.00 or 11:00")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--place", help="address or room")
    where.add_argument("--link", help="online meeting link")
    add.set_defaults(func=cmd_session_add)
    session_sub.add_parser("list", help="sessions of the last week and ahead").set_defaults(func=cmd_session_list)
    tugas = subparsers.add_parser("tugas", help="assignments: add and list")
    tugas_sub = tugas.add_subparsers(dest="tugas_command", required=True)
    add_tugas = tugas_sub.add_parser("add", help="create a tugas and announce it to its participants")
    _audience_arguments(add_tugas)
    add_tugas.add_argument("--title", required=True)
    add_tugas.add_argument("--description", required=True)
    add_tugas.add_argument("--due", required=True, help='"2026-03-12 17:00", "12/3 17.00", "jumat" (23.59)')
    add_tugas.add_argument("--cutoff", help="final deadline, same forms as --due")
    add_tugas.set_defaults(func=cmd_tugas_add)
    tugas_sub.add_parser("list", help="tugas of the last month and ahead").set_defaults(func=cmd_tugas_list)


def _audience_arguments(parser: argparse.ArgumentParser) -> None:
    audience = parser.add_mutually_exclusive_group(required=True)
    audience.add_argument("--cohort", help="angkatan name as in the roster")
    audience.add_argument("--mentor-phone", help="the mentor whose group (kelompok) it is for")


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


async def _audience(session: AsyncSession, args: argparse.Namespace) -> tuple[str, int | None]:
    """(cohort, mentor_id) from --cohort or --mentor-phone, checked against the roster."""
    if args.mentor_phone:
        try:
            phone = normalize_phone(args.mentor_phone)
        except ValueError as error:
            raise InputError(f"Nomor pendamping tidak valid: {args.mentor_phone}") from error
        mentor = (await session.execute(select(Person).where(Person.phone == phone,
                                                             Person.role == Role.PENDAMPING))).scalar_one_or_none()
        if mentor is None:
            raise InputError(f"Tidak ada pendamping dengan nomor {phone}.")
        return "", mentor.id
    count = await session.scalar(select(func.count()).select_from(Person).where(
        Person.role == Role.PESERTA, Person.cohort == args.cohort))
    if not count:
        raise InputError(f"Angkatan {args.cohort!r} tidak punya peserta di roster.")
    return args.cohort, None


def _day(text: str, config: Config, now: datetime) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        day = parse_day(text, now.astimezone(config.timezone).date())
    if day is None:
        raise InputError(f"Tanggal tidak terbaca: {text!r} (contoh: 2026-03-12, 12/3, besok)")
    return day


def _clock(text: str) -> time:
    clock = parse_clock(text)
    if clock is None:
        raise InputError(f"Jam tidak terbaca: {text!r} (contoh: 09.00)")
    return clock


def _moment(text: str, config: Config, now: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=config.timezone)
    except ValueError:
        moment = parse_moment(text, now, config.timezone, time(23, 59))
    if moment is None:
        raise InputError(f"Waktu tidak terbaca: {text!r} (contoh: \"2026-03-12 17:00\", \"12/3 17.00\")")
    return moment


def cmd_session_add(args: argparse.Namespace) -> int:
    """Create a session, announce it, print its check-in code."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> str:
        cohort, mentor_id = await _audience(session, args)
        day = _day(args.date, config, now)
        starts_at = datetime.combine(day, _clock(args.start), tzinfo=config.timezone)
        ends_at = datetime.combine(day, _clock(args.end), tzinfo=config.timezone)
        if ends_at <= starts_at or starts_at <= now:
            raise InputError("Jam selesai harus setelah jam mulai, dan sesi belum boleh lewat.")
        meeting = await create_meeting(session, title=args.title, cohort=cohort, mentor_id=mentor_id,
                                       starts_at=starts_at, ends_at=ends_at, place=args.place or "",
                                       link=args.link or "", created_by_id=None, now=now, config=config)
        messages = await announce_meeting(session, meeting, config)
        await enqueue_all(session, messages, now, config)
        return (f"Sesi #{meeting.id} disimpan: {meeting.title}, "
                f"{format_span(starts_at, ends_at, config.timezone, config.language)}. "
                f"Kode presensi: {meeting.checkin_code}. Diumumkan ke {len(messages)} peserta.")

    return _report(lambda: _run(work, write=True))


def cmd_session_list(_args: argparse.Namespace) -> int:
    """Print sessions from a week ago on, with code and attendance count."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> list[str]:
        query = (select(Meeting, func.count(Attendance.id)).outerjoin(Attendance, Attendance.meeting_id == Meeting.id)
                 .where(Meeting.ends_at >= now - timedelta(days=7)).group_by(Meeting.id).order_by(Meeting.starts_at))
        return [f"#{m.id}  {format_span(m.starts_at, m.ends_at, config.timezone, config.language)}  {m.title}  "
                f"[{m.cohort or f'kelompok #{m.mentor_id}'}]  kode {m.checkin_code}  presensi {count}"
                for m, count in await session.execute(query)]

    lines = _run(work, write=False)
    print("\n".join(lines) or "Belum ada sesi.")
    return 0


def cmd_tugas_add(args: argparse.Namespace) -> int:
    """Create a tugas and announce it."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> str:
        cohort, mentor_id = await _audience(session, args)
        due_at = _moment(args.due, config, now)
        cutoff_at = _moment(args.cutoff, config, now) if args.cutoff else None
        if due_at <= now or (cutoff_at is not None and cutoff_at <= due_at):
            raise InputError("Tenggat harus di masa depan, dan batas akhir setelah tenggat.")
        assignment = await create_assignment(session, title=args.title, description=args.description, cohort=cohort,
                                             mentor_id=mentor_id, due_at=due_at, cutoff_at=cutoff_at,
                                             created_by_id=None, now=now)
        messages = await announce_assignment(session, assignment, config)
        await enqueue_all(session, messages, now, config)
        return (f"Tugas #{assignment.id} disimpan: {assignment.title}, tenggat "
                f"{format_moment(due_at, config.timezone, config.language)}. Diumumkan ke {len(messages)} peserta.")

    return _report(lambda: _run(work, write=True))


def cmd_tugas_list(_args: argparse.Namespace) -> int:
    """Print tugas due from a month ago on, with how many participants submitted."""
    async def work(session: AsyncSession, config: Config, now: datetime) -> list[str]:
        query = (select(Assignment, func.count(func.distinct(Submission.participant_id)))
                 .outerjoin(Submission, Submission.assignment_id == Assignment.id)
                 .where(Assignment.due_at >= now - timedelta(days=30)).group_by(Assignment.id)
                 .order_by(Assignment.due_at))
        return [f"#{a.id}  tenggat {format_moment(a.due_at, config.timezone, config.language)}  {a.title}  "
                f"[{a.cohort or f'kelompok #{a.mentor_id}'}]  terkumpul {count}"
                for a, count in await session.execute(query)]

    lines = _run(work, write=False)
    print("\n".join(lines) or "Belum ada tugas.")
    return 0


def _report(action: Callable[[], str]) -> int:
    try:
        print(action())
    except InputError as error:
        print(error)
        return 2
    return 0
