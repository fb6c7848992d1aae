"""The `klinik` command line: run, chat, demo, db, roster and the features' own commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot.commands import MODULES
from bot.commands.texts import Parser, help_text
from bot.settings import SettingsError, load_settings
from handlers.kernel.i18n import t


def build_parser() -> argparse.ArgumentParser:
    """All subcommands, each registered by its module."""
    parser = Parser(prog="klinik", description=help_text("cli.description"))
    parser.add_argument("-v", "--verbose", action="store_true", help=help_text("cli.help_verbose"))
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, filename=log_file(args.command),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("alembic", "httpx", "apscheduler", "twilio"):  # twilio: five lines per message sent
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except SettingsError as error:
        # The settings did not load, so the language is read as given (a bad value falls back to Indonesian).
        print(t("cli.invalid_settings", os.environ.get("KLINIK_LANGUAGE", "id"), error=error), file=sys.stderr)
        return 2


def log_file(command: str) -> Path | None:
    """`klinik chat` is a conversation on the terminal: its log goes to a file, never between the messages."""
    if command != "chat":
        return None
    try:
        folder = Path(load_settings().data_dir)
    except SettingsError:
        return None  # the command reports the settings error itself
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "klinik-chat.log"


if __name__ == "__main__":
    sys.exit(main())
