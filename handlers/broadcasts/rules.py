"""Broadcast rules (KLINIK_RULES__BROADCASTS__*)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BroadcastsRules:
    """Who may send announcements, how long they may be, and whether they wait for quiet hours to end."""

    # Mentors may send announcements to their own participants (coordinators always may, to any group).
    mentors_may_send: bool = True
    # Longest announcement text, in characters (a WhatsApp message part is 1600; longer texts go in parts).
    max_text_chars: int = 3000
    # An announcement due in quiet hours (KLINIK_RULES__SHARED__QUIET_HOURS) waits until they end.
    respect_quiet_hours: bool = True
