"""`klinik rekap` (accountability workbook per programme, cohort, agency or mentor) and `klinik kinerja` (mentor ranking)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers.kernel.config import Config
from handlers.kernel.dates import month_of
from handlers.kernel.i18n import t
from handlers.people.membership import person_by_phone
from handlers.reports.performance import MentorMonth, mentor_months, ranking_text, write_performance
from handlers.reports.rekap import (
    Period,
    Rekap,
    Scope,
    build_rekap,
    day_period,
    file_name,
    month_period,
    parse_month,
    write_rekap,
)
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Role


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik rekap` and `klinik kinerja`."""
    rekap = subparsers.add_parser("rekap", help=help_text("cli.help_rekap"))
    rekap.add_argument("--bulan", help=help_text("cli.help_rekap_month"))
    rekap.add_argument("--dari", help=help_text("cli.help_rekap_from"))
    rekap.add_argument("--sampai", help=help_text("cli.help_rekap_until"))
    group = rekap.add_mutually_exclusive_group()
    group.add_argument("--angkatan", help=help_text("cli.help_rekap_cohort"))
    group.add_argument("--pendamping", help=help_text("cli.help_rekap_mentor"))
    group.add_argument("--instansi", help=help_text("cli.help_rekap_agency"))
    rekap.add_argument("-o", "--out", help=help_text("cli.help_rekap_out"))
    rekap.set_defaults(func=cmd_rekap)
    kinerja = subparsers.add_parser("kinerja", help=help_text("cli.help_kinerja"))
    kinerja.add_argument("--bulan", help=help_text("cli.help_rekap_month"))
    kinerja.add_argument("-o", "--out", help=help_text("cli.help_kinerja_out"))
    kinerja.set_defaults(func=cmd_kinerja)


def period_of(args: argparse.Namespace, config: Config) -> Period | None:
    """--bulan YYYY-MM, or --dari/--sampai YYYY-MM-DD, or this month."""
    try:
        if args.dari or args.sampai:
            first = date.fromisoformat(args.dari or args.sampai)
            last = date.fromisoformat(args.sampai or args.dari)
            return day_period(first, last, config) if first <= last else None
    except ValueError:
        return None
    month = parse_month(args.bulan) if args.bulan else month_of(datetime.now(UTC), config.timezone)
    return month_period(month, config) if month else None


def cmd_rekap(args: argparse.Namespace) -> int:
    """Build the workbook read-only and write it to a file."""
    settings = load_settings()
    config = settings.handler_config()
    language = config.language
    period = period_of(args, config)
    if period is None:
        print(t("cli.rekap_bad_period", language))
        return 2

    async def main() -> Rekap | None:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                scope = Scope("programme", "", t("rkp.programme", language))
                if args.angkatan:
                    scope = Scope("cohort", args.angkatan, t("rkp.cohort", language, name=args.angkatan))
                elif args.instansi:
                    scope = Scope("agency", args.instansi, t("rkp.agency", language, name=args.instansi))
                elif args.pendamping:
                    mentor = await person_by_phone(session, args.pendamping)
                    if mentor is None or mentor.role != Role.PENDAMPING:
                        return None
                    scope = Scope("mentor", str(mentor.id), t("rkp.mentor", language, name=mentor.name))
                return await build_rekap(session, scope, period, config, language)
        finally:
            await engine.dispose()

    book = asyncio.run(main())
    if book is None:
        print(t("cli.rekap_no_mentor", language, phone=args.pendamping))
        return 1
    path = Path(args.out or file_name(book))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rekap(book, path, language)
    counts = ", ".join(f"{t(key, language)} {len(rows)}" for key, _, rows in book.sheets)
    print(t("cli.rekap_written", language, title=book.title, path=path, counts=counts))
    return 0


def cmd_kinerja(args: argparse.Namespace) -> int:
    """Print a month's mentor ranking and write its workbook (read-only)."""
    settings = load_settings()
    config = settings.handler_config()
    now = datetime.now(UTC)
    month = parse_month(args.bulan) if args.bulan else month_of(now, config.timezone)
    if month is None:
        print(t("cli.rekap_bad_period", config.language))
        return 2

    async def main() -> list[MentorMonth]:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await mentor_months(session, month, now, config)
        finally:
            await engine.dispose()

    months = asyncio.run(main())
    path = Path(args.out or f"kinerja-{month}.xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_performance(months, month, path, config, config.language)
    print(ranking_text(months, month, config, config.language))
    print()
    print(t("cli.kinerja_written", config.language, path=path))
    return 0
