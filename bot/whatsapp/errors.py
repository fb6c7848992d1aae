"""Twilio's error codes turned into the delivery worker's channel-neutral outcomes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from twilio.base.exceptions import TwilioRestException

from bot.delivery import PermanentError, TransientError
from bot.whatsapp.codes import is_outside_window, is_unreachable
from bot.whatsapp.lean_aiohttp import aiohttp

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class OutsideWindow(PermanentError):
    """Twilio refused free text: the person's last message is more than 24 hours old."""


def outcome_of(error: TwilioRestException) -> TransientError | PermanentError:
    """429 and 5xx are worth retrying; other errors are final, with Twilio's code in the reason."""
    if error.status == 429 or error.status >= 500:
        return TransientError(f"twilio {error.status}: {error.msg}")
    reason = f"twilio {error.code}: {error.msg}"
    if is_outside_window(error.code):
        return OutsideWindow(reason)
    return PermanentError(reason, unreachable=is_unreachable(error.code))


def retry_after_of(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date); None without a usable one."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def busy_outcome(status: int, body: str, headers: Mapping[str, str] | None) -> TransientError:
    """A 429 or 5xx answer: retry later, not before Retry-After (a 429 without one holds the channel 1 s)."""
    try:
        message = str(json.loads(body).get("message") or "")
    except (ValueError, AttributeError):
        message = ""
    retry_after = retry_after_of(headers)
    if retry_after is None and status == 429:
        retry_after = 1.0
    return TransientError(f"twilio {status}: {message or 'busy'}"[:500], retry_after)


def network_outcome(error: Exception) -> TransientError:
    """Twilio could not be reached, or its answer never came: try again later (after looking, when the
    request may have arrived: anything but a connection that was never made)."""
    never_arrived = isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return TransientError(f"twilio network: {error}", maybe_sent=not never_arrived)
