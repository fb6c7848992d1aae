"""`klinik cuti add|list|cancel` (cover for an absent mentor) and `klinik kalender` (working days)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers.consultation.cover import (
    CoverError,
    CoverRequest,
    cancel_absence,
    current_and_coming,
    find_staff,
    leave_days,
    local_day,
    record_absence,
)
from handlers.consultation.worktime import calendar_of
from handlers.kernel.config import Config
from handlers.kernel.dates import format_day, format_range
from handlers.kernel.i18n import t
from handlers.kernel.outbox import enqueue_all
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Person

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik cuti` and `klinik kalender`."""
    cuti = subparsers.add_parser("cuti", help=help_text("cli.help_cuti"))
    sub = cuti.add_subparsers(dest="cuti_command", required=True)
    add = sub.add_parser("add", help=help_text("cli.help_cuti_add"))
    add.add_argument("mentor", help=help_text("cli.help_cuti_mentor"))
    add.add_argument("start", help=help_text("cli.help_cuti_start"))
    add.add_argument("end", help=help_text("cli.help_cuti_end"))
    add.add_argument("backup", help=help_text("cli.help_cuti_backup"))
    add.add_argument("--move-open", "--pindah", dest="move_open", action="store_true",
                     help=help_text("cli.help_cuti_move_open"))
    add.set_defaults(func=cmd_add)
    sub.add_parser("list", help=help_text("cli.help_cuti_list")).set_defaults(func=cmd_list)
    cancel = sub.add_parser("cancel", help=help_text("cli.help_cuti_cancel"))
    cancel.add_argument("id", type=int, help=help_text("cli.help_cuti_id"))
    cancel.set_defaults(func=cmd_cancel)
    calendar = subparsers.add_parser("kalender", help=help_text("cli.help_kalender"))
    calendar.add_argument("--year", type=int, help=help_text("cli.help_kalender_year"))
    calendar.set_defaults(func=cmd_calendar)


def in_transaction(work: Callable[[AsyncSession, Config], Awaitable[T]]) -> T:
    """Run work in one transaction on the configured database."""
    settings = load_settings()

    async def main() -> T:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session, settings.handler_config())
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_add(args: argparse.Namespace) -> int:
    """Record a leave, queue the messages to the mentor and the backup, move tickets if asked."""
    async def work(session: AsyncSession, config: Config) -> str:
        now = datetime.now(UTC)
        mentor, backup = await find_staff(session, args.mentor), await find_staff(session, args.backup)
        days = leave_days(args.start, args.end, local_day(now, config))
        if mentor is None or backup is None:
            raise CoverError("cons.cover_unknown_person", name=args.mentor if mentor is None else args.backup)
        if days is None:
            raise CoverError("cons.cuti_usage")
        request = CoverRequest(mentor, backup, days[0], days[1], args.move_open)
        absence, messages = await record_absence(session, request, actor_id=None, now=now, config=config)
        await enqueue_all(session, messages, now, config)
        return t("cons.cuti_recorded", config.language, id=absence.id, mentor=mentor.name, backup=backup.name,
                 days=format_range(days[0], days[1], config.language),
                 moved=t("cons.cuti_moves" if args.move_open else "cons.cuti_stays", config.language))

    try:
        print(in_transaction(work))
    except CoverError as error:
        print(t(error.key, load_settings().language, **error.values), file=sys.stderr)
        return 1
    return 0


def cmd_list(_args: argparse.Namespace) -> int:
    """Print current and coming leaves."""
    async def work(session: AsyncSession, config: Config) -> str:
        lines = []
        for absence in await current_and_coming(session, datetime.now(UTC), config):
            mentor, backup = await session.get(Person, absence.mentor_id), await session.get(Person, absence.backup_id)
            lines.append(t("cons.cuti_line", config.language, id=absence.id, mentor=mentor.name if mentor else "-",
                           backup=backup.name if backup else "-",
                           days=format_range(absence.starts_on, absence.ends_on, config.language)))
        return "\n".join(lines) or t("cons.cuti_none", config.language)

    print(in_transaction(work))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a leave by number."""
    async def work(session: AsyncSession, config: Config) -> tuple[bool, str]:
        done = await cancel_absence(session, args.id, datetime.now(UTC)) is not None
        return done, t("cons.cuti_cancelled" if done else "cons.cuti_unknown", config.language, id=args.id)

    done, text = in_transaction(work)
    print(text)
    return 0 if done else 1


def cmd_calendar(args: argparse.Namespace) -> int:
    """List the weekdays of a year that have no working hours (national holidays and cuti bersama)."""
    config = load_settings().handler_config()
    calendar = calendar_of(config)
    year = args.year or datetime.now(config.timezone).year
    day = date(year, 1, 1)
    while day.year == year:
        if day.weekday() in calendar.workdays and not calendar.is_working_day(day):
            kind = t("cli.cuti_bersama" if day in calendar.days_off else "cli.national_holiday", config.language)
            print(t("cli.calendar_line", config.language, day=format_day(day, config.language), kind=kind))
        day += timedelta(days=1)
    return 0
