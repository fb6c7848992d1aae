"""Secrets never reach a log: every record is scrubbed of the configured tokens as it is made.

httpx logs each request URL, and the Bot API puts the bot token in the URL; Twilio's Basic auth carries
the auth token. Scrubbing at the record factory covers every logger, level and handler (ours, uvicorn's,
pytest's), including tracebacks.
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any
from urllib.parse import quote

MASK = "[redacted]"
MIN_SECRET = 8  # shorter values would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def protect(*secrets: str | None, basic_user: str | None = None) -> None:
    """Mask these values in every log record from now on (also URL-encoded, and as Basic auth with basic_user)."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < MIN_SECRET:
            continue
        forms |= {secret, quote(secret, safe=""), quote(secret)}
        if basic_user:
            forms.add(base64.b64encode(f"{basic_user}:{secret}".encode()).decode("ascii"))
    if not forms:
        return
    with _lock:
        _secrets.update(forms)
        _install()


def redact(text: str) -> str:
    """The text with every protected value masked."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: a token inside its URL-encoding
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub(record: logging.LogRecord) -> None:
    """Mask secrets in a record's message, traceback and stack."""
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later, with the args we cannot read
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        traceback = logging.Formatter().formatException(record.exc_info)
        if redact(traceback) != traceback:
            record.exc_text = redact(traceback)  # formatters use exc_text when set
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install() -> None:
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
