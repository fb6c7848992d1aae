"""Summaries asked for in chat (`ringkasan`): answered at once, figured by a background job, then sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class SummaryRequest(Base):
    """One `ringkasan` request: who asked, for which ISO week, on which chat; done_at once its figures are queued."""

    __tablename__ = "summary_requests"
    __table_args__ = (Index("ix_summary_requests_waiting", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    week: Mapped[str] = mapped_column(String(8))
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"channel", "id"}: where the answer goes
    requested_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
