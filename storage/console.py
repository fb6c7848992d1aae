"""The web console: one-time sign-in codes and browser sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.activities import MonthlyReport
from storage.base import Base
from storage.participation import ParticipationScore
from storage.people import Person


class ConsoleCode(Base):
    """A one-time code sent through the bot; the browser holds the ticket that names this row."""

    __tablename__ = "console_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the browser's ticket
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))  # hmac of the code with the ticket
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    wrong_tries: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]  # signed in with it, replaced by a newer code, or locked


class ConsoleSession(Base):
    """A signed-in browser: the cookie holds a token whose hash is the key."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]  # signed out


class ConsoleFigure(Base):
    """A programme-wide figure of the overview as last computed (bot/console/stored.py), read after a restart."""

    __tablename__ = "console_figures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    computed_at: Mapped[datetime]
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


# The console's lists at 100,000 participants (migration 0023_console_lists):
# active participants by name, one page at a time, counted from the index alone;
Index("ix_people_console_list", Person.role, Person.is_active, Person.erased_at, Person.name, Person.id)
# the search: a prefix of the name or business name, lower-cased (PostgreSQL: text_pattern_ops, for LIKE 'x%');
Index("ix_people_search_name", func.lower(Person.name)).ddl_if(dialect="sqlite")
Index("ix_people_search_business", func.lower(Person.business_name)).ddl_if(dialect="sqlite")
Index("ix_people_district", Person.district)
# the score band filter and the overview's trend read (week, score) without the rows.
Index("ix_participation_scores_week_score", ParticipationScore.week, ParticipationScore.score,
      ParticipationScore.participant_id)
# The desk pages (migration 0026_console_desk_indexes): a month's reports sent, their omzet and who sent them,
# from the index alone (the `laporan` roll and trend);
Index("ix_monthly_reports_sent", MonthlyReport.month, MonthlyReport.submitted_at, MonthlyReport.omzet,
      MonthlyReport.participant_id)
# the participants on the roster before a report's deadline, counted from the index.
Index("ix_people_roster_since", Person.role, Person.is_active, Person.created_at)
