"""Subcommands of `klinik`; each module exposes `register(subparsers)`."""

from bot.commands import activities, consultation, core, digest, ops, people, rekap, roster

MODULES = [core, roster, people, consultation, digest, rekap, activities, ops]
