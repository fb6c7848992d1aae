"""Import every feature module so its commands, actions and flows are registered."""

from handlers import (
    admin,
    answers,
    cover,
    escalation,
    faq,
    menu,
    onboarding,
    questions,
    queue,
    rating,
    sla,
)

__all__ = [
    "admin",
    "answers",
    "cover",
    "escalation",
    "faq",
    "menu",
    "onboarding",
    "questions",
    "queue",
    "rating",
    "sla",
]

# Programme activities (issue 4): presensi, tugas, laporan bulanan.
from handlers import (
    assignment_form,
    assignment_review,
    assignments,
    attendance,
    leave,
    monthly_reports,
    session_form,
    sessions,
)

__all__ += ["assignment_form", "assignment_review", "assignments", "attendance", "leave", "monthly_reports",
            "session_form", "sessions"]

# Participation score, nudges and weekly digests (issue 5): the `ringkasan` command.
from handlers import digest  # noqa: E402

__all__ += ["digest"]
