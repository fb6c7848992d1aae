"""Programme-wide figures of the desk pages, computed at most once a minute (the overview's rule)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

MEMO_SECONDS = 60
MEMO_KEYS = 64  # months × scopes kept at once; the oldest go first


class Memo:
    """A figure per key with the moment it was computed; recomputed when older than MEMO_SECONDS."""

    def __init__(self) -> None:
        self.found: dict[Hashable, tuple[datetime, Any]] = {}

    async def get(self, key: Hashable, now: datetime, compute: Callable[[], Awaitable[Any]]) -> tuple[Any, datetime]:
        """(value, computed at)."""
        found = self.found.get(key)
        if found is None or now - found[0] >= timedelta(seconds=MEMO_SECONDS) or now < found[0]:
            if len(self.found) >= MEMO_KEYS:
                self.found.pop(min(self.found, key=lambda k: self.found[k][0]))
            found = self.found[key] = (now, await compute())
        return found[1], found[0]
