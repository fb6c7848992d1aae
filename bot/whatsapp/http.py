"""Twilio's REST API, the two calls the bot makes: create a message, list the messages to a number.

The bot calls ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` itself (POST form-encoded to create, GET with
To, From and DateSent filters to list; Basic auth with the account SID and auth token) over one long-lived aiohttp
session, instead of through the twilio SDK's client: its generated 2010 API and its HTTP layer (which imports
requests) would be ≈11 MB of the process's memory for these two calls. Parameter names, the list's paging
(``next_page_uri``) and the errors (``{"code", "message", "more_info", "status"}`` raised as the SDK's
``TwilioRestException``, with the SDK's "Unable to create record: …" message) follow the SDK
(twilio/rest/api/v2010/account/message/__init__.py, twilio/base/version.py and page.py).

Every request has connect and read timeouts and a guard on the whole; 429 and 5xx answers become a
TransientError that carries Twilio's ``Retry-After``. ``RedirectingTwilioHttp`` rewrites the scheme and host of
a request to a Twilio domain (``api.twilio.com``, any ``*.twilio.com``) to a local mock of the Twilio API
(Stoplight Prism in the end-to-end tests); production uses it only when ``KLINIK_TWILIO__API_BASE_URL`` is set.

aiohttp loads only when WhatsApp is configured: nothing imports this module at start but `KlinikApp` building
its Twilio client.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from bot.tls import tls_context
from bot.whatsapp.download import aimed_at
from bot.whatsapp.errors import busy_outcome
from bot.whatsapp.lean_aiohttp import aiohttp

API_ROOT = "https://api.twilio.com"
USER_AGENT = "klinik-bisnis (aiohttp)"
# The create call's parameters by the SDK's names (MessageList.create_async) and their form fields
CREATE_FIELDS = {"to": "To", "from_": "From", "body": "Body", "media_url": "MediaUrl",
                 "status_callback": "StatusCallback", "content_sid": "ContentSid",
                 "content_variables": "ContentVariables", "messaging_service_sid": "MessagingServiceSid"}


@dataclass(frozen=True)
class Response:
    """An HTTP answer: status, body text, headers."""

    status_code: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageRecord:
    """The fields of a Message resource the bot reads (dates parsed from RFC 2822, as the SDK does)."""

    sid: str | None
    status: str | None = None
    direction: str | None = None
    body: str | None = None
    to: str | None = None
    from_: str | None = None
    date_created: datetime | None = None
    date_sent: datetime | None = None
    error_code: int | None = None

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> MessageRecord:
        return cls(sid=payload.get("sid"), status=payload.get("status"), direction=payload.get("direction"),
                   body=payload.get("body"), to=payload.get("to"), from_=payload.get("from"),
                   date_created=rfc2822(payload.get("date_created")), date_sent=rfc2822(payload.get("date_sent")),
                   error_code=payload.get("error_code"))


@dataclass(frozen=True)
class MessagePage:
    """One page of a message list, newest first; ``next_page_url``: the next page's absolute URL, if any."""

    messages: list[MessageRecord]
    next_page_url: str | None = None


def rfc2822(value: object) -> datetime | None:
    """Twilio's "Tue, 01 Dec 2026 08:15:00 +0000" as a UTC datetime (None when absent or unreadable)."""
    parsed = parsedate(value) if isinstance(value, str) else None
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def iso8601(value: datetime | date | str) -> str:
    """A filter's date as the SDK sends it (serialize.iso8601_datetime)."""
    return value if isinstance(value, str) else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def form(data: Mapping[str, object]) -> str:
    """Form-encoded fields; a list (MediaUrl) is one field per item, as the SDK sends it."""
    return urlencode([(key, str(item)) for key, value in data.items()
                      for item in (value if isinstance(value, list | tuple) else [value])])


class TwilioHttp:
    """HTTP to Twilio over one long-lived aiohttp session (made at the first request, inside the event loop).

    Each request has connect and read timeouts; `connections`: as many as the delivery worker's in-flight
    window may grow to (aiohttp's default is 100)."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 30.0, connections: int = 100) -> None:
        self.connections = max(connections, 1)
        self.timeouts = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout,
                                              sock_read=read_timeout)
        self.session: aiohttp.ClientSession | None = None

    def rewrite(self, url: str) -> str:
        """The URL this client really calls for ``url``."""
        return url

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None, headers: Mapping[str, str] | None = None,
                      auth: tuple[str, str] | None = None) -> Response:
        """One request: ``params`` in the query, ``data`` form-encoded in the body, ``auth`` as Basic."""
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        body: str | None = None
        if data is not None:
            body = form(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        query = {key: str(value) for key, value in params.items()} if params else None
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=self.connections, ssl=tls_context())  # the bot's one context
            self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeouts)
        async with self.session.request(method.upper(), self.rewrite(url), params=query, data=body, headers=sent,
                                        allow_redirects=False) as answer:
            return Response(answer.status, await answer.text(), answer.headers)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class RedirectingTwilioHttp(TwilioHttp):
    """``TwilioHttp`` that sends Twilio API requests to ``base_url`` instead.

    The path and query of each request are kept; a path in ``base_url`` is prefixed. URLs
    that are not on a Twilio domain are left alone.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"base_url must be absolute, like http://127.0.0.1:4010: {base_url!r}")
        self.base_url = base_url

    def rewrite(self, url: str) -> str:
        return aimed_at(url, self.base_url)


class TwilioClient:
    """The Messages resource of Twilio's 2010 API: create, list a page, the next page.

    Each request is bounded in time as a whole; 429 or 5xx raises TransientError with Retry-After, another
    error answer the SDK's TwilioRestException (TwilioServiceException for an RFC 9457 body)."""

    def __init__(self, account_sid: str, auth_token: str, http_client: TwilioHttp, *,
                 request_guard_seconds: float = 80.0) -> None:
        self.account_sid, self.http_client = account_sid, http_client
        self.request_guard_seconds = request_guard_seconds
        self._auth = (account_sid, auth_token)
        self.messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None) -> Response:
        """One call; a busy or failing Twilio becomes a TransientError."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Charset": "utf-8"}
        async with asyncio.timeout(self.request_guard_seconds):
            response = await self.http_client.request(method, url, params=params, data=data, headers=headers,
                                                      auth=self._auth)
        if response.status_code == 429 or response.status_code >= 500:
            raise busy_outcome(response.status_code, response.text, response.headers)
        return response

    async def create_message(self, **fields: object) -> MessageRecord:
        """POST a message: ``to``, ``from_``, ``body``, ``media_url`` (a list), ``status_callback``,
        ``content_sid``, ``content_variables`` … as the SDK's ``messages.create`` names them; None: left out."""
        unknown = set(fields) - set(CREATE_FIELDS)
        if unknown:
            raise TypeError(f"unknown message fields: {sorted(unknown)}")
        data = {CREATE_FIELDS[name]: value for name, value in fields.items() if value is not None}
        response = await self.request("POST", API_ROOT + self.messages_path, data=data)
        if not 200 <= response.status_code < 300:
            raise api_error("POST", self.messages_path, response, "Unable to create record")
        return MessageRecord.of(json.loads(response.text) if response.text else {})

    async def list_messages(self, *, to: str | None = None, from_: str | None = None,
                            date_sent_after: datetime | date | str | None = None,
                            page_size: int | None = None) -> MessagePage:
        """GET one page of messages (newest first): To, From, DateSent> (Twilio compares whole days), PageSize."""
        params = {"To": to, "From": from_, "DateSent>": None if date_sent_after is None else iso8601(date_sent_after),
                  "PageSize": page_size}
        return await self._page(API_ROOT + self.messages_path, {k: v for k, v in params.items() if v is not None})

    async def next_page(self, page: MessagePage) -> MessagePage | None:
        """The page after ``page`` (its URL carries the filters), or None after the last."""
        return None if page.next_page_url is None else await self._page(page.next_page_url, None)

    async def _page(self, url: str, params: Mapping[str, object] | None) -> MessagePage:
        response = await self.request("GET", url, params=params)
        if response.status_code != 200:
            raise TwilioException("Unable to fetch page", response)
        payload = json.loads(response.text)
        records = payload.get("messages") or []  # the Messages list's one key that is not paging
        next_uri = payload.get("next_page_uri")
        return MessagePage([MessageRecord.of(record) for record in records],
                           next_page_url=API_ROOT + next_uri if next_uri else None)

    async def close(self) -> None:
        await self.http_client.close()


def api_error(method: str, uri: str, response: Response, message: str) -> TwilioException:
    """An error answer as the SDK raises it (twilio.base.version.Version.exception)."""
    try:
        payload = json.loads(response.text)
        if all(key in payload for key in ("type", "title", "status", "code")):  # RFC 9457
            return TwilioServiceException(type_uri=payload["type"], title=payload["title"], status=payload["status"],
                                          code=payload["code"], detail=payload.get("detail"),
                                          instance=payload.get("instance"), errors=payload.get("errors"),
                                          method=method, uri=uri)
        if "message" in payload:
            message = f"{message}: {payload['message']}"
        return TwilioRestException(response.status_code, uri, message, payload.get("code", response.status_code),
                                   method, payload.get("details"))
    except Exception:  # not a JSON object: the SDK's fallback
        return TwilioRestException(response.status_code, uri, message, response.status_code, method)


def make_client(account_sid: str, auth_token: str, api_base_url: str | None,
                http_client: TwilioHttp | None = None, *, connect_timeout: float = 10.0,
                read_timeout: float = 30.0, connections: int = 100) -> TwilioClient:
    """A Twilio client with timeouts (aimed at ``api_base_url`` when set);
    `connections`: as many as the delivery worker's in-flight window may grow to."""
    options: dict[str, Any] = {"connect_timeout": connect_timeout, "read_timeout": read_timeout,
                               "connections": connections}
    if http_client is None:
        http_client = (RedirectingTwilioHttp(api_base_url, **options) if api_base_url else TwilioHttp(**options))
    return TwilioClient(account_sid, auth_token, http_client,
                        request_guard_seconds=2 * (connect_timeout + read_timeout))
