"""`klinik run`, `klinik chat`, `klinik demo` and `klinik db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.roster import summary_text
from bot.commands.texts import help_text
from bot.settings import Settings, load_settings
from handlers.kernel.i18n import t
from storage.db import database_location, make_engine, make_sessionmaker, upgrade
from storage.models import Person

if TYPE_CHECKING:
    from handlers.people.roster import ImportSummary

DEMO_ROSTER = Path(__file__).resolve().parent.parent / "templates" / "demo_roster.csv"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the core subcommands."""
    run = subparsers.add_parser("run", help=help_text("cli.help_run"))
    run.add_argument("--only", metavar="PERAN", help=help_text("cli.help_run_only"))
    run.set_defaults(func=cmd_run)
    chat = subparsers.add_parser("chat", help=help_text("cli.help_chat"))
    chat.add_argument("--as", dest="actor", help=help_text("cli.help_chat_as"))
    chat.set_defaults(func=cmd_chat)
    demo = subparsers.add_parser("demo", help=help_text("cli.help_demo"))
    demo.set_defaults(func=cmd_demo)
    db = subparsers.add_parser("db", help=help_text("cli.help_db"))
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help=help_text("cli.help_db_upgrade")).set_defaults(func=cmd_db_upgrade)


def cmd_run(args: argparse.Namespace) -> int:
    """Serve real users with the channels configured in .env (`--only web,worker,scheduler`: a share of the work)."""
    from bot.app import serve
    from bot.processes import ALL_ROLES, RolesError, parse_roles, refusal, roles_text

    settings = load_settings()
    try:
        roles = parse_roles(args.only, settings.language) if args.only is not None else ALL_ROLES
    except RolesError as error:
        print(error, file=sys.stderr)
        return 2
    problem = refusal(roles, settings.database_url, settings.language)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    print(t("cli.database", settings.language, location=database_location(settings.database_url)), flush=True)
    if roles != ALL_ROLES:
        print(t("cli.roles_running", settings.language, roles=roles_text(roles)), flush=True)
    if not settings.has_telegram and not settings.has_whatsapp:
        print(t("cli.no_channels", settings.language))
    asyncio.run(serve(settings, roles))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """The terminal channel over the configured database."""
    from bot.chat import repl

    settings = load_settings()
    print(t("cli.database", settings.language, location=database_location(settings.database_url)), flush=True)

    async def main() -> None:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await repl(make_sessionmaker(engine), settings.handler_config(), args.actor)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return 0


def cmd_demo(_args: argparse.Namespace) -> int:
    """Import the bundled demo roster (idempotent)."""
    settings = load_settings()
    summary = asyncio.run(load_demo(settings))
    print(t("cli.demo_loaded", settings.language, database=database_location(settings.database_url),
            summary=summary_text(summary, settings.language)))
    print(t("cli.demo_next", settings.language))
    return 0


async def load_demo(settings: Settings) -> ImportSummary:
    """Import the demo roster into the configured database."""
    from handlers.people.roster import apply_roster, read_roster, validate_roster

    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        rows = read_roster(DEMO_ROSTER)
        async with make_sessionmaker(engine).begin() as session:
            problems = await validate_roster(session, rows)
            if problems:
                raise SystemExit("\n".join(str(p) for p in problems))
            now = datetime.now(UTC)
            summary = await apply_roster(session, rows, now)
            await link_demo_telegram_users(session)
            await add_demo_activities(session, now, settings)
            return summary
    finally:
        await engine.dispose()


async def link_demo_telegram_users(session: AsyncSession) -> None:
    """Demo people who prefer Telegram start linked, with the ids `klinik chat` uses for them."""
    from bot.chat import chat_telegram_id

    query = select(Person).where(Person.preferred_channel == "telegram", Person.telegram_user_id.is_(None))
    for person in (await session.execute(query)).scalars():
        person.telegram_user_id = person.telegram_chat_id = chat_telegram_id(person.phone)


async def add_demo_activities(session: AsyncSession, now: datetime, settings: Settings) -> None:
    """A session whose check-in is open now and a tugas due in three days, so both can be tried."""
    from handlers.activities.assignment_form import create_assignment
    from handlers.activities.session_form import create_meeting
    from storage.activities import Assignment, Meeting

    if (await session.execute(select(Meeting.id).limit(1))).first() is None:
        await create_meeting(session, title="Kelas Pemasaran Digital (demo)", cohort="Angkatan 1", mentor_id=None,
                             starts_at=now + timedelta(minutes=10), ends_at=now + timedelta(hours=2),
                             place="Aula Dinas KUKM", link="", created_by_id=None, now=now,
                             config=settings.handler_config())
    if (await session.execute(select(Assignment.id).limit(1))).first() is None:
        await create_assignment(session, title="Foto produk dan harga jual (demo)",
                                description="Kirim 2 foto produk Anda dan daftar harga jualnya.",
                                cohort="Angkatan 1", mentor_id=None, due_at=now + timedelta(days=3),
                                cutoff_at=None, created_by_id=None, now=now)


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Apply every migration to the configured database."""
    settings = load_settings()
    asyncio.run(upgrade(settings.database_url))
    print(t("cli.db_upgraded", settings.language))
    return 0
