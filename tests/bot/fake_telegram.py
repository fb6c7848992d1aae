"""A fake at python-telegram-bot's own seam (BaseRequest): scripted Bot API answers, recorded calls."""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot
from telegram.request import BaseRequest, RequestData


class ScriptedRequest(BaseRequest):
    """Answers each Bot API method from a queue of (status, body); sendMessage succeeds by default."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.script: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._next_id = 100

    def answer(self, method: str, status: int, body: dict[str, Any]) -> None:
        self.script.setdefault(method, []).append((status, body))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((name, params))
        if self.script.get(name):
            status, body = self.script[name].pop(0)
            return status, json.dumps(body).encode()
        if name == "getMe":
            result: Any = {"id": 1, "is_bot": True, "first_name": "Klinik", "username": "klinik_bot"}
        else:
            self._next_id += 1
            result = {"message_id": self._next_id, "date": 1700000000,
                      "chat": {"id": int(params.get("chat_id", 1)), "type": "private"}, "text": "x"}
        return 200, json.dumps({"ok": True, "result": result}).encode()


def scripted_bot() -> tuple[Bot, ScriptedRequest]:
    """A Bot whose every call goes to a ScriptedRequest."""
    request = ScriptedRequest()
    return Bot("123:TEST", request=request, get_updates_request=request), request
