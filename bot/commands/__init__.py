"""Subcommands of `klinik`; each module exposes `register(subparsers)`."""

from bot.commands import activities, consultation, core, digest, roster

MODULES = [core, roster, consultation, digest, activities]
