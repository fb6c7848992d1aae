"""Group chats and channels: the bot serves people in private chats only.

A message from a group is not matched to anyone, links no account and starts nothing; the group
is told once that the bot works in private chat, and the stored message keeps no content.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Inbound, Outgoing
from storage.models import OutboxMessage


async def answer_group_once(session: AsyncSession, inbound: Inbound, config: Config) -> list[Outgoing]:
    """The first message from a group gets the private-chat notice; later ones nothing."""
    told = select(OutboxMessage.id).where(OutboxMessage.channel == inbound.address.channel.value,
                                          OutboxMessage.address == inbound.address.id).limit(1)
    if (await session.execute(told)).first() is not None:
        return []
    return [Outgoing(text=t("pdp.private_only", config.language), to=inbound.address)]


def group_message_trace(inbound: Inbound) -> dict[str, Any]:
    """What the inbox keeps of a group message: where and when, not who or what."""
    return {"channel": inbound.address.channel.value, "address": inbound.address.id,
            "external_id": inbound.external_id, "received_at": inbound.received_at.isoformat(),
            "is_private": False, "redacted": True}
