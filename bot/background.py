"""A background loop that drains pending work, then sleeps until woken or a tick passes."""

from __future__ import annotations

import asyncio
import contextlib


class DrainLoop:
    """Base of the inbox processor and the delivery worker: `run()` calls `drain_once()` until stopped."""

    idle_seconds = 1.0

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False

    async def drain_once(self) -> int:
        """Handle what is pending now; returns how much was handled."""
        raise NotImplementedError

    def wake(self) -> None:
        """New work was committed: look now instead of at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current pass and return from run()."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Drain, and when idle wait for a wake-up or the tick (which also finds work left by a crash)."""
        while not self._stopping:
            handled = await self.drain_once()
            if handled == 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
