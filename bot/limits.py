"""The HTTP edge: capped request bodies, strict form and JSON parsing, inbound fields that fit their columns.

Nothing from outside reaches a 500: an oversized body gets 413 before it is read whole, a malformed one
400, a field that would not fit its column is refused (and counted) before anything is stored, and a
database that does not answer gives 503 so the caller retries later.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections import Counter
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.kernel.messages import Attachment, Channel, Inbound
from storage.models import InboxItem, MediaLink, OutboxMessage, Person, UnknownContact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # default of KLINIK_HTTP_MAX_BODY_BYTES: a Twilio form is a few KB, an update tens
MAX_FORM_FIELDS = 200  # a Twilio form with ten media has about 50
MAX_ATTACHMENTS = 10  # Twilio's limit per message, and the largest Telegram album
MAX_PAYLOAD = 256  # our buttons' payloads are short (Telegram allows 64 bytes of callback data)
PHONE = re.compile(r"\+[1-9][0-9]{5,14}")  # E.164
CHAT_ID = re.compile(r"-?[0-9]{1,20}")  # Telegram chat and user ids are 64-bit integers

rejected: Counter[str] = Counter()  # refused inbound requests since start, by reason


def _length(column: Any) -> int:
    """The length of a VARCHAR column, so limits follow the models."""
    return int(column.type.length)


EXTERNAL_ID = _length(InboxItem.__table__.c.external_id)
REPLY_TO = _length(OutboxMessage.__table__.c.external_id)
ADDRESS = min(_length(OutboxMessage.__table__.c.address), _length(Person.__table__.c.telegram_chat_id))
PHONE_LENGTH = min(_length(UnknownContact.__table__.c.phone), _length(Person.__table__.c.phone))
USER_ID = _length(Person.__table__.c.telegram_user_id)
DISPLAY_NAME = _length(UnknownContact.__table__.c.display_name)
MEDIA_REF = _length(MediaLink.__table__.c.ref)
MEDIA_MIME = _length(MediaLink.__table__.c.mime)
MEDIA_NAME = _length(MediaLink.__table__.c.name)


class Rejected(Exception):
    """A request the edge refuses: ``status`` is what the caller gets, the message says why (for the log)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class BodyTooLarge(Rejected):
    """The body is longer than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes", 413)


def reject(where: str, error: Rejected) -> PlainTextResponse:
    """Log and count a refused request, and answer it (no body of the request is logged)."""
    rejected[error.reason.split(":")[0]] += 1
    log.warning("rejected %s (%s): %s; %d refused since start", where, error.status, error.reason,
                sum(rejected.values()))
    return PlainTextResponse(error.reason.split(":")[0], status_code=error.status)


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a secret header (Starlette decodes headers as Latin-1)."""
    return given is not None and hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode())


def parse_form(body: bytes, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, strictly: UTF-8, every field `name=value`."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(f"malformed form: {type(error).__name__}") from None
    return dict(pairs)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body, strictly UTF-8."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError; so is a too-deep nesting
        raise Rejected(f"malformed JSON: {type(error).__name__}") from None
    except RecursionError:
        raise Rejected("malformed JSON: too deep") from None
    if not isinstance(data, dict):
        raise Rejected("malformed JSON: not an object")
    return data


def clean(text: str) -> str:
    """Text a database column can hold: no NUL characters, no lone surrogates (JSON allows both)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _fits(value: str | None, limit: int, what: str) -> str | None:
    if value is not None and len(value) > limit:
        raise Rejected(f"field too long: {what} over {limit} characters")
    return value


def _typed(inbound: Inbound) -> None:
    """Every field of the type it is declared with (a channel library may pass on whatever JSON held)."""
    texts = {"address": inbound.address.id, "external_id": inbound.external_id, "sender_id": inbound.sender_id,
             "sender_name": inbound.sender_name, "text": inbound.text}
    optional = {"payload": inbound.payload, "contact_phone": inbound.contact_phone,
                "contact_user_id": inbound.contact_user_id, "reply_to_external_id": inbound.reply_to_external_id,
                "unsupported": inbound.unsupported}
    for item in inbound.attachments:
        if not isinstance(item, Attachment):
            raise Rejected("bad field: attachment")
        texts |= {"attachment kind": item.kind, "attachment ref": item.ref, "attachment mime": item.mime,
                  "attachment name": item.name}
    wrong = [name for name, value in texts.items() if not isinstance(value, str)]
    wrong += [name for name, value in optional.items() if value is not None and not isinstance(value, str)]
    if wrong:
        raise Rejected(f"bad field: {wrong[0]} is not text")


def fit_inbound(inbound: Inbound) -> Inbound:
    """The inbound with every field checked against the column it is stored in; Rejected when one cannot fit.

    Ids, addresses and media references are refused when too long or of the wrong shape; free text is
    cleaned; a display name or file name is shortened (it is only shown).
    """
    _typed(inbound)
    address = clean(inbound.address.id)
    if inbound.address.channel == Channel.WHATSAPP:
        if not PHONE.fullmatch(address) or len(address) > PHONE_LENGTH:
            raise Rejected("bad field: sender is not a phone number")
    elif not CHAT_ID.fullmatch(address) or len(address) > ADDRESS:
        raise Rejected("bad field: chat id")
    external_id = clean(inbound.external_id)
    if not external_id:
        raise Rejected("bad field: message id missing")
    _fits(external_id, EXTERNAL_ID, "message id")
    _fits(inbound.sender_id, USER_ID, "sender id")
    _fits(inbound.contact_user_id, USER_ID, "contact user id")
    _fits(inbound.contact_phone, USER_ID, "contact phone")
    _fits(inbound.payload, MAX_PAYLOAD, "button payload")
    if len(inbound.attachments) > MAX_ATTACHMENTS:
        raise Rejected(f"bad field: more than {MAX_ATTACHMENTS} attachments")
    attachments = tuple(_fit_attachment(item) for item in inbound.attachments)
    reply_to = inbound.reply_to_external_id
    if reply_to is not None and (len(reply_to) > REPLY_TO or not reply_to.isprintable()):
        reply_to = None  # only used to find the notification answered; an odd one is ignored
    return replace(
        inbound, address=replace(inbound.address, id=address), external_id=external_id,
        sender_id=clean(inbound.sender_id), sender_name=clean(inbound.sender_name)[:DISPLAY_NAME],
        text=clean(inbound.text), payload=None if inbound.payload is None else clean(inbound.payload),
        attachments=attachments, reply_to_external_id=reply_to,
        contact_phone=None if inbound.contact_phone is None else clean(inbound.contact_phone),
        contact_user_id=None if inbound.contact_user_id is None else clean(inbound.contact_user_id))


def _fit_attachment(item: Attachment) -> Attachment:
    _fits(item.ref, MEDIA_REF, "media reference")
    if not item.ref:
        raise Rejected("bad field: media reference missing")
    _fits(item.mime, MEDIA_MIME, "media type")
    if item.size is not None and not (type(item.size) is int and 0 <= item.size < 2**53):
        raise Rejected("bad field: media size")
    return replace(item, ref=clean(item.ref), mime=clean(item.mime), name=clean(item.name)[:MEDIA_NAME])


def is_unavailable(error: BaseException) -> bool:
    """The database (or the network to it) is down: the caller should retry, not give up."""
    return isinstance(error, OperationalError | InterfaceError | DisconnectionError | ConnectionError
                      | TimeoutError | OSError)


class Edge:
    """ASGI middleware: caps request bodies and turns every failure into a short answer.

    A declared Content-Length over the limit gets 413 before a byte is read; a body that grows past it
    while read (chunked) gets 413 as soon as it does. Rejected becomes its status, an unreachable
    database 503, and any other exception is logged with its traceback and answered 500 (a bug).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, larger: dict[str, int] | None = None) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes
        self.larger = larger or {}  # exact paths allowed a larger body (the console's roster upload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        where = f"{scope.get('method', '')} {'/media/…' if path.startswith('/media/') else path[:100]}"  # tokens
        started = False
        limit = self.larger.get(path, self.max_body_bytes)

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def answer(response: PlainTextResponse) -> None:
            if not started:
                await response(scope, receive, send)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            await self.app(scope, self._capped(receive, limit), tracked_send)
        except Rejected as error:
            await answer(reject(where, error))
        except Exception as error:
            if is_unavailable(error):
                log.warning("%s: database or network unavailable: %s", where, type(error).__name__)
                await answer(PlainTextResponse("unavailable, try again later", status_code=503,
                                               headers={"Retry-After": "5"}))
            else:
                log.exception("%s failed", where)
                await answer(PlainTextResponse("internal error", status_code=500))

    def _capped(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message
        return capped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit() or len(value) > 18:
                raise Rejected("malformed Content-Length")
            return int(value)
    return None
