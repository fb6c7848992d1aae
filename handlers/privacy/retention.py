"""The daily clean-up: personal data in message stores, files and unknown-number records is kept only so long.

Handled inbound messages lose their raw content after KLINIK_RULES__PRIVACY__INBOX_RETENTION_DAYS
(the row stays, so a repeated delivery is still recognised); sent or failed outgoing messages lose
their text after OUTBOX_RETENTION_DAYS (queued and held ones are owed to someone and never touched);
generated files and download links go after MEDIA_RETENTION_DAYS or when they expire; records of
unregistered numbers go UNKNOWN_CONTACT_RETENTION_DAYS after they last wrote. Tickets, presensi,
tugas and reports are the programme's records and stay (erasure on request removes a person's).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.job_runs import already_ran, is_due_today, record_run
from handlers.kernel.messages import Outgoing
from handlers.privacy.erasure import REDACTED_INBOX, REDACTED_OUTBOX
from handlers.privacy.rules import PrivacyRules
from storage.models import InboxItem, MediaLink, OutboxMessage, OutboxStatus, UnknownContact

JOB_ID = "retention"
REDACTED_MARK = '%"redacted": true%'


async def run_retention(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: once a day at the configured time, remove what is past its retention period."""
    if not is_due_today(now, config.rules(PrivacyRules).retention_time, config):
        return []
    period = now.astimezone(config.timezone).date().isoformat()
    if await already_ran(session, JOB_ID, period):
        return []
    record_run(session, JOB_ID, period, now, await apply_retention(session, now, config))
    return []


async def apply_retention(session: AsyncSession, now: datetime, config: Config) -> dict[str, int]:
    """Redact and delete everything due at `now`; counts per kind."""
    rules = config.rules(PrivacyRules)
    inbox = await session.execute(
        update(InboxItem)
        .where(InboxItem.processed_at.is_not(None),
               InboxItem.received_at < now - timedelta(days=rules.inbox_retention_days),
               cast(InboxItem.payload, Text).not_like(REDACTED_MARK))
        .values(payload=REDACTED_INBOX).execution_options(synchronize_session=False))
    outbox = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.FAILED)),
               OutboxMessage.created_at < now - timedelta(days=rules.outbox_retention_days),
               cast(OutboxMessage.payload, Text).not_like(REDACTED_MARK))
        .values(payload=REDACTED_OUTBOX).execution_options(synchronize_session=False))
    media = await _remove_media(session, now, now - timedelta(days=rules.media_retention_days))
    unknown = await session.execute(
        delete(UnknownContact)
        .where(UnknownContact.last_seen_at < now - timedelta(days=rules.unknown_contact_retention_days))
        .execution_options(synchronize_session=False))
    return {"inbox": inbox.rowcount, "outbox": outbox.rowcount,  # type: ignore[attr-defined]
            "media_links": media, "unknown_contacts": unknown.rowcount}  # type: ignore[attr-defined]


async def _remove_media(session: AsyncSession, now: datetime, cutoff: datetime) -> int:
    """Links past their expiry or the retention period, with the files the bot wrote for them."""
    query = select(MediaLink.token, MediaLink.source, MediaLink.ref).where(
        or_(MediaLink.expires_at <= now, MediaLink.created_at < cutoff))
    due = (await session.execute(query)).all()
    await asyncio.to_thread(_remove_files, [ref for _token, source, ref in due if source == "file"])
    tokens = [token for token, _source, _ref in due]
    for start in range(0, len(tokens), 500):
        await session.execute(delete(MediaLink).where(MediaLink.token.in_(tokens[start:start + 500])))
    return len(tokens)


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)
