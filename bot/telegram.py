"""Telegram adapter: updates become Inbound messages; outbox rows become Bot API calls."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.delivery import PartSent, PermanentError, TransientError, no_progress
from bot.health import Pulse, error_text
from bot.limits import Rejected, fit_inbound, reject
from bot.media import MediaStore
from bot.tls import tls_context
from handlers.kernel.i18n import t
from handlers.kernel.messages import Address, Attachment, Channel, Inbound, OutgoingPart
from handlers.kernel.outbox import message_of
from storage.models import OutboxMessage

log = logging.getLogger(__name__)
os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta, as PTB 23 will

Ingest = Callable[[Inbound], Awaitable[bool]]
BOLD = re.compile(r"\*([^*\n]+)\*")


def make_bot(token: str, api_base_url: str, *, connect_timeout: float = 10.0, read_timeout: float = 30.0,
             connections: int = 16) -> Bot:
    """A Bot talking to the configured Bot API server (the public one, or an emulator in tests).

    Every call has connect, read, write and pool timeouts; getUpdates waits its long-poll time on top.
    `connections`: the sending pool, as large as the delivery worker's in-flight window may grow.
    """
    base = api_base_url.rstrip("/")
    def request(**options: Any) -> HTTPXRequest:
        return HTTPXRequest(connect_timeout=connect_timeout, read_timeout=read_timeout, write_timeout=read_timeout,
                            pool_timeout=connect_timeout, httpx_kwargs={"verify": tls_context()}, **options)

    return Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
               request=request(connection_pool_size=max(connections, 1), media_write_timeout=max(read_timeout, 60.0)),
               get_updates_request=request())


def to_inbound(update: Update, received_at: datetime) -> Inbound | None:
    """Translate one update; None for kinds the bot does not handle (edits, channel posts)."""
    if update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message else query.from_user.id
        return Inbound(address=Address(Channel.TELEGRAM, str(chat_id)), external_id=str(update.update_id),
                       received_at=received_at, sender_id=str(query.from_user.id),
                       sender_name=query.from_user.full_name, payload=query.data or "",
                       is_private=query.message is None or query.message.chat.type == "private")
    message = update.message
    if message is None or message.from_user is None:
        return None
    contact = message.contact
    return Inbound(
        address=Address(Channel.TELEGRAM, str(message.chat.id)), external_id=str(update.update_id),
        received_at=received_at, sender_id=str(message.from_user.id),
        sender_name=message.from_user.full_name, text=message.text or message.caption or "",
        attachments=attachments_of(message),
        contact_phone=contact.phone_number if contact else None,
        contact_user_id=str(contact.user_id) if contact and contact.user_id else None,
        reply_to_external_id=str(message.reply_to_message.message_id) if message.reply_to_message else None,
        unsupported=unsupported_kind(message), is_private=message.chat.type == "private",
    )


def attachments_of(message: Message) -> tuple[Attachment, ...]:
    """Photos (largest size), documents, voice notes, audio and video as attachments."""
    found: list[Attachment] = []
    if message.photo:
        best = message.photo[-1]
        found.append(Attachment("photo", best.file_id, Channel.TELEGRAM, "image/jpeg", "", best.file_size))
    for kind in ("document", "voice", "audio", "video"):
        media = getattr(message, kind)
        if media is not None:
            found.append(Attachment(kind, media.file_id, Channel.TELEGRAM, media.mime_type or "",
                                    getattr(media, "file_name", None) or "", media.file_size))
    return tuple(found)


def unsupported_kind(message: Message) -> str | None:
    """Stickers, locations, polls and the like get a polite 'cannot process' reply."""
    for attribute, label in (("sticker", "stiker"), ("location", "lokasi"), ("poll", "polling"),
                             ("animation", "GIF"), ("video_note", "video bulat")):
        if getattr(message, attribute, None):
            return label
    return None


def merge_album(parts: list[Inbound]) -> Inbound:
    """A Telegram album arrives as several updates; the person sent one message."""
    first = parts[0]
    text = next((p.text for p in parts if p.text), "")
    attachments = tuple(a for p in parts for a in p.attachments)
    return Inbound(address=first.address, external_id=first.external_id, received_at=first.received_at,
                   sender_id=first.sender_id, sender_name=first.sender_name, text=text,
                   attachments=attachments, reply_to_external_id=first.reply_to_external_id,
                   is_private=first.is_private)


def group_albums(updates: list[Update], received_at: datetime) -> list[Inbound]:
    """Translate a batch of updates, merging album parts (same media_group_id) into one."""
    ordered: list[list[Inbound]] = []
    albums: dict[str, list[Inbound]] = {}
    for update in updates:
        inbound = to_inbound(update, received_at)
        if inbound is None:
            continue
        group = update.message.media_group_id if update.message else None
        if group is None:
            ordered.append([inbound])
        elif group in albums:
            albums[group].append(inbound)
        else:
            albums[group] = [inbound]
            ordered.append(albums[group])
    return [parts[0] if len(parts) == 1 else merge_album(parts) for parts in ordered]


STANDBY_SECONDS = 10.0  # how often a process that does not poll checks whether the poller is gone


class PollLease(Protocol):
    """One process polls a bot token at a time (Telegram answers a second poller with 409)."""

    async def hold(self) -> bool: ...


class TelegramPoller:
    """Long polling that acknowledges an update only after it is stored (durable inbox).

    Any failure (network, 409 Conflict while another process polls with the token, a database
    that refuses the updates) is logged and retried with backoff; polling never ends on its own.
    Updates not stored are not acknowledged, so Telegram gives them again.
    """

    name = "telegram"
    bound_seconds = 120.0  # a long poll lasts up to 25 s plus the read timeout

    def __init__(self, bot: Bot, ingest: Ingest, after_ingest: Callable[[], None], *,
                 lease: PollLease | None = None) -> None:
        self.bot, self.ingest, self.after_ingest, self.lease = bot, ingest, after_ingest, lease
        self.offset: int | None = None
        self.pulse = Pulse(self.name, self.bound_seconds)
        self._stopping = False
        self._stopped = asyncio.Event()
        self._in_flight: asyncio.Future[tuple[Update, ...]] | None = None

    def stop(self) -> None:
        """Leave the loop; a long poll in flight is dropped (its updates are not acknowledged yet)."""
        self._stopping = True
        self._stopped.set()
        if self._in_flight is not None:
            self._in_flight.cancel()

    async def run(self, poll_seconds: int = 25) -> None:
        """Poll until stopped; every failure is retried after a pause that grows while it lasts."""
        webhook_removed = False
        failures = 0
        while not self._stopping:
            try:
                if self.lease is not None and not await self.lease.hold():
                    self.pulse.passed()  # standing by while another process polls is healthy
                    await self._pause(STANDBY_SECONDS)
                    continue
                if not webhook_removed:
                    await self.bot.delete_webhook()
                    webhook_removed = True
                await self.poll_once(poll_seconds)
            except RetryAfter as error:
                delay = _seconds(error.retry_after)
                log.warning("telegram polling: flood control, waiting %.0f s", delay)
            except Conflict as error:
                failures += 1
                delay = min(2.0 ** (failures - 1), 60.0)
                self.pulse.failed(error)
                log.warning("telegram polling: 409 Conflict (%s): another process polls with this token, or a "
                            "webhook is set; retrying in %.0f s", error.message, delay)
            except Exception as error:
                failures += 1
                delay = min(2.0 ** (failures - 1), 5.0)  # short: a database back from an outage is used at once
                self.pulse.failed(error)
                if failures == 1 and not isinstance(error, NetworkError):
                    log.exception("telegram polling failed; retrying in %.0f s", delay)
                else:
                    log.warning("telegram polling: %s; retrying in %.0f s", error_text(error), delay)
            else:
                if failures:
                    log.info("telegram polling: working again after %s failures", failures)
                failures = 0
                self.pulse.passed()
                continue
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    async def poll_once(self, poll_seconds: int = 25) -> int:
        """Fetch, store and acknowledge one batch; returns how many updates arrived."""
        updates = await self._fetch(offset=self.offset, timeout=poll_seconds,
                                    allowed_updates=["message", "callback_query"])
        if updates and updates[-1].message and updates[-1].message.media_group_id:
            # The rest of an album may still be on its way.
            updates.extend(await self._fetch(offset=updates[-1].update_id + 1, timeout=1))
        await ingest_updates(updates, self.ingest)
        if updates:
            self.offset = updates[-1].update_id + 1
            self.after_ingest()
        await answer_callbacks(self.bot, updates)
        return len(updates)

    async def _fetch(self, **parameters: Any) -> list[Update]:
        """One getUpdates call that stop() can cut short (a long poll may last 25 s)."""
        if self._stopping:
            return []
        self._in_flight = asyncio.ensure_future(self.bot.get_updates(**parameters))
        try:
            return list(await self._in_flight)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._stopping and not (current and current.cancelling()):
                return []
            raise
        finally:
            self._in_flight = None


async def ingest_updates(updates: list[Update], ingest: Ingest) -> None:
    """Store every update of a batch (albums merged) before it is acknowledged."""
    now = datetime.now(UTC)
    for inbound in group_albums(updates, now):
        try:
            fitted = fit_inbound(inbound)  # the same field checks as webhooks: a bad update never stalls the batch
        except Rejected as error:
            reject("Telegram update (polling)", error)
            continue
        await ingest(fitted)


async def answer_callbacks(bot: Bot, updates: list[Update]) -> None:
    """Stop the button's spinner; failing here is harmless."""
    for update in updates:
        if update.callback_query is not None:
            try:
                await update.callback_query.get_bot().answer_callback_query(update.callback_query.id)
            except TelegramError as error:
                log.debug("answer_callback_query: %s", error)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def to_html(text: str) -> str:
    """Our catalog marks bold as *word* (WhatsApp style); Telegram gets HTML."""
    return BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def reply_markup(message: OutgoingPart, language: str) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Inline buttons, or the share-contact keyboard."""
    if message.request_contact:
        button = KeyboardButton(t("core.share_contact_button", language), request_contact=True)
        return ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
    if not message.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.payload)] for b in message.buttons])


class TelegramSender:
    """Delivers outbox rows through the Bot API, carrying media from any channel.

    A row goes out in parts: the text (with its buttons), then each attachment, each part recorded
    as sent before the next. An attachment that cannot be fetched after `media_attempts` tries (or
    that Telegram refuses) is replaced by a short note, with the link when there is one.

    No `already_sent` (see bot/delivery.Reconciler): the Bot API cannot list the messages a bot sent and
    takes no idempotency key, so a part in doubt after a crash is sent again; what a kill -9 repeats on
    Telegram is bounded by the in-flight window only.
    """

    def __init__(self, bot: Bot, media: MediaStore, language: str = "id", media_attempts: int = 3) -> None:
        self.bot, self.media, self.language, self.media_attempts = bot, media, language, media_attempts

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None:
        """Send the parts not yet sent; returns the text's message id."""
        outgoing = message_of(row)
        message_id = row.external_id
        parts: list[Attachment | None] = [None] if outgoing.text or not outgoing.attachments else []
        parts += list(outgoing.attachments)
        try:
            for number, attachment in enumerate(parts, 1):
                if number <= row.parts_sent:
                    continue
                if attachment is None:
                    message = await self.bot.send_message(
                        chat_id=row.address, text=to_html(outgoing.text), parse_mode=ParseMode.HTML,
                        reply_markup=reply_markup(outgoing, self.language))
                    message_id = str(message.message_id)
                    await progress(number, message_id)
                else:
                    await self._send_attachment(row, attachment)
                    await progress(number, None)
        except RetryAfter as error:
            raise TransientError("telegram flood control", _seconds(error.retry_after)) from error
        except Forbidden as error:
            raise PermanentError(f"blocked: {error.message}", unreachable=True) from error
        except BadRequest as error:
            raise PermanentError(f"bad request: {error.message}") from error
        except (TimedOut, NetworkError) as error:
            raise TransientError(f"telegram network: {error}") from error
        return message_id

    async def _send_attachment(self, row: OutboxMessage, attachment: Attachment) -> None:
        chat_id = row.address
        media: Any = attachment.ref
        filename = attachment.name or None
        if attachment.channel != Channel.TELEGRAM or attachment.ref.startswith("media:"):
            try:
                fetched = await self.media.fetch(attachment)
            except Exception as error:
                if row.attempts + 1 < self.media_attempts and not isinstance(error, LookupError | ValueError):
                    raise TransientError(f"attachment not fetched: {error_text(error)}") from error
                log.warning("outbox row %s: attachment not fetched, a note goes instead: %s", row.id, error_text(error))
                await self._send_note(chat_id, attachment)
                return
            media, filename = fetched.content, fetched.filename
        try:
            if attachment.kind == "photo":
                await self.bot.send_photo(chat_id=chat_id, photo=media)
            elif attachment.kind in ("voice", "audio") and attachment.channel == Channel.TELEGRAM:
                await getattr(self.bot, f"send_{attachment.kind}")(chat_id=chat_id, **{attachment.kind: media})
            else:
                await self.bot.send_document(chat_id=chat_id, document=media, filename=filename)
        except BadRequest as error:  # a file Telegram will not take (expired id, wrong type): the note instead
            log.warning("outbox row %s: attachment refused, a note goes instead: %s", row.id, error.message)
            await self._send_note(chat_id, attachment)

    async def _send_note(self, chat_id: str, attachment: Attachment) -> None:
        link = attachment.ref if attachment.ref.startswith(("https://", "http://")) else ""
        note = (t("core.attachment_unavailable_link", self.language, link=link) if link
                else t("core.attachment_unavailable", self.language))
        await self.bot.send_message(chat_id=chat_id, text=note)
