"""`klinik digest` (the coordinators' weekly digest as text, PNG and XLSX) and `klinik target` (set targets)."""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers.kernel.i18n import t
from handlers.participation.scores import compute_scores, parse_week, week_of
from handlers.reports.digest import build_digest
from handlers.reports.outcomes import read_outcome_targets, set_outcome_targets
from handlers.reports.render import coordinator_text, has_chart, write_chart, write_workbook
from handlers.reports.shapes import Digest
from handlers.reports.targets import set_targets
from storage.db import make_engine, make_sessionmaker, upgrade


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik digest` and `klinik target`."""
    digest = subparsers.add_parser("digest", help=help_text("cli.help_digest"))
    digest.add_argument("--week", help=help_text("cli.help_digest_week"))
    digest.add_argument("--out", default=".", help=help_text("cli.help_digest_out"))
    digest.set_defaults(func=cmd_digest)
    target = subparsers.add_parser("target", help=help_text("cli.help_target"))
    target.add_argument("file", help=help_text("cli.help_target_file"))
    target.set_defaults(func=cmd_target)


def cmd_digest(args: argparse.Namespace) -> int:
    """Compute the digest read-only and write it to the terminal and two files."""
    settings = load_settings()
    config = settings.handler_config()
    now = datetime.now(UTC)
    week = parse_week(args.week) if args.week else week_of(now, config.timezone)
    if week is None:
        print(t("cli.week_unknown", config.language, week=args.week))
        return 2

    async def main() -> Digest:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                scores = await compute_scores(session, week, now, config)
                return await build_digest(session, week, scores, now, config)
        finally:
            await engine.dispose()

    digest = asyncio.run(main())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chart, book = out / f"ringkasan-{week}.png", out / f"ringkasan-{week}.xlsx"
    drawn = has_chart(digest, config.language)  # no picture when no panel has data
    if drawn:
        write_chart(digest, chart, config.language)
    write_workbook(digest, book, config.language)
    print(coordinator_text(digest, config, config.language))
    print()
    print(t("cli.digest_files", config.language, chart=chart if drawn else "–", workbook=book))
    return 0


def cmd_target(args: argparse.Namespace) -> int:
    """Create or update the programme target and its agencies."""
    settings = load_settings()
    try:
        data = tomllib.loads(Path(args.file).read_text(encoding="utf-8"))
        programme, agencies = data["programme"], data.get("agency", [])
        missing = [a for a in agencies if "code" not in a]
        if "name" not in programme or missing:
            raise KeyError("programme.name" if "name" not in programme else "agency.code")
        outcomes = read_outcome_targets(data)
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as error:
        print(t("cli.target_unreadable", settings.language, error=error))
        return 2

    async def main() -> None:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                await set_targets(session, programme, agencies, datetime.now(UTC))
                await set_outcome_targets(session, outcomes, datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(main())
    print(t("cli.target_set", settings.language, name=programme["name"], target=programme.get("target", 0),
            agencies=len(agencies)))
    return 0
