"""A Twilio Messages API peer that answers each create after a set delay, and counts what arrived.

Prism (the spec-checked mock of the other tests) answers at once and cannot be told to wait; the
throughput tests and ``benchmarks/bench_outbound.py`` need a peer that takes the real API's round
trip (200-400 ms from Indonesia), so the bot must keep enough sends in flight. This peer answers
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with a Message resource (201) after
``delay`` seconds (plus up to ``jitter``), and records every arrival (time, To, Body) before it
waits: what the tests and the benchmark count. Any other request gets 404.

    peer = SlowTwilio(delay=0.3)
    await peer.start()          # in the running event loop; peer.url for KLINIK_TWILIO__API_BASE_URL
    ...
    await peer.stop()

Or as a process: ``python -m tests.support.twilio_mock PORT DELAY``.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web


@dataclass(frozen=True)
class Arrival:
    """One message create as the peer saw it (``at``: time.monotonic() when it arrived)."""

    at: float
    to: str
    body: str
    sid: str


@dataclass
class SlowTwilio:
    """The peer: ``delay`` seconds per create (``jitter`` adds a random 0..jitter), on 127.0.0.1."""

    delay: float = 0.3
    jitter: float = 0.0
    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def bodies_to(self, to: str) -> list[str]:
        """The bodies that arrived for one number (``whatsapp:+62…`` or ``+62…``), in arrival order."""
        key = to if to.startswith("whatsapp:") else f"whatsapp:{to}"
        return [arrival.body for arrival in self.arrivals if arrival.to == key]

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        sid = "SM" + uuid.uuid4().hex
        to, sender, body = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Body", ""))
        self.arrivals.append(Arrival(time.monotonic(), to, body, sid))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay + (random.uniform(0, self.jitter) if self.jitter else 0.0))
        finally:
            self.in_flight -= 1
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        account = request.match_info["account"]
        return web.json_response({
            "account_sid": account, "api_version": "2010-04-01", "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": sender, "messaging_service_sid": None, "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": None, "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": to, "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }, status=201)


async def _serve(port: int, delay: float) -> None:
    peer = SlowTwilio(delay=delay, port=port)
    await peer.start()
    print(f"TWILIO_MOCK_READY {peer.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.3))
