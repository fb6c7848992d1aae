"""A large send survives `kill -9` of `klinik run`: counted at the Twilio peer, every message arrives,
each chat in order, and with a wide window in flight a crash repeats at most one message: the rows a dead
process left are looked up at Twilio (its Messages list) before they go again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.media import MediaStore
from bot.whatsapp.http import make_client
from bot.whatsapp.sender import WhatsAppSender
from handlers.kernel.messages import OutgoingPart
from storage.models import OutboxMessage
from tests.e2e.harness import copy_database
from tests.support.outbound import (
    WHATSAPP_FROM,
    KlinikProcess,
    klinik_env,
    outbox_statuses,
    seed_backlog,
    text_of,
)
from tests.support.peers import PrismTwilio, free_port
from tests.support.twilio_mock import SlowTwilio

pytestmark = pytest.mark.e2e

MAX_IN_FLIGHT = 30


@pytest.fixture
async def twilio_peer() -> AsyncIterator[SlowTwilio]:
    peer = SlowTwilio(delay=0.2, jitter=0.1)  # 30 in flight at ~120/s: each kill cuts off a full window
    await peer.start()
    yield peer
    await peer.stop()


async def arrivals_reach(peer: SlowTwilio, count: int, klinik: KlinikProcess, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while len(peer.arrivals) < count:
        assert time.monotonic() < deadline, f"only {len(peer.arrivals)} arrived:\n{klinik.log()[-3000:]}"
        await asyncio.sleep(0.05)


async def test_kill_9_again_and_again_during_a_large_send_loses_nothing_and_repeats_at_most_one_per_crash(
        twilio_peer: SlowTwilio, e2e_db_template: Path, tmp_path: Path) -> None:
    url = copy_database(e2e_db_template, tmp_path / "klinik.db")
    chats = [f"+6287{n:08d}" for n in range(200)]
    total = await seed_backlog(url, "whatsapp", chats, per_chat=3)
    klinik = KlinikProcess(klinik_env(url, tmp_path, free_port(), twilio_url=twilio_peer.url,
                                      twilio__messages_per_second="250",
                                      delivery__min_in_flight_per_channel=str(MAX_IN_FLIGHT),
                                      delivery__max_in_flight_per_channel=str(MAX_IN_FLIGHT)), tmp_path)
    crashes, cut_off = 0, []
    try:
        for kill_at in (100, 250, 400):
            klinik.start()
            await arrivals_reach(twilio_peer, kill_at, klinik)
            klinik.kill()
            crashes += 1
            cut_off.append(twilio_peer.in_flight)  # sent, answer not seen: the bot never learnt their outcome
        klinik.start()
        deadline = time.monotonic() + 25
        while (await outbox_statuses(url)).get("sent") != total:
            assert time.monotonic() < deadline, f"{await outbox_statuses(url)}\n{klinik.log()[-3000:]}"
            await asyncio.sleep(0.2)
    finally:
        klinik.stop()

    sent = Counter((arrival.to, arrival.body) for arrival in twilio_peer.arrivals)
    expected = {(f"whatsapp:{chat}", text_of("whatsapp", chat, n)) for chat in chats for n in (1, 2, 3)}
    assert set(sent) == expected  # every message arrived, nothing else did
    duplicates = sum(sent.values()) - len(sent)
    assert twilio_peer.max_in_flight >= 20  # a wide window really was in flight
    assert sum(cut_off) >= crashes  # and each kill cut sends off mid-flight
    assert duplicates <= crashes, f"{duplicates} repeated after {crashes} kills"  # not the window: at most one each
    for chat in chats:
        numbers = [int(body.split()[1]) for body in twilio_peer.bodies_to(chat)]
        assert numbers == sorted(numbers), (chat, numbers)  # a repeat never comes after the chat's next message
    assert 0 < len(twilio_peer.lists) <= crashes * 400  # looks only after a crash: at most one per chat in hand
    print(f"{len(twilio_peer.arrivals)} arrivals for {total} messages, {duplicates} repeated after {crashes} kills "
          f"(cut off in flight: {cut_off}, most in flight {twilio_peer.max_in_flight}); "
          f"{len(twilio_peer.lists)} looks at Twilio's list")


async def test_the_look_before_a_resend_is_a_request_twilio_s_api_description_accepts(prism_twilio: PrismTwilio) -> None:
    http = prism_twilio.http_client()
    client = make_client(prism_twilio.account_sid, prism_twilio.auth_token, None, http)
    sender = WhatsAppSender(client, async_sessionmaker(), sender=WHATSAPP_FROM, status_callback=None,
                            templates={}, media=MediaStore(async_sessionmaker()))
    row = OutboxMessage(id=1, channel="whatsapp", address="+6287700000001", payload=OutgoingPart(text="Halo").to_json())
    try:
        # Prism checks the query against Twilio's OpenAPI description (a 4xx raises) and answers its example
        # messages, from years ago: not this row's.
        assert await sender.already_sent(row, datetime.now(UTC)) is None
    finally:
        await http.close()
    [look] = http.requests  # one call, even though Prism's example page points to a next one
    assert (look.method, look.status) == ("GET", 200)
    assert set(look.params) == {"To", "From", "DateSent>", "PageSize"}
