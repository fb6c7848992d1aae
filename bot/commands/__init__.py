"""Subcommands of `klinik`; each module exposes `register(subparsers)`."""

from bot.commands import (
    activities,
    broadcasts,
    cohorts,
    consultation,
    core,
    digest,
    mentors,
    ops,
    people,
    rekap,
    roster,
)

MODULES = [core, roster, people, mentors, cohorts, consultation, digest, rekap, activities, broadcasts, ops]
