"""Programme rules the handlers need, as plain values (bot/ builds them from settings)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Config:
    """What a use case may depend on besides the database and the clock."""

    timezone: ZoneInfo = ZoneInfo("Asia/Jakarta")  # noqa: RUF009  (immutable)
    language: str = "id"
    programme_name: str = "Klinik Bisnis"
    coordinator_contact: str = "koordinator program di Dinas"
    max_question_chars: int = 4000
    telegram_text_limit: int = 4096
    whatsapp_text_limit: int = 1600
