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
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.cohorts import Cohort
from storage.console import ConsoleCode, ConsoleFigure, ConsoleSession
from storage.consultation import (
    FaqEntry,
    FaqStatus,
    MentorAbsence,
    TicketEscalation,
    TicketRating,
    TicketSlaStep,
)
from storage.mentor_figures import MentorMonthFigure, MentorMonthSnapshot
from storage.mentorships import Mentorship
from storage.messaging import (
    ConversationState,
    InboxItem,
    MediaLink,
    Menu,
    OutboxMessage,
    OutboxStatus,
    ParkedFlow,
)
from storage.notes import ParticipantNote
from storage.outcomes import OutcomeTarget, ParticipantOutcome, ParticipantPresence
from storage.participation import (
    Agency,
    JobRun,
    NudgeLog,
    NudgeStep,
    ParticipationScore,
    ProgrammeTarget,
    SchedulerLease,
)
from storage.people import AuditEntry, ConsentRecord, Person, Role, UnknownContact
from storage.runtime import JobPulse, LoopPulse
from storage.summaries import SummaryRequest
from storage.tickets import Ticket, TicketMessage, TicketStatus

__all__ = [
    "Agency",
    "Assignment",
    "Attendance",
    "AttendanceStatus",
    "AuditEntry",
    "Base",
    "Broadcast",
    "BroadcastStatus",
    "Cohort",
    "ConsentRecord",
    "ConsoleCode",
    "ConsoleFigure",
    "ConsoleSession",
    "ConversationState",
    "Extension",
    "FaqEntry",
    "FaqStatus",
    "InboxItem",
    "JobPulse",
    "JobRun",
    "LeaveRequest",
    "LeaveStatus",
    "LoopPulse",
    "MediaLink",
    "Meeting",
    "MentorAbsence",
    "MentorMonthFigure",
    "MentorMonthSnapshot",
    "Mentorship",
    "Menu",
    "MonthlyReport",
    "NudgeLog",
    "NudgeStep",
    "OutboxMessage",
    "OutboxStatus",
    "OutcomeTarget",
    "ParkedFlow",
    "ParticipantNote",
    "ParticipantOutcome",
    "ParticipantPresence",
    "ParticipationScore",
    "Person",
    "ProgrammeTarget",
    "ReminderLog",
    "Role",
    "SchedulerLease",
    "Submission",
    "SubmissionStatus",
    "SummaryRequest",
    "Ticket",
    "TicketEscalation",
    "TicketMessage",
    "TicketRating",
    "TicketSlaStep",
    "TicketStatus",
    "UnknownContact",
]
