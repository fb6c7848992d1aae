"""`klinik angkatan list|set|jeda`: cohort start and end dates (alumni after) and pauses (no nudges or reminders)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers.kernel.cohorts import list_cohorts, pause_cohort, set_cohort
from handlers.kernel.config import Config
from handlers.kernel.dates import format_range
from handlers.kernel.i18n import t
from storage.db import make_engine, make_sessionmaker, upgrade

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik angkatan`."""
    cohorts = subparsers.add_parser("angkatan", help=help_text("cli.help_angkatan"))
    sub = cohorts.add_subparsers(dest="angkatan_command", required=True)
    sub.add_parser("list", help=help_text("cli.help_angkatan_list")).set_defaults(func=cmd_list)
    dates = sub.add_parser("set", help=help_text("cli.help_angkatan_set"))
    dates.add_argument("name", help=help_text("cli.help_angkatan_name"))
    dates.add_argument("--mulai", required=True, help=help_text("cli.help_angkatan_start"))
    dates.add_argument("--selesai", required=True, help=help_text("cli.help_angkatan_end"))
    dates.set_defaults(func=cmd_set)
    pause = sub.add_parser("jeda", help=help_text("cli.help_angkatan_pause"))
    pause.add_argument("name", help=help_text("cli.help_angkatan_name"))
    pause.add_argument("--dari", help=help_text("cli.help_angkatan_pause_from"))
    pause.add_argument("--sampai", help=help_text("cli.help_angkatan_pause_until"))
    pause.add_argument("--hapus-jeda", action="store_true", help=help_text("cli.help_angkatan_unpause"))
    pause.set_defaults(func=cmd_pause)


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


def _span(first: str | None, last: str | None) -> tuple[date, date] | None:
    """Two YYYY-MM-DD days in order, else None."""
    try:
        start, end = date.fromisoformat(first or ""), date.fromisoformat(last or "")
    except ValueError:
        return None
    return (start, end) if start <= end else None


def _fail(key: str, **values: str) -> int:
    print(t(key, load_settings().language, **values), file=sys.stderr)
    return 2


def cmd_list(_args: argparse.Namespace) -> int:
    """Print each cohort with its dates and pause."""
    async def work(session: AsyncSession, config: Config) -> str:
        lang, lines = config.language, []
        for cohort in await list_cohorts(session):
            paused = ("" if cohort.paused_from is None or cohort.paused_until is None else
                      t("cli.angkatan_paused", lang, days=format_range(cohort.paused_from, cohort.paused_until, lang)))
            lines.append(t("cli.angkatan_line", lang, name=cohort.name,
                           days=format_range(cohort.starts_on, cohort.ends_on, lang), paused=paused))
        return "\n".join(lines) or t("cli.angkatan_none", config.language)

    print(in_transaction(work))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    """Record a cohort's first and last day."""
    span = _span(args.mulai, args.selesai)
    if span is None or not args.name.strip():
        return _fail("cli.angkatan_bad_dates")

    async def work(session: AsyncSession, config: Config) -> str:
        cohort = await set_cohort(session, args.name.strip(), *span)
        return t("cli.angkatan_set", config.language, name=cohort.name,
                 days=format_range(cohort.starts_on, cohort.ends_on, config.language))

    print(in_transaction(work))
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    """Pause a cohort between two days, or clear its pause."""
    span = None if args.hapus_jeda else _span(args.dari, args.sampai)
    if span is None and not args.hapus_jeda:
        return _fail("cli.angkatan_bad_dates")

    async def work(session: AsyncSession, config: Config) -> tuple[bool, str]:
        first, last = span if span is not None else (None, None)
        cohort = await pause_cohort(session, args.name.strip(), first, last)
        if cohort is None:
            return False, t("cli.angkatan_unknown", config.language, name=args.name)
        if first is None or last is None:
            return True, t("cli.angkatan_unpaused", config.language, name=cohort.name)
        return True, t("cli.angkatan_paused_set", config.language, name=cohort.name,
                       days=format_range(first, last, config.language))

    done, text = in_transaction(work)
    print(text, file=sys.stdout if done else sys.stderr)
    return 0 if done else 1
