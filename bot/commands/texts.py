"""The command line's own words: argparse help, headings and usage in KLINIK_LANGUAGE (Indonesian by default).

Read from the environment, not the settings: `--help` must work even when the settings do not load.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from typing import Any

from handlers.kernel.i18n import t


def help_text(key: str) -> str:
    """A text of the cli catalog in the language of the environment."""
    return t(key, os.environ.get("KLINIK_LANGUAGE", "id"))


class Formatter(argparse.HelpFormatter):
    """argparse's layout with the usage line in the CLI's language."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        """"Cara pakai: klinik …"."""
        super().add_usage(usage, actions, groups, help_text("cli.arg_usage") if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser (and, through add_subparsers, every subcommand's) speaking the CLI's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = help_text("cli.arg_positionals")
        self._optionals.title = help_text("cli.arg_options")
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = help_text("cli.arg_help")
