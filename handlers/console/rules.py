"""Signing in to the web console (KLINIK_RULES__CONSOLE__*)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleRules:
    """One-time codes sent through the bot, and how long a browser stays signed in."""

    # Minutes a sign-in code sent through the bot stays valid.
    code_minutes: int = 10
    # Wrong codes typed before the code is locked (a new code must be asked for).
    code_tries: int = 5
    # Codes sent to one person per hour; further requests get the same page but send nothing.
    codes_per_hour: int = 5
    # Hours a browser stays signed in after the code.
    session_hours: int = 12
