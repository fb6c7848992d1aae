"""The `klinik` command line: run, chat, demo, db, roster and the features' own commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.commands import MODULES
from bot.settings import SettingsError
from handlers.kernel.i18n import t


def build_parser() -> argparse.ArgumentParser:
    """All subcommands, each registered by its module."""
    parser = argparse.ArgumentParser(prog="klinik", description="Klinik Bisnis bot")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("alembic", "httpx", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except SettingsError as error:
        # The settings did not load, so the language is read as given (a bad value falls back to Indonesian).
        print(t("cli.invalid_settings", os.environ.get("KLINIK_LANGUAGE", "id"), error=error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
