"""Consultation desk rules: topics, FAQ matching, working hours and answer deadlines (KLINIK_RULES__CONSULTATION__*)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from handlers.consultation.topics import Topic, default_topics


@dataclass(frozen=True)
class ConsultationRules:
    """How questions are sorted, matched to the FAQ and chased until answered."""

    # The programme's topics; not an environment variable: set with KLINIK_TOPICS_FILE.
    topics: tuple[Topic, ...] = field(default_factory=default_topics, metadata={"set_by": "KLINIK_TOPICS_FILE"})
    # Ask the participant to confirm the guessed topic before the question is queued.
    confirm_topic: bool = True
    # How close (0-100) a word must be to a topic keyword to count as a match.
    topic_match_threshold: int = 82
    # How close (0-100) a question must be to an approved FAQ for the answer to be offered.
    faq_match_threshold: int = 80
    # A question whose topic was never confirmed is queued anyway after this many minutes.
    pending_question_minutes: int = 60
    # Working days for answer deadlines (0=Monday).
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    # Opening time of a working day (programme time zone).
    work_opens: time = time(8)
    # Closing time of a working day (programme time zone).
    work_closes: time = time(16)
    # Country whose public holidays deadlines skip (ISO code; empty: none).
    holiday_country: str = "ID"
    # A file of cuti bersama dates (format: handlers/consultation/defaults/cuti_bersama.toml; empty: the shipped one).
    cuti_bersama_file: str = ""
    # Working hours without an answer after which the mentor is reminded.
    sla_remind_hours: float = 8
    # Working hours without an answer after which the coordinators are alerted.
    sla_alert_hours: float = 16
    # Working hours without an answer after which the question goes to the mentor's backup.
    sla_handover_hours: float = 24
