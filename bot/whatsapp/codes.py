"""Twilio's error codes that mean something to the bot (no SDK: status callbacks read them without it)."""

from __future__ import annotations

OUTSIDE_WINDOW = 63016
# The number cannot be reached on WhatsApp: not on WhatsApp, blocked, opted out, invalid.
UNREACHABLE = frozenset({63003, 63024, 63032, 21211, 21610, 21614})


def code_of(value: object) -> int | None:
    """A Twilio error code as a number ('' or None when there is none)."""
    try:
        return int(str(value))
    except ValueError:
        return None


def is_outside_window(code: object) -> bool:
    """True for Twilio's 'outside the 24-hour window' error."""
    return code_of(code) == OUTSIDE_WINDOW


def is_unreachable(code: object) -> bool:
    """True for the codes that mean the person cannot be reached on WhatsApp."""
    return code_of(code) in UNREACHABLE
