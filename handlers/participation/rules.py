"""Participation score and nudge ladder rules (KLINIK_RULES__PARTICIPATION__*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class ParticipationRules:
    """How the weekly score is weighed and when a participant who is dropping is nudged.

    Weights are relative; parts with nothing to measure that week (no session, no tugas due) are left out.
    """

    # Weight of presensi in the score.
    score_weight_attendance: float = 0.35
    # Weight of tugas sent on time.
    score_weight_tugas: float = 0.25
    # Weight of last month's laporan bulanan.
    score_weight_report: float = 0.15
    # Weight of asking a question (a bonus only: not asking is no fault).
    score_weight_questions: float = 0.10
    # Weight of recent contact (how lately they wrote).
    score_weight_contact: float = 0.15
    # How much a "terlambat" counts compared with "hadir" (1.0).
    score_value_terlambat: float = 0.75
    # How much an "izin" or "sakit" counts compared with "hadir" (1.0).
    score_value_izin: float = 0.5
    # Points taken off the score per ignored nudge.
    score_penalty_ignored_nudge: float = 10.0
    # Days of silence after which the contact part is zero.
    score_silence_zero_days: int = 28
    # Look-back window (days) for tugas compliance.
    tugas_lookback_days: int = 28
    # Look-back window (days) for counting alpa streaks.
    alpa_streak_lookback_days: int = 28
    # Consecutive alpa that count as dropping.
    nudge_alpa_streak: int = 2
    # A score under this starts the nudge ladder.
    nudge_score_threshold: float = 40.0
    # A fall of this many points against the baseline starts the nudge ladder.
    nudge_drop_points: float = 25.0
    # Past weeks whose scores form the baseline for a fall.
    nudge_baseline_weeks: int = 4
    # Days without a message that start the nudge ladder.
    nudge_silence_days: int = 14
    # Days without a reply to the nudge after which the mentor is told.
    nudge_response_days: int = 3
    # Days after the mentor was told after which the participant goes on the coordinator's at-risk list.
    nudge_mentor_days: int = 3
    # Daily time of the nudge scan (programme time zone).
    nudge_time: time = time(9)
    # Most nudges one run may send (WhatsApp limits first messages per day).
    nudge_max_per_run: int = 1000
