"""Weekly digest and programme target rules (KLINIK_RULES__REPORTS__*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class ReportsRules:
    """When the weekly digest goes out and how participants are counted against targets."""

    # Weekday of the weekly digest (0=Monday).
    digest_weekday: int = 0
    # Time of the weekly digest (programme time zone).
    digest_time: time = time(7)
    # Roster columns (kept in Person.extra) that name a participant's agency (OPD); first match wins.
    agency_fields: tuple[str, ...] = ("instansi", "opd", "agency")
    # Sessions attended for a participant to count as "trained" for targets.
    trained_min_sessions: int = 1
