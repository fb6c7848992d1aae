"""Import every feature module so its commands, actions and flows are registered (one line per new feature)."""

from handlers import (
    admin,
    answers,
    assignment_form,
    assignment_review,
    assignments,
    attendance,
    cover,
    digest,
    escalation,
    faq,
    leave,
    menu,
    monthly_reports,
    onboarding,
    questions,
    queue,
    rating,
    session_form,
    sessions,
    sla,
)

__all__ = [
    "admin", "answers", "assignment_form", "assignment_review", "assignments", "attendance", "cover", "digest",
    "escalation", "faq", "leave", "menu", "monthly_reports", "onboarding", "questions", "queue", "rating",
    "session_form", "sessions", "sla",
]
