"""What a digest holds: the values the job computes and the renderers show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from handlers.reports import figures
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
    at_risk: list[figures.AtRisk]
    ticket_ages: list[tuple[int, int | None, int]]
    response_median: float | None
    rating_average: float | None
    targets: TargetProgress | None


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
