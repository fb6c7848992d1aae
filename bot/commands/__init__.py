"""Subcommands of `klinik`; each module exposes `register(subparsers)`."""

from bot.commands import core, roster

MODULES = [core, roster]
