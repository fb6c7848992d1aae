"""Programme activity rules: presensi, tugas and their reminders (KLINIK_RULES__ACTIVITIES__*)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivitiesRules:
    """When check-in opens, who is late or absent, and when tugas and report reminders go out."""

    # Check-in opens this many minutes before a session starts.
    checkin_opens_before_minutes: int = 30
    # A check-in later than start + this many minutes counts as "terlambat".
    checkin_grace_minutes: int = 15
    # Wrong check-in codes a participant may send per session; then code check-in is locked for them.
    checkin_wrong_code_limit: int = 5
    # Consecutive alpa after which the mentor is alerted.
    absence_alert_after: int = 2
    # Tugas reminder: this many hours before the due time.
    tugas_due_reminder_hours: int = 24
    # Overdue tugas: at most this many reminders...
    tugas_overdue_reminder_max: int = 2
    # ...one every this many hours.
    tugas_overdue_reminder_every_hours: int = 24
    # Hours (from, to) of the day in which tugas and report reminders may be sent.
    activity_reminder_hours: tuple[int, int] = (7, 20)
