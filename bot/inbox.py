"""Durable inbox: store an inbound before acknowledging it, then process it in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import DrainLoop
from bot.health import database_answers, error_text
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Inbound, Outgoing
from handlers.kernel.outbox import enqueue
from handlers.router import handle_inbox_item
from storage.db import is_postgres
from storage.models import InboxItem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # an inbound that fails this often is set aside (klinik inbox failed)
RETRY_SECONDS = (2.0, 10.0)  # before the second and the third try


async def ingest(sessions: async_sessionmaker[AsyncSession], inbound: Inbound, now: datetime) -> bool:
    """Store an inbound; False when this update id / MessageSid was seen before."""
    try:
        async with sessions.begin() as session:
            session.add(InboxItem(channel=inbound.address.channel.value, external_id=inbound.external_id,
                                  payload=inbound.to_json(), received_at=now))
    except IntegrityError:
        log.info("duplicate inbound %s/%s ignored", inbound.address.channel, inbound.external_id)
        return False
    return True


def is_lock_timeout(error: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the file too long, nothing wrong with the item."""
    return "database is locked" in str(error)


class InboxProcessor(DrainLoop):
    """Processes stored inbound messages one at a time, oldest first.

    An inbound whose handling fails is tried again twice (after 2 s and 10 s) while the others go
    on; after the third failure it is set aside with its error (`failed_at`) and the sender is told
    we are on it. A failure while the database is away is not the item's fault: the loop backs off
    and tries the same item again when the database answers.
    """

    name = "inbox"
    idle_seconds = 2.0
    bound_seconds = 60.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: Config,
                 after_commit: Callable[[], None], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions, self.config, self.after_commit, self.clock = sessions, config, after_commit, clock
        self._lock = asyncio.Lock()
        super().__init__()

    async def drain_once(self) -> int:
        """Process every item that is due; returns how many."""
        count = 0
        try:
            async with self._lock:
                while not self._stopping and await self._process_next():
                    count += 1
                    self.pulse.passed()  # a long backlog is progress, not a stall
        finally:
            if count:
                self.after_commit()
        return count

    async def _process_next(self) -> bool:
        """Handle the oldest due item in one transaction; False when there is none."""
        now = self.clock()
        item_id: int | None = None
        try:
            async with self.sessions.begin() as session:
                item = await self._next_item(session, now)
                if item is None:
                    return False
                item_id = item.id
                await handle_inbox_item(session, item, now, self.config)
        except Exception as error:
            if item_id is None or is_lock_timeout(error) or not await database_answers(self.sessions):
                raise  # the database, not the item: the loop backs off and tries this item again
            log.exception("inbound %s failed", item_id)
            await self._record_failure(item_id, error, now)
        return True

    async def _next_item(self, session: AsyncSession, now: datetime) -> InboxItem | None:
        query = (select(InboxItem)
                 .where(InboxItem.processed_at.is_(None),
                        or_(InboxItem.next_attempt_at.is_(None), InboxItem.next_attempt_at <= now))
                 .order_by(InboxItem.id).limit(1))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        return (await session.execute(query)).scalar_one_or_none()

    async def _record_failure(self, item_id: int, error: Exception, now: datetime) -> None:
        # Keep the message (nothing a user sent is lost): try again soon, or set it aside.
        async with self.sessions.begin() as session:
            item = await session.get(InboxItem, item_id)
            if item is None or item.processed_at is not None:
                return
            item.attempts += 1
            item.error = error_text(error)
            if item.attempts < MAX_ATTEMPTS:
                item.next_attempt_at = now + timedelta(seconds=RETRY_SECONDS[item.attempts - 1])
                return
            item.processed_at = item.failed_at = now
            payload = item.payload
        log.error("inbound %s set aside after %s failed tries (klinik inbox failed): %s",
                  item_id, MAX_ATTEMPTS, error_text(error))
        try:  # tell the person we are on it; this may fail too (a malformed address), which changes nothing
            async with self.sessions.begin() as session:
                inbound = Inbound.from_json(payload)
                await enqueue(session, Outgoing(text=t("core.internal_error", self.config.language),
                                                to=inbound.address), now, self.config)
        except Exception as notice_error:
            log.warning("inbound %s: the sender could not be told: %s", item_id, error_text(notice_error))
