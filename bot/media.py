"""Media across channels: fetch a file from where it lives, and serve it under an expiring link."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.whatsapp.download import download_media
from handlers.kernel.messages import Attachment, Channel
from storage.models import MediaLink

if TYPE_CHECKING:  # python-telegram-bot loads only with Telegram configured
    from telegram import Bot

LINK_LIFETIME = timedelta(days=7)  # the default of KLINIK_MEDIA_TTL_DAYS
MAX_BYTES = 16 * 1024 * 1024  # WhatsApp's media limit; Telegram bots may download up to 20 MB
MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # raster images only: no SVG, no HTML


@dataclass(frozen=True)
class FetchedMedia:
    """A file's bytes with a name and type fit to re-send."""

    content: bytes
    filename: str
    mime: str


class MediaStore:
    """Fetches Telegram files (Bot API), Twilio media (Basic auth) and the bot's own files."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, bot: Bot | None = None,
                 twilio_auth: tuple[str, str] | None = None, twilio_base_url: str | None = None,
                 public_base_url: str = "", media_dir: Path = Path("data/media"),
                 link_lifetime: timedelta = LINK_LIFETIME) -> None:
        self.sessions, self.bot, self.twilio_auth = sessions, bot, twilio_auth
        self.twilio_base_url, self.public_base_url, self.media_dir = twilio_base_url, public_base_url, media_dir
        self.link_lifetime = link_lifetime

    async def fetch(self, attachment: Attachment) -> FetchedMedia:
        """The attachment's bytes, wherever it came from."""
        name = attachment.name or f"{attachment.kind}{_extension(attachment.mime)}"
        if attachment.ref.startswith("media:"):
            link = await self._link(attachment.ref.removeprefix("media:"))
            if link.source == "file":
                content = await asyncio.to_thread(Path(link.ref).read_bytes)
                return FetchedMedia(content, link.name or name, link.mime)
            return await self.fetch(Attachment(attachment.kind, link.ref, Channel(link.source), link.mime, link.name))
        if attachment.channel == Channel.TELEGRAM:
            if self.bot is None:
                raise LookupError("Telegram is not configured")
            file = await self.bot.get_file(attachment.ref)
            return FetchedMedia(bytes(await file.download_as_bytearray()), name, attachment.mime)
        content = await download_media(attachment.ref, auth=self.twilio_auth, api_base_url=self.twilio_base_url,
                                       max_bytes=MAX_BYTES)
        return FetchedMedia(content, name, attachment.mime)

    async def public_url(self, attachment: Attachment, now: datetime) -> str:
        """An unguessable, expiring URL under which WhatsApp (Twilio) can fetch the file."""
        if attachment.ref.startswith("media:"):
            token = attachment.ref.removeprefix("media:")
        else:
            token = secrets.token_urlsafe(24)
            async with self.sessions.begin() as session:
                session.add(MediaLink(token=token, source=attachment.channel.value, ref=attachment.ref,
                                      mime=attachment.mime[:100], name=attachment.name[:200], created_at=now,
                                      expires_at=now + self.link_lifetime))
        return f"{self.public_base_url.rstrip('/')}/media/{token}"

    async def serve(self, token: str, now: datetime) -> FetchedMedia | None:
        """The file behind a link, or None when unknown or expired."""
        async with self.sessions() as session:
            link = await session.get(MediaLink, token)
        if link is None or link.expires_at <= now:
            return None
        return await self.fetch(Attachment("document", f"media:{token}", Channel.WHATSAPP, link.mime, link.name))

    async def _link(self, token: str) -> MediaLink:
        async with self.sessions() as session:
            link = await session.get(MediaLink, token)
        if link is None:
            raise LookupError(f"unknown media token {token[:4]}…")
        return link


def _extension(mime: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf",
            "audio/ogg": ".ogg", "video/mp4": ".mp4"}.get(mime, "")


def media_headers(mime: str, filename: str) -> tuple[str, dict[str, str]]:
    """Content type and headers for a file someone uploaded: never sniffed, shown inline only if an image."""
    mime = mime.strip().lower()
    if not MIME.fullmatch(mime):
        mime = "application/octet-stream"
    disposition = "inline" if mime in INLINE else "attachment"
    return mime, {"Content-Disposition": content_disposition(disposition, filename),
                  "X-Content-Type-Options": "nosniff",
                  "Content-Security-Policy": "default-src 'none'; sandbox"}


def content_disposition(disposition: str, filename: str) -> str:
    """`inline; filename="a.pdf"`, plus RFC 5987 `filename*=UTF-8''…` when the name is not plain ASCII."""
    name = "".join(ch for ch in filename if ch.isprintable()).strip() or "file"
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in name)[:150]
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name[:150], safe='')}"
    return value
