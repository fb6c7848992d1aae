"""The bot keeps running against its real peers: a database outage, Telegram 409s, a Twilio 429 storm,
media that cannot be fetched and a Twilio that does not answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram.request import HTTPXRequest

from bot.app import KlinikApp
from bot.whatsapp.http import Response
from storage.models import OutboxMessage, OutboxStatus
from tests.e2e.harness import (
    MENTOR_CHAT,
    QUESTION,
    Klinik,
    body,
    eventually,
    mentor_on_telegram,
    participant_on_whatsapp,
)
from tests.support.peers import (
    PostgresCluster,
    PrismTwilio,
    RecordingTwilioHttpClient,
    TelegramEmulator,
    free_port,
)

pytestmark = pytest.mark.e2e

SHARE_CONTACT = "Bagikan nomor saya"
FAST_RETRIES = {"first_retry_seconds": 0.05, "max_retry_seconds": 0.2}


def is_messages_post(method: str, url: str) -> bool:
    return method.upper() == "POST" and url.endswith("/Messages.json")


async def health(klinik: Klinik) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{klinik.base_url}/healthz")
    return answer.status_code, answer.json()


async def start_with(klinik: Klinik, twilio_http: RecordingTwilioHttpClient, **overrides: Any) -> KlinikApp:
    """Start the app on a Twilio HTTP client of the test's own (still recorded like the others)."""
    app = KlinikApp(klinik.settings(**overrides), twilio_http=twilio_http)
    klinik.apps.append(app)
    klinik.twilio_clients.append(twilio_http)
    return await klinik.start(app)


# ---------------------------------------------------------------------- the database goes away


@pytest.fixture
async def klinik_on_postgres(telegram_emulator: TelegramEmulator, prism_twilio: PrismTwilio,
                             fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Klinik]:
    """The test's bot on a PostgreSQL database of its own (in the session's cluster)."""
    for name in [name for name in os.environ if name.startswith("KLINIK_")]:
        monkeypatch.delenv(name)
    harness = Klinik(telegram_emulator, prism_twilio, fresh_postgres_url)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.mark.postgres
async def test_a_postgres_outage_is_ridden_out_and_health_says_so(klinik_on_postgres: Klinik,
                                                                  postgres_cluster: PostgresCluster) -> None:
    klinik = klinik_on_postgres
    emulator, token = klinik.emulator, klinik.token
    await klinik.start()
    before, during = (9101, 9102), (9103, 9104, 9105)
    for user in before:
        await emulator.send_message(token, user, "halo")
    for user in before:
        await emulator.wait_for(token, user, lambda m: SHARE_CONTACT in (m.text or ""), timeout=10)

    postgres_cluster.halt()
    try:
        for user in during:
            await emulator.send_message(token, user, "halo, saya mau tanya")
        down = await eventually(lambda: _unhealthy(klinik), timeout=10, what="/healthz 503")
        await asyncio.sleep(5)
    finally:
        postgres_cluster.resume()

    assert down["status"] == "unhealthy"
    assert down["problems"][0].startswith("database unreachable: ")
    for user in during:
        await emulator.wait_for(token, user, lambda m: SHARE_CONTACT in (m.text or ""), timeout=30)
    status, report = await eventually(lambda: _healthy(klinik), timeout=30, what="/healthz 200 again")
    assert (status, report["database"]) == (200, "ok")
    assert set(report["loops"]) == {"http", "inbox", "delivery", "scheduler", "telegram"}


async def _unhealthy(klinik: Klinik) -> dict[str, Any] | None:
    status, report = await health(klinik)
    return report if status == 503 else None


async def _healthy(klinik: Klinik) -> tuple[int, dict[str, Any]] | None:
    try:
        status, report = await health(klinik)
    except httpx.TransportError:
        return None  # not listening (yet)
    return (status, report) if status == 200 else None


# ---------------------------------------------------------------------- Telegram says 409


class ConflictingRequest(HTTPXRequest):
    """PTB's getUpdates request, answering 409 Conflict (another poller) the first N times."""

    __slots__ = ("conflicts",)

    def __init__(self, conflicts: int) -> None:
        super().__init__(read_timeout=30)
        self.conflicts = conflicts

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/getUpdates") and self.conflicts > 0:
            self.conflicts -= 1
            return 409, json.dumps({"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                                    "getUpdates request; make sure that only one bot instance is running"}).encode()
        return await super().do_request(url, method, *args, **kwargs)


async def test_a_409_conflict_from_telegram_never_ends_polling(klinik: Klinik, caplog: pytest.LogCaptureFixture) -> None:
    app = klinik.build()
    conflicting = ConflictingRequest(conflicts=2)
    app.bot._request = (conflicting, app.bot._request[1])  # the getUpdates request: PTB's own seam
    await klinik.start(app)
    await klinik.emulator.send_message(klinik.token, 9201, "halo")

    await klinik.emulator.wait_for(klinik.token, 9201, lambda m: SHARE_CONTACT in (m.text or ""), timeout=15)
    assert conflicting.conflicts == 0
    assert sum("409 Conflict" in record.getMessage() for record in caplog.records) == 2
    polling = next(task for task in app.tasks if task.get_name() == "telegram-polling")
    assert not polling.done()


# ---------------------------------------------------------------------- Twilio says 429, again and again


class StormyTwilio(RecordingTwilioHttpClient):
    """Prism behind a Twilio that answers the first N message creates with 429 Too Many Requests."""

    def __init__(self, base_url: str, refusals: int) -> None:
        super().__init__(base_url)
        self.refusals, self.refused = refusals, 0

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None, headers: Mapping[str, str] | None = None,
                      auth: tuple[str, str] | None = None) -> Response:
        if is_messages_post(method, url) and self.refused < self.refusals:
            self.refused += 1
            body = {"code": 20429, "message": "Too Many Requests", "status": 429}
            return Response(429, json.dumps(body), {"Retry-After": "0"})
        return await super().request(method, url, params=params, data=data, headers=headers, auth=auth)


async def test_a_twilio_429_storm_longer_than_eight_attempts_loses_nothing(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    stormy = StormyTwilio(klinik.prism.url, refusals=12)
    await start_with(klinik, stormy, delivery=FAST_RETRIES)

    await klinik.whatsapp(participant.phone, QUESTION)

    await klinik.wait_whatsapp(participant.phone, lambda r: "1. ✅" in body(r), timeout=20)
    assert stormy.refused == 12
    await klinik.settled()
    rows = await klinik.all(OutboxMessage, OutboxMessage.address == participant.phone)
    assert [(row.status, row.attempts) for row in rows] == [(OutboxStatus.SENT, 13)]


# ---------------------------------------------------------------------- media that cannot be fetched


@pytest.fixture
async def broken_media() -> AsyncIterator[tuple[str, list[str]]]:
    """A media host that answers 503 to everything; yields its URL and the paths asked for."""
    asked: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", asked
    finally:
        await runner.cleanup()


async def test_a_photo_that_cannot_be_fetched_sends_the_text_once_and_a_note(
        klinik: Klinik, broken_media: tuple[str, list[str]]) -> None:
    media_url, asked = broken_media
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start(delivery=FAST_RETRIES)
    photo = f"{media_url}/Media/ME9.png"

    await klinik.whatsapp(participant.phone, QUESTION, NumMedia="1", MediaContentType0="image/png", MediaUrl0=photo)
    await klinik.wait_whatsapp(participant.phone, lambda r: "1. ✅" in body(r))
    await klinik.whatsapp(participant.phone, "1")

    note = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "📎 Lampiran" in (m.text or ""),
                                          timeout=15)
    assert note.text == f"📎 Lampiran pesan di atas tidak dapat diambil, jadi tidak ikut terkirim. Tautannya: {photo}"
    await klinik.settled()
    texts = [call["params"].get("text", "") for call in await klinik.emulator.bot_calls(klinik.token, "sendMessage")]
    assert sum("Pertanyaan baru" in text for text in texts) == 1
    assert asked == ["/Media/ME9.png"] * 3
    assert await klinik.emulator.bot_calls(klinik.token, "sendPhoto") == []


# ---------------------------------------------------------------------- a Twilio that does not answer


class SilentTwilio(RecordingTwilioHttpClient):
    """Prism behind a Twilio that holds every message create until the test lets it go."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.answer, self.waiting = asyncio.Event(), 0

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None, headers: Mapping[str, str] | None = None,
                      auth: tuple[str, str] | None = None) -> Response:
        if is_messages_post(method, url):
            self.waiting += 1
            await asyncio.wait_for(self.answer.wait(), 30)
        return await super().request(method, url, params=params, data=data, headers=headers, auth=auth)


async def test_a_twilio_that_does_not_answer_never_delays_telegram(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    first = await participant_on_whatsapp(klinik, mentor)
    second = await participant_on_whatsapp(klinik, mentor, name="Dewi Lestari", phone="+6281200000002")
    silent = SilentTwilio(klinik.prism.url)
    await start_with(klinik, silent, rules={"consultation": {"confirm_topic": False}})
    try:
        await klinik.whatsapp(first.phone, QUESTION)
        await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Sari Wulandari" in (m.text or ""))
        await eventually(lambda: silent.waiting >= 1, what="the WhatsApp acknowledgement hanging")

        start = time.monotonic()
        await klinik.whatsapp(second.phone, "Bagaimana cara menghitung harga pokok produksi?")
        await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Dewi Lestari" in (m.text or ""),
                                       timeout=5)
        waited = time.monotonic() - start
        assert not silent.answer.is_set()
    finally:
        silent.answer.set()
    assert waited < 1.0
    await klinik.wait_whatsapp(second.phone, lambda r: "diterima" in body(r))


# ---------------------------------------------------------------------- kill -9 in the middle of a burst


def start_bot(klinik: Klinik, log_path: Path) -> subprocess.Popen[bytes]:
    """`klinik run` in a process of its own (Telegram only), on the test's database and emulator."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KLINIK_")}
    env |= {"KLINIK_DATABASE_URL": klinik.db_url, "KLINIK_DATA_DIR": str(log_path.parent),
            "KLINIK_TELEGRAM__TOKEN": klinik.token, "KLINIK_TELEGRAM__API_BASE_URL": klinik.emulator.url,
            "KLINIK_TELEGRAM__PER_CHAT_INTERVAL_SECONDS": "0.2", "KLINIK_HTTP_PORT": str(klinik.port),
            "KLINIK_PUBLIC_BASE_URL": klinik.base_url}
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=log_path.parent)


async def test_kill_9_during_a_burst_keeps_each_chats_order_and_loses_nothing(klinik: Klinik, tmp_path: Path) -> None:
    users, each = (9301, 9302, 9303), 8
    log_path = tmp_path / "bot.log"
    bot = start_bot(klinik, log_path)
    try:
        await eventually(lambda: _healthy(klinik), timeout=30, what="klinik run up")
        for number in range(each):
            for user in users:
                await klinik.emulator.send_message(klinik.token, user, f"halo {number}")
        await eventually(lambda: klinik.count(OutboxMessage, OutboxMessage.status == OutboxStatus.SENT),
                         timeout=20, what="the first replies")
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        killed_at = time.monotonic()

        bot = start_bot(klinik, log_path)
        await eventually(lambda: _all_sent(klinik, len(users) * each), timeout=30, what="every reply sent")
        recovered = time.monotonic() - killed_at
    finally:
        bot.kill()
        bot.wait(10)

    rows = await klinik.all(OutboxMessage)
    assert len(rows) == len(users) * each
    for user in users:
        ids = [int(row.external_id or 0) for row in rows if row.address == str(user)]
        assert ids == sorted(ids), f"chat {user}: sent out of order"
    assert recovered < 10, log_path.read_text(errors="replace")[-3000:]  # not a 60 s lease


async def _all_sent(klinik: Klinik, expected: int) -> bool:
    return await klinik.count(OutboxMessage, OutboxMessage.status == OutboxStatus.SENT) >= expected
