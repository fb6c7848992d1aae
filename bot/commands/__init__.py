"""Subcommands of `klinik`; each module exposes `register(subparsers)`."""

from bot.commands import activities, cohorts, consultation, core, digest, ops, people, rekap, roster

MODULES = [core, roster, people, cohorts, consultation, digest, rekap, activities, ops]
