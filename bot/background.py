"""A background loop that drains pending work, then sleeps until woken or a tick passes; it survives any error."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.health import Pulse, error_text

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 5.0  # short: when the database is back, work resumes within seconds


def backoff_seconds(failures: int) -> float:
    """0.5, 1, 2, 4, 5, 5 … seconds after 1, 2, 3 … failed passes in a row."""
    return min(FIRST_BACKOFF_SECONDS * 2.0 ** (failures - 1), MAX_BACKOFF_SECONDS)


class DrainLoop:
    """Base of the inbox processor and the delivery worker: `run()` calls `pass_once()` until stopped.

    A pass that raises (database away, a bug) is logged, counted in the loop's pulse, and tried again
    after a short backoff: the loop never dies of an error.
    """

    name = "loop"
    idle_seconds = 1.0
    bound_seconds = 60.0  # /healthz says unhealthy when no pass completed for this long

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False
        self.pulse = Pulse(self.name, self.bound_seconds)

    async def drain_once(self) -> int:
        """Handle what is pending now; returns how much was handled."""
        raise NotImplementedError

    async def pass_once(self) -> int:
        """One pass of run(); by default a full drain."""
        return await self.drain_once()

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
            self._wake.clear()  # a wake-up during the pass (new work committed) is kept for the pause after it
            try:
                handled = await self.pass_once()
            except Exception as error:
                self.pulse.failed(error)
                delay = backoff_seconds(self.pulse.failures)
                if self.pulse.failures == 1:
                    log.exception("%s loop: pass failed; retrying in %.1f s", self.name, delay)
                else:
                    log.warning("%s loop: pass failed %s times in a row (%s); retrying in %.1f s",
                                self.name, self.pulse.failures, error_text(error), delay)
                if not self._stopping:  # a backoff is not cut short by new work (the database may still be away)
                    self._wake.clear()
                await self._pause(delay)
                continue
            if self.pulse.failures:
                log.info("%s loop: working again after %s failed passes", self.name, self.pulse.failures)
            self.pulse.passed()
            if handled == 0 and not self._stopping:
                await self._pause(self.idle_seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
