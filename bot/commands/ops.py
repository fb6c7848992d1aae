"""`klinik status`, `klinik outbox failed|retry` and `klinik inbox failed|retry`: the operator's view of a running bot."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings, load_settings
from bot.status import (
    collect_status,
    failed_inbox,
    failed_outbox,
    render_failed_inbox,
    render_failed_outbox,
    render_status,
    retry_inbox,
    retry_outbox,
)
from handlers.kernel.i18n import t
from storage.db import make_engine, make_sessionmaker, upgrade

T = TypeVar("T")


def _help(key: str) -> str:
    # Help is read before the settings load (`--help` works with bad settings): the language comes from the environment.
    return t(key, os.environ.get("KLINIK_LANGUAGE", "id"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik status`, `klinik outbox` and `klinik inbox`."""
    subparsers.add_parser("status", help=_help("cli.help_status")).set_defaults(func=cmd_status)
    for name, key, listing, retry in (("outbox", "cli.help_outbox", cmd_outbox_failed, cmd_outbox_retry),
                                      ("inbox", "cli.help_inbox", cmd_inbox_failed, cmd_inbox_retry)):
        parser = subparsers.add_parser(name, help=_help(key))
        sub = parser.add_subparsers(dest=f"{name}_command", required=True)
        failed = sub.add_parser("failed", help=_help("cli.help_failed_list"))
        failed.add_argument("--limit", type=int, default=50, help=_help("cli.help_failed_limit"))
        failed.set_defaults(func=listing)
        again = sub.add_parser("retry", help=_help("cli.help_failed_retry"))
        again.add_argument("ids", nargs="*", type=int, help=_help("cli.help_failed_ids"))
        again.add_argument("--all", action="store_true", help=_help("cli.help_failed_all"))
        again.set_defaults(func=retry)


def on_database(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run work in one transaction on the configured database."""
    settings = load_settings()

    async def main() -> T:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session, settings)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_status(_args: argparse.Namespace) -> int:
    """Print the loops, the backlogs, the oldest waiting message and the jobs' last runs."""
    async def work(session: AsyncSession, settings: Settings) -> str:
        status = await collect_status(session, datetime.now(UTC))
        return render_status(status, settings.language, settings.handler_config().timezone)

    print(on_database(work))
    return 0


def cmd_outbox_failed(args: argparse.Namespace) -> int:
    """List failed outbox rows with their reasons."""
    async def work(session: AsyncSession, settings: Settings) -> str:
        rows = await failed_outbox(session, args.limit)
        return render_failed_outbox(rows, settings.language, settings.handler_config().timezone)

    print(on_database(work))
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    """Queue failed outbox rows again."""
    if not args.ids and not args.all:
        print(_help("cli.failed_retry_what"))
        return 2

    async def work(session: AsyncSession, settings: Settings) -> str:
        count = await retry_outbox(session, None if args.all else list(args.ids), datetime.now(UTC))
        return t("cli.outbox_retried", settings.language, count=count)

    print(on_database(work))
    return 0


def cmd_inbox_failed(args: argparse.Namespace) -> int:
    """List inbound messages set aside after repeated failures."""
    async def work(session: AsyncSession, settings: Settings) -> str:
        items = await failed_inbox(session, args.limit)
        return render_failed_inbox(items, settings.language, settings.handler_config().timezone)

    print(on_database(work))
    return 0


def cmd_inbox_retry(args: argparse.Namespace) -> int:
    """Hand set-aside inbound messages to the running bot again."""
    if not args.ids and not args.all:
        print(_help("cli.failed_retry_what"))
        return 2

    async def work(session: AsyncSession, settings: Settings) -> str:
        count = await retry_inbox(session, None if args.all else list(args.ids))
        return t("cli.inbox_retried", settings.language, count=count)

    print(on_database(work))
    return 0
