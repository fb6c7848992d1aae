"""What the running bot reports about itself: each loop's last pass and each scheduled job's last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class LoopPulse(Base):
    """One background loop of one process: alive while beat_at is fresh, healthy while last_pass_at is."""

    __tablename__ = "loop_pulses"

    holder: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid:random of the process
    loop: Mapped[str] = mapped_column(String(40), primary_key=True)  # inbox, delivery, telegram, scheduler
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]  # the process was alive (written every few seconds)
    last_pass_at: Mapped[datetime | None]  # the loop last completed a pass
    failures: Mapped[int] = mapped_column(default=0, server_default="0")  # failed passes in a row
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None]


class JobPulse(Base):
    """The last run of a scheduled job, by whichever process held the scheduler lease."""

    __tablename__ = "job_pulses"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    messages: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(500))
    last_ok_at: Mapped[datetime | None]
