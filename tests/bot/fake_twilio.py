"""A fake at the bot's Twilio HTTP seam (bot.whatsapp.http.TwilioHttp): scripted API answers, recorded requests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from bot.whatsapp.http import Response, TwilioHttp

_sids = itertools.count(1)


class ScriptedTwilioHttp(TwilioHttp):
    """Answers each request from a queue of (status, body); a create succeeds with a fresh SID by default."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []  # the form of every request
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, query) of every request
        self.urls: list[str] = []  # the URL of every request
        self.script: list[tuple[int, dict[str, Any], dict[str, str]] | BaseException] = []

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body, headers or {}))

    def fail(self, error: BaseException) -> None:
        """The next request raises this (a network error, a timeout) instead of answering."""
        self.script.append(error)

    def refuse(self, code: int, status: int = 400) -> None:
        """The next request fails with this Twilio error code."""
        self.answer(status, {"code": code, "message": f"error {code}", "status": status})

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None, headers: Mapping[str, str] | None = None,
                      auth: tuple[str, str] | None = None) -> Response:
        self.requests.append(dict(data or {}))
        self.calls.append((method.upper(), dict(params or {})))
        self.urls.append(url)
        answer = self.script.pop(0) if self.script else (201, {"sid": f"SM{next(_sids):032d}"}, {})
        if isinstance(answer, BaseException):
            raise answer
        status, body, sent_headers = answer
        return Response(status, json.dumps(body), sent_headers)

    async def close(self) -> None:
        return None
