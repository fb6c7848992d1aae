"""Every model, imported in one place so metadata and migrations see them all."""

from storage.activities import (
    Assignment,
    Attendance,
    AttendanceStatus,
    Extension,
    LeaveRequest,
    LeaveStatus,
    Meeting,
    MonthlyReport,
    ReminderLog,
    Submission,
    SubmissionStatus,
)
from storage.base import Base
from storage.consultation import (
    FaqEntry,
    FaqStatus,
    MentorAbsence,
    TicketEscalation,
    TicketRating,
    TicketSlaStep,
)
from storage.messaging import (
    ConversationState,
    InboxItem,
    MediaLink,
    Menu,
    OutboxMessage,
    OutboxStatus,
)
from storage.participation import (
    Agency,
    JobRun,
    NudgeLog,
    NudgeStep,
    ParticipationScore,
    ProgrammeTarget,
    SchedulerLease,
)
from storage.people import AuditEntry, Person, Role, UnknownContact
from storage.tickets import Ticket, TicketMessage, TicketStatus

__all__ = [
    "Agency",
    "Assignment",
    "Attendance",
    "AttendanceStatus",
    "AuditEntry",
    "Base",
    "ConversationState",
    "Extension",
    "FaqEntry",
    "FaqStatus",
    "InboxItem",
    "JobRun",
    "LeaveRequest",
    "LeaveStatus",
    "MediaLink",
    "Meeting",
    "MentorAbsence",
    "Menu",
    "MonthlyReport",
    "NudgeLog",
    "NudgeStep",
    "OutboxMessage",
    "OutboxStatus",
    "ParticipationScore",
    "Person",
    "ProgrammeTarget",
    "ReminderLog",
    "Role",
    "SchedulerLease",
    "Submission",
    "SubmissionStatus",
    "Ticket",
    "TicketEscalation",
    "TicketMessage",
    "TicketRating",
    "TicketSlaStep",
    "TicketStatus",
    "UnknownContact",
]
