"""A Twilio Messages API peer that answers each create after a set delay, and counts what arrived.

Prism (the spec-checked mock of the other tests) answers at once and cannot be told to wait; the
throughput tests and ``benchmarks/bench_outbound.py`` need a peer that takes the real API's round
trip (200-400 ms from Indonesia), so the bot must keep enough sends in flight. This peer answers
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with a Message resource (201) after
``delay`` seconds (plus up to ``jitter``), and records every arrival (time, To, Body) before it
waits: what the tests and the benchmark count. ``GET …/Messages.json`` lists the messages created, as
Twilio does (``list_messages``): To, From and DateSent filters, newest first. Any other request gets 404.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web


@dataclass(frozen=True)
class Arrival:
    """One message create as the peer saw it (``at``: time.monotonic() when it arrived)."""

    at: float
    to: str
    body: str
    sid: str


@dataclass(frozen=True)
class Created:
    """A Message resource as Twilio keeps it: ``sent`` is when it left Twilio's queue (its date_sent)."""

    sid: str
    to: str
    sender: str
    body: str
    num_media: int
    created: datetime
    sent: datetime

    def resource(self, account: str, now: datetime) -> dict[str, object]:
        queued = self.sent > now  # still in Twilio's queue: no date_sent yet
        return {
            "account_sid": account, "api_version": "2010-04-01", "body": self.body, "date_created": rfc2822(self.created),
            "date_sent": None if queued else rfc2822(self.sent), "date_updated": rfc2822(min(self.sent, now)),
            "direction": "outbound-api", "error_code": None, "error_message": None, "from": self.sender,
            "messaging_service_sid": None, "num_media": str(self.num_media), "num_segments": "1", "price": None,
            "price_unit": None, "sid": self.sid, "status": "queued" if queued else "sent",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{self.sid}/Media.json"},
            "to": self.to, "uri": f"/2010-04-01/Accounts/{account}/Messages/{self.sid}.json",
        }


def rfc2822(moment: datetime) -> str:
    """Twilio's dates: RFC 2822 in GMT, whole seconds."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _date_filter(value: str) -> datetime:
    """A DateSent value: YYYY-MM-DD (midnight GMT, as Twilio documents it) or an ISO date and time."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_messages(messages: list[Created], query: Mapping[str, str], account: str, path: str) -> dict[str, object]:
    """One page of ``GET /2010-04-01/Accounts/{sid}/Messages.json`` as Twilio answers it: filtered by To, From
    and DateSent (``DateSent``: that day; ``DateSent>``/``DateSent<``: on or after / before the date); a
    DateSent filter leaves out messages still queued (no date_sent yet); newest first; PageSize (50, ≤ 1000)."""
    now = datetime.now(UTC)
    chosen = [m for m in messages if m.to == query.get("To", m.to) and m.sender == query.get("From", m.sender)]
    for key, keep in (("DateSent>", lambda m, at: m.sent >= at), ("DateSent<", lambda m, at: m.sent <= at),
                      ("DateSent", lambda m, at: m.sent.date() == at.date())):
        if key in query:
            at = _date_filter(query[key])
            chosen = [m for m in chosen if m.sent <= now and keep(m, at)]
    chosen.sort(key=lambda m: m.created, reverse=True)
    size = min(int(query.get("PageSize", "50")), 1000)
    page = [m.resource(account, now) for m in chosen[:size]]
    return {"messages": page, "end": max(len(page) - 1, 0), "first_page_uri": path, "next_page_uri": None,
            "page": 0, "page_size": size, "previous_page_uri": None, "start": 0, "uri": path}


@dataclass
class SlowTwilio:
    """The peer: ``delay`` seconds per create (``jitter`` adds a random 0..jitter), on 127.0.0.1."""

    delay: float = 0.3
    jitter: float = 0.0
    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    created: list[Created] = field(default_factory=list)
    lists: list[dict[str, str]] = field(default_factory=list)  # the query of every list call
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", self._list)
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
        wait = self.delay + (random.uniform(0, self.jitter) if self.jitter else 0.0)
        created = datetime.now(UTC)
        message = Created(sid, to, sender, body, len(form.getall("MediaUrl", [])), created,
                          created + timedelta(seconds=wait))  # created now, leaves the queue when answered
        self.created.append(message)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(wait)
        finally:
            self.in_flight -= 1
        account = request.match_info["account"]
        answer = message.resource(account, created) | {"date_updated": rfc2822(created)}  # as created: queued
        return web.json_response(answer, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.lists.append(query)
        return web.json_response(list_messages(self.created, query, request.match_info["account"], request.path_qs))


async def _serve(port: int, delay: float) -> None:
    peer = SlowTwilio(delay=delay, port=port)
    await peer.start()
    print(f"TWILIO_MOCK_READY {peer.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.3))
