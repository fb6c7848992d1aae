"""An async Twilio HTTP client that sends every request to another base URL.

twilio 9 has no base-URL setting. This client rewrites the scheme and host of every request
to a Twilio domain (``api.twilio.com``, ``messaging.twilio.com``, any ``*.twilio.com``) so the
whole SDK talks to a local mock of the Twilio API (Stoplight Prism in the end-to-end tests),
and records each request so tests can assert on what was sent. Production uses it only when
the setting ``KLINIK_TWILIO__API_BASE_URL`` is set.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the SDK made it (after the URL rewrite) and the status it got."""

    method: str
    url: str
    original_url: str
    params: dict[str, object] = field(default_factory=dict)
    data: dict[str, object] = field(default_factory=dict)
    status: int | None = None


def is_twilio_host(host: str) -> bool:
    """True for twilio.com and any of its subdomains."""
    host = host.lower().rstrip(".")
    return host == "twilio.com" or host.endswith(".twilio.com")


class RedirectingAsyncTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """``AsyncTwilioHttpClient`` that sends Twilio API requests to ``base_url`` instead.

    The path and query of each request are kept; a path in ``base_url`` is prefixed. URLs
    that are not on a Twilio domain are left alone. Every request is appended to
    ``requests`` (a ``RecordedRequest``) once its answer has arrived, or with
    ``status=None`` when it failed.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"base_url must be absolute, like http://127.0.0.1:4010: {base_url!r}")
        self.base_url = base_url
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self.requests: list[RecordedRequest] = []

    def rewrite(self, url: str) -> str:
        """The URL this client really calls for ``url``."""
        parts = urlsplit(url)
        if not is_twilio_host(parts.hostname or ""):
            return url
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Response:
        target = self.rewrite(url)
        if auth is not None:
            # Same header aiohttp's deprecated BasicAuth would send, without its warnings.
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
            auth = None
        status: int | None = None
        try:
            response = await super().request(
                method,
                target,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
            )
            status = response.status_code
            return response
        finally:
            self.requests.append(
                RecordedRequest(
                    method=method.upper(),
                    url=target,
                    original_url=url,
                    params=dict(params or {}),
                    data=dict(data or {}),
                    status=status,
                )
            )


def make_async_http_client(api_base_url: str | None, **kwargs: Any) -> AsyncTwilioHttpClient:
    """The HTTP client for ``twilio.rest.Client``: redirecting when ``api_base_url`` is set."""
    if api_base_url:
        return RedirectingAsyncTwilioHttpClient(api_base_url, **kwargs)
    return AsyncTwilioHttpClient(**kwargs)
