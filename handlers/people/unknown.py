"""Coordinator tools in chat: numbers that wrote but are not on the roster."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers.kernel.context import Context
from handlers.kernel.dates import format_stamp
from handlers.kernel.registry import command
from handlers.kernel.roles import COORDINATORS
from storage.models import UnknownContact


@command("asing", roles=COORDINATORS, help_key="admin.help_asing", menu_key="admin.menu_asing", order=60)
async def list_unknown_contacts(ctx: Context) -> None:
    """The latest numbers that wrote to the bot without being on the roster."""
    query = select(UnknownContact).order_by(UnknownContact.last_seen_at.desc()).limit(10)
    contacts = list((await ctx.session.execute(query)).scalars())
    if not contacts:
        ctx.reply("admin.no_unknown")
        return
    zone = ctx.config.timezone
    lines = [_contact_line(c, zone, ctx.lang) for c in contacts]
    ctx.reply("admin.unknown_list", lines="\n".join(lines))


def _contact_line(contact: UnknownContact, zone: ZoneInfo, language: str) -> str:
    # Coordinators see the full number: they are the ones who call back.
    who = contact.phone or f"Telegram {contact.address}"
    seen = format_stamp(contact.last_seen_at, zone, language)
    return f"• {who} ({contact.channel}, {contact.message_count}×, {seen}): {contact.last_text[:40]}"
