"""Twilio over HTTP: the SDK's async client (with timeouts, optionally aimed at another base URL).

twilio 9 sets no timeout on its async requests. ``TimedAsyncTwilioHttpClient`` gives every request
connect and read timeouts, and ``TwilioClient`` turns 429 and 5xx answers into a TransientError
that carries Twilio's ``Retry-After``.

twilio 9 has no base-URL setting. ``RedirectingAsyncTwilioHttpClient`` rewrites the scheme and
host of every request to a Twilio domain (``api.twilio.com``, ``messaging.twilio.com``, any
``*.twilio.com``) so the whole SDK talks to a local mock of the Twilio API (Stoplight Prism in the
end-to-end tests). Production uses it only when ``KLINIK_TWILIO__API_BASE_URL`` is set.

The SDK (with aiohttp and requests, ≈13 MB resident) loads only when WhatsApp is configured: nothing
imports this module at start but `KlinikApp` building its Twilio client.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.whatsapp.download import is_twilio_host
from bot.whatsapp.errors import busy_outcome


def make_client(account_sid: str, auth_token: str, api_base_url: str | None,
                http_client: AsyncTwilioHttpClient | None = None, *, connect_timeout: float = 10.0,
                read_timeout: float = 30.0, connections: int = 100) -> Client:
    """A Twilio client on the async HTTP client with timeouts (aimed at ``api_base_url`` when set);
    `connections`: as many as the delivery worker's in-flight window may grow to."""
    options: dict[str, Any] = {"connect_timeout": connect_timeout, "read_timeout": read_timeout,
                               "connections": connections}
    if http_client is None:
        http_client = (RedirectingAsyncTwilioHttpClient(api_base_url, **options) if api_base_url
                       else TimedAsyncTwilioHttpClient(**options))
    client = TwilioClient(account_sid, auth_token, http_client=http_client,
                          request_guard_seconds=2 * (connect_timeout + read_timeout))
    # The SDK imports its Messages API at first use: here, not inside the first send's step of the event loop
    # (50-300 ms during which webhooks wait)
    client.messages  # noqa: B018
    return client


class TwilioClient(Client):  # type: ignore[misc]
    """The SDK's client: each request is bounded in time, and 429 or 5xx raises TransientError with Retry-After."""

    def __init__(self, *args: Any, request_guard_seconds: float = 80.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_guard_seconds = request_guard_seconds

    async def request_async(self, *args: Any, **kwargs: Any) -> Response:
        """The SDK's request; a busy or failing Twilio becomes a TransientError before the SDK reads it."""
        async with asyncio.timeout(self.request_guard_seconds):
            response = await super().request_async(*args, **kwargs)
        if response.status_code == 429 or response.status_code >= 500:
            raise busy_outcome(response.status_code, response.text, response.headers)
        return response


class TimedAsyncTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """``AsyncTwilioHttpClient`` with connect and read timeouts on every request (the SDK passes none)."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 30.0, connections: int = 100,
                 **kwargs: Any) -> None:
        pool = kwargs.pop("pool_connections", True)
        if not pool or kwargs.get("max_retries") is not None:
            super().__init__(pool_connections=pool, **kwargs)  # the SDK's own session (or none)
        else:  # the SDK's session allows aiohttp's default 100 connections; sends in flight may need more
            super().__init__(pool_connections=False, **kwargs)
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(connections, 1)),
                                                 trace_configs=self.trace_configs)
        self.timeouts = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout,
                                              sock_read=read_timeout)

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
        """One request with our timeouts (a total ``timeout`` from the caller is kept on top)."""
        if auth is not None:
            # Same header aiohttp's deprecated BasicAuth would send, without its warnings.
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        timeouts = self.timeouts if not timeout else aiohttp.ClientTimeout(
            total=timeout, connect=self.timeouts.connect, sock_connect=self.timeouts.sock_connect,
            sock_read=self.timeouts.sock_read)
        kwargs: dict[str, Any] = {"method": method.upper(), "url": url, "params": params, "data": data,
                                  "headers": headers, "timeout": timeouts, "allow_redirects": allow_redirects}
        self.log_request(kwargs)
        session = self.session or aiohttp.ClientSession()
        try:
            async with session.request(**kwargs) as answer:
                response = Response(answer.status, await answer.text(), answer.headers)
                self.log_response(answer.status, response)
                return response
        finally:
            if session is not self.session:
                await session.close()


class RedirectingAsyncTwilioHttpClient(TimedAsyncTwilioHttpClient):
    """``AsyncTwilioHttpClient`` that sends Twilio API requests to ``base_url`` instead.

    The path and query of each request are kept; a path in ``base_url`` is prefixed. URLs
    that are not on a Twilio domain are left alone.
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
        """The SDK's request, sent to the rewritten URL."""
        return await super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
