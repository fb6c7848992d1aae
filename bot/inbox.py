"""Durable inbox: store an inbound before acknowledging it, then process it in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import DrainLoop
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Inbound, Outgoing
from handlers.kernel.outbox import enqueue
from handlers.router import handle_inbox_item
from storage.db import is_postgres
from storage.models import InboxItem

log = logging.getLogger(__name__)


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


class InboxProcessor(DrainLoop):
    """Processes stored inbound messages one at a time, oldest first; survives handler bugs."""

    idle_seconds = 2.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: Config,
                 after_commit: Callable[[], None], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions, self.config, self.after_commit, self.clock = sessions, config, after_commit, clock
        self._lock = asyncio.Lock()
        super().__init__()

    async def drain_once(self) -> int:
        """Process every pending item; returns how many."""
        count = 0
        async with self._lock:
            while (item_id := await self._next_id()) is not None:
                await self._process(item_id)
                count += 1
        if count:
            self.after_commit()
        return count

    async def _next_id(self) -> int | None:
        async with self.sessions() as session:
            query = (select(InboxItem.id).where(InboxItem.processed_at.is_(None))
                     .order_by(InboxItem.id).limit(1))
            return (await session.execute(query)).scalar_one_or_none()

    async def _process(self, item_id: int) -> None:
        now = self.clock()
        try:
            async with self.sessions.begin() as session:
                item = await self._lock_item(session, item_id)
                if item is not None:
                    await handle_inbox_item(session, item, now, self.config)
        except Exception as error:
            log.exception("inbound %s failed", item_id)
            await self._record_failure(item_id, error, now)

    async def _lock_item(self, session: AsyncSession, item_id: int) -> InboxItem | None:
        query = select(InboxItem).where(InboxItem.id == item_id, InboxItem.processed_at.is_(None))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        return (await session.execute(query)).scalar_one_or_none()

    async def _record_failure(self, item_id: int, error: Exception, now: datetime) -> None:
        # Keep the message (nothing a user sent is lost) and tell them we are on it.
        async with self.sessions.begin() as session:
            item = await session.get(InboxItem, item_id)
            if item is None:
                return
            item.processed_at, item.error = now, f"{type(error).__name__}: {error}"[:500]
            inbound = Inbound.from_json(item.payload)
            await enqueue(session, Outgoing(text=t("core.internal_error", self.config.language),
                                            to=inbound.address), now, self.config)
