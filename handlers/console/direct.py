"""A message typed in the console to one participant: delivered on their channel, naming the sender."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Outgoing
from storage.models import AuditEntry, Person

MESSAGE_MAX_CHARS = 2000


def direct_message(session: AsyncSession, sender: Person, participant: Person, text: str, now: datetime,
                   config: Config) -> Outgoing | None:
    """The message to send (audit-logged), or None when the text is empty or too long."""
    body = text.strip()
    if not body or len(body) > MESSAGE_MAX_CHARS:
        return None
    session.add(AuditEntry(at=now, actor_id=sender.id, action="console_message", subject=f"person:{participant.id}",
                           detail={"chars": len(body)}))
    lang = participant.language or config.language
    return Outgoing(text=t("web.message_from", lang, name=sender.name, text=body), person_id=participant.id,
                    ref=f"person:{participant.id}")
