"""Programme rules the handlers need, as plain values (bot/ builds them from settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from handlers.consultation.topics import Topic, default_topics


@dataclass(frozen=True)
class Config:
    """What a use case may depend on besides the database and the clock."""

    timezone: ZoneInfo = ZoneInfo("Asia/Jakarta")  # noqa: RUF009  (immutable)
    language: str = "id"
    programme_name: str = "Klinik Bisnis"
    coordinator_contact: str = "koordinator program di Dinas"
    max_question_chars: int = 4000
    telegram_text_limit: int = 4096
    whatsapp_text_limit: int = 1600
    # Consultation desk: topics, FAQ, answer deadlines in working hours (issue 3).
    topics: tuple[Topic, ...] = field(default_factory=default_topics)
    confirm_topic: bool = True
    topic_match_threshold: int = 82
    faq_match_threshold: int = 80
    pending_question_minutes: int = 60
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    work_opens: time = time(8)
    work_closes: time = time(16)
    holiday_country: str = "ID"
    cuti_bersama_file: str = ""
    sla_remind_hours: float = 8
    sla_alert_hours: float = 16
    sla_handover_hours: float = 24
    # Programme activities: presensi, tugas, laporan bulanan (issue 4).
    checkin_opens_before_minutes: int = 30
    checkin_grace_minutes: int = 15
    absence_alert_after: int = 2
    tugas_due_reminder_hours: int = 24
    tugas_overdue_reminder_max: int = 2
    tugas_overdue_reminder_every_hours: int = 24
    report_open_day: int = 25
    report_deadline_day: int = 5
    activity_reminder_hours: tuple[int, int] = (7, 20)
    # Participation score, nudge ladder, weekly digests (issue 5). Weights are relative;
    # parts with nothing to measure that week (no session, no tugas due) are left out.
    score_weight_attendance: float = 0.35
    score_weight_tugas: float = 0.25
    score_weight_report: float = 0.15
    score_weight_questions: float = 0.10
    score_weight_contact: float = 0.15
    score_value_terlambat: float = 0.75
    score_value_izin: float = 0.5
    score_penalty_ignored_nudge: float = 10.0
    score_silence_zero_days: int = 28
    tugas_lookback_days: int = 28
    alpa_streak_lookback_days: int = 28
    nudge_alpa_streak: int = 2
    trained_min_sessions: int = 1
    agency_fields: tuple[str, ...] = ("instansi", "opd", "agency")
    nudge_score_threshold: float = 40.0
    nudge_drop_points: float = 25.0
    nudge_baseline_weeks: int = 4
    nudge_silence_days: int = 14
    nudge_response_days: int = 3
    nudge_mentor_days: int = 3
    nudge_time: time = time(9)
    nudge_max_per_run: int = 1000
    quiet_hours: tuple[tuple[int | None, time, time], ...] = (
        (None, time(21), time(7)), (4, time(11, 30), time(13)))
    digest_weekday: int = 0
    digest_time: time = time(7)
    media_dir: str = "data/media"
    media_ttl_days: int = 7
