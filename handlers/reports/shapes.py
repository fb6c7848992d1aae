"""What a digest holds: the values the job computes and the renderers show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.reports import figures
from handlers.reports.outcomes import Outcomes
from handlers.reports.targets import TargetProgress


@dataclass
class Digest:
    """Everything a coordinator's weekly digest shows."""

    week: str
    start: datetime
    end: datetime
    is_partial: bool
    total: figures.GroupFigures
    cohorts: list[figures.GroupFigures]
    mentors: list[figures.MentorFigures]
    at_risk: figures.AtRiskList
    ticket_ages: list[tuple[int, int | None, int]]
    response_median: float | None
    rating_average: float | None
    targets: TargetProgress | None
    weeks: list[str] = field(default_factory=list)  # the eight weeks of the trends, oldest first
    active_trend: list[tuple[str, list[float | None]]] = field(default_factory=list)  # programme, then cohorts
    risk_trend: tuple[list[int], list[int]] = ([], [])  # per week: ladders started, recovered
    answers: tuple[int, int, int] = (0, 0, 0)  # the week's questions: on time, late, still waiting
    outcomes: Outcomes | None = None
    deadline_hours: float = 8.0  # ConsultationRules.sla_remind_hours: "on time" means answered within it
    # Open tickets per mentor (count, oldest wait) as read for the figures, for the mentors' summaries.
    open_tickets: dict[int, tuple[int, datetime | None]] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class MentorSummary:
    """A mentor's week: their group, who is slipping and why, and what waits for them."""

    mentor_id: int
    week: str
    participants: int = 0
    active: int = 0
    slipping_count: int = 0
    slipping: list[tuple[float, str, list[str]]] = field(default_factory=list)  # the lowest scores, named
    open_tickets: int = 0
    oldest_ticket: datetime | None = None
    reviews: int = 0
    leave_requests: int = 0
