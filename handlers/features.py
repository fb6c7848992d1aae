"""The feature table: importing a module registers its commands, button actions and flows.

One line per module that declares any; the router imports this table, nothing else does.
"""

from handlers.activities import (
    assignment_form,
    assignment_review,
    assignments,
    attendance,
    leave,
    monthly_reports,
    session_form,
    sessions,
)
from handlers.broadcasts import chat as broadcast_chat
from handlers.consultation import (
    answers,
    cover,
    escalation,
    faq,
    leavers,
    questions,
    queue,
    rating,
    sla,
)
from handlers.kernel import menu, parking
from handlers.people import membership, onboarding, unknown
from handlers.privacy import rights
from handlers.reports import digest, mentor_change, participants, performance, rekap_chat, summaries

FEATURES = (
    # activities: sessions and presensi, izin/sakit, tugas, laporan bulanan
    assignment_form, assignment_review, assignments, attendance, leave, monthly_reports,
    session_form, sessions,
    # broadcasts: `siaran` announcements to a group, with preview, schedule, cancel and delivery report
    broadcast_chat,
    # consultation: questions, answers, queue, FAQ, escalation, deadlines, cover, rating
    answers, cover, escalation, faq, leavers, questions, queue, rating, sla,
    # kernel: the main menu and help, `lanjut` for parked forms
    menu, parking,
    # people: onboarding and consent, who is in the programme (deactivate, unlink), unknown numbers
    membership, onboarding, unknown,
    # privacy: withdrawing consent, `data saya` (UU PDP)
    rights,
    # reports: weekly digest and mentor summary, a mentor's participants and one participant's record, mentor changes
    digest, mentor_change, participants, performance, rekap_chat, summaries,
)
