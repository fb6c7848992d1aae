"""kill -9 of `klinik run` during an inbound burst, counted at the peers: every acknowledged WhatsApp
message is handled exactly once and answered, with at most one repeated send per crash; and two
processes on one PostgreSQL taking webhooks in turn, one killed mid-stream: nothing lost, nothing
handled twice, Telegram polling and the scheduler move to the survivor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from storage.models import InboxItem, LoopPulse, OutboxMessage, Role, SchedulerLease
from tests.e2e.harness import WHATSAPP_FROM, Klinik, eventually, new_sid
from tests.support.peers import PrismTwilio, TelegramEmulator, free_port
from tests.support.twilio_mock import Created, list_messages

pytestmark = pytest.mark.e2e


class TwilioPeer:
    """Twilio's Messages API as far as sending goes: records every create, answers 201 at once; lists the
    messages created, as Twilio filters them (what the bot asks after a crash, before sending again)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.created: list[Created] = []
        self.lists = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", self._list)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.sent.append({key: str(value) for key, value in form.items()})
        sid, now = new_sid(), datetime.now(UTC)
        self.created.append(Created(sid, str(form.get("To", "")), str(form.get("From", "")), str(form.get("Body", "")),
                                    len(form.getall("MediaUrl", [])), now, now))
        return web.json_response({"sid": sid, "status": "queued", "to": form.get("To")}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        self.lists += 1
        return web.json_response(list_messages(self.created, request.query, request.match_info["sid"], request.path_qs))


@pytest.fixture
async def twilio_peer() -> AsyncIterator[TwilioPeer]:
    peer = TwilioPeer()
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


class Bot:
    """`klinik run` in a process of its own, on the test's database and peers."""

    def __init__(self, klinik: Klinik, peer: TwilioPeer, log_path: Path, *, telegram: bool = False) -> None:
        self.klinik, self.peer, self.log_path, self.telegram = klinik, peer, log_path, telegram
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("KLINIK_")}
        env |= {"KLINIK_DATABASE_URL": self.klinik.db_url, "KLINIK_DATA_DIR": str(self.log_path.parent),
                "KLINIK_HTTP_PORT": str(self.port), "KLINIK_PUBLIC_BASE_URL": self.base_url,
                "KLINIK_TWILIO__ACCOUNT_SID": self.klinik.prism.account_sid,
                "KLINIK_TWILIO__AUTH_TOKEN": self.klinik.prism.auth_token,
                "KLINIK_TWILIO__WHATSAPP_FROM": WHATSAPP_FROM, "KLINIK_TWILIO__API_BASE_URL": self.peer.url,
                "KLINIK_DELIVERY__FIRST_RETRY_SECONDS": "0.1", "KLINIK_INBOX__BATCH_SIZE": "8",
                # A wide window (16 replies in flight): the rows a killed process left are looked up at
                # the peer (its Messages list) before they go again, so a crash repeats at most one send.
                "KLINIK_DELIVERY__MIN_IN_FLIGHT_PER_CHANNEL": "16", "KLINIK_DELIVERY__MAX_IN_FLIGHT_PER_CHANNEL": "16"}
        if self.telegram:
            env |= {"KLINIK_TELEGRAM__TOKEN": self.klinik.token, "KLINIK_TELEGRAM__API_BASE_URL": self.klinik.emulator.url,
                    "KLINIK_TELEGRAM__PER_CHAT_INTERVAL_SECONDS": "0"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.log_path.parent)

    async def up(self) -> None:
        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"{self.base_url}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False
        await eventually(healthy, timeout=30, what=f"klinik run on {self.port} up")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def whatsapp(self, phone: str, text: str, sid: str) -> bool:
        """Post a signed inbound webhook; True when the bot acknowledged it (200)."""
        params = self.klinik.whatsapp_form(phone, text, sid=sid)
        validator = RequestValidator(self.klinik.prism.auth_token)  # signed for the URL this process is reached at
        signature = str(validator.compute_signature(f"{self.base_url}/twilio/whatsapp", params))
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                answer = await client.post(f"{self.base_url}/twilio/whatsapp", data=params,
                                           headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError:
            return False
        return answer.status_code == 200


async def roster(klinik: Klinik, count: int) -> list[str]:
    phones = [f"+62812777{n:05d}" for n in range(count)]
    for n, phone in enumerate(phones):
        await klinik.add_person(role=Role.PESERTA, name=f"Peserta {n}", phone=phone, cohort="Angkatan 1",
                                preferred_channel="whatsapp")
    return phones


async def handled_once(klinik: Klinik, acknowledged: set[str], channel: str = "whatsapp") -> list[InboxItem]:
    """Every stored inbound processed without error, the acknowledged ones among them; one reply row each."""
    items = await klinik.all(InboxItem, InboxItem.channel == channel)
    assert acknowledged <= {item.external_id for item in items}
    assert [item.external_id for item in items if item.processed_at is None or item.error] == []
    replies = await klinik.count(OutboxMessage, OutboxMessage.channel == channel)
    assert replies == len(items)  # "menu" is answered once: nothing handled twice
    return items


# ---------------------------------------------------------------------- kill -9 again and again (SQLite)


async def test_kill_9_again_and_again_during_a_burst_loses_no_acknowledged_message(
        klinik: Klinik, twilio_peer: TwilioPeer, tmp_path: Path) -> None:
    phones = await roster(klinik, 6)
    bot = Bot(klinik, twilio_peer, tmp_path / "bot.log")
    messages = [(phone, new_sid()) for _ in range(12) for phone in phones]
    acknowledged: set[str] = set()
    crashes = 0

    async def send_all() -> None:
        for phone, sid in messages:  # an unanswered webhook is posted again, with the same MessageSid
            for _attempt in range(400):
                if await bot.whatsapp(phone, "menu", sid):
                    acknowledged.add(sid)
                    break
                await asyncio.sleep(0.05)

    bot.start()
    await bot.up()
    sending = asyncio.create_task(send_all())
    try:
        for _ in range(3):
            await asyncio.sleep(0.6)
            bot.kill()
            crashes += 1
            bot.start()
            await bot.up()
        await sending
        await eventually(lambda: len(twilio_peer.sent) >= len(messages), timeout=20, what="every reply at Twilio")
        await asyncio.sleep(0.5)  # a late repeat would show here
    finally:
        sending.cancel()
        bot.kill()

    items = await handled_once(klinik, acknowledged)
    assert len(items) == len(messages)
    assert len(messages) <= len(twilio_peer.sent) <= len(messages) + crashes
    assert {sent["To"] for sent in twilio_peer.sent} == {f"whatsapp:{phone}" for phone in phones}


# ---------------------------------------------------------------------- two processes, one killed (PostgreSQL)


@pytest.fixture
async def klinik_on_postgres(telegram_emulator: TelegramEmulator, prism_twilio: PrismTwilio,
                             fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Klinik]:
    for name in [name for name in os.environ if name.startswith("KLINIK_")]:
        monkeypatch.delenv(name)
    harness = Klinik(telegram_emulator, prism_twilio, fresh_postgres_url)
    try:
        yield harness
    finally:
        await harness.close()


async def holder_of(klinik: Klinik, lease: str) -> str | None:
    async with klinik.sessions() as session:
        return await session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == lease))


async def process_name(klinik: Klinik, pid: int) -> str:
    """host:pid:random, as the process signs its heartbeat."""
    async def find() -> str | None:
        async with klinik.sessions() as session:
            return await session.scalar(select(LoopPulse.holder).where(LoopPulse.holder.like(f"%:{pid}:%")).limit(1))
    return str(await eventually(find, timeout=10, what=f"heartbeat of {pid}"))


@pytest.mark.postgres
async def test_two_processes_one_killed_mid_stream_lose_nothing_and_the_survivor_takes_over(
        klinik_on_postgres: Klinik, twilio_peer: TwilioPeer, tmp_path: Path) -> None:
    klinik = klinik_on_postgres
    phones = await roster(klinik, 6)
    await klinik.add_person(role=Role.PENDAMPING, name="Budi Santoso", phone="+6281100000009",
                                     telegram_user_id="7101", telegram_chat_id="7101", preferred_channel="telegram")
    first, second = (Bot(klinik, twilio_peer, tmp_path / f"bot-{n}.log", telegram=True) for n in (1, 2))
    first.start()
    await first.up()
    first_name = await process_name(klinik, first.pid)
    await eventually(lambda: _held_by(klinik, "telegram_polling", first_name), timeout=10, what="first polls")
    async with klinik.sessions.begin() as session:  # the first is the scheduler's leader, as after its first renewal
        await session.merge(SchedulerLease(name="scheduler", holder=first_name, acquired_at=datetime.now(UTC),
                                           expires_at=datetime.now(UTC).replace(year=2100)))
    second.start()
    await second.up()
    second_name = await process_name(klinik, second.pid)

    messages = [(phone, new_sid()) for _ in range(6) for phone in phones]
    acknowledged: set[str] = set()
    try:
        for number, (phone, sid) in enumerate(messages):
            if number == len(messages) // 2:
                first.kill()  # mid-stream
            target = (first, second)[number % 2]
            if not await target.whatsapp(phone, "menu", sid):
                assert await second.whatsapp(phone, "menu", sid)  # the balancer tries the other process
            acknowledged.add(sid)
        await eventually(lambda: len(twilio_peer.sent) >= len(messages), timeout=25, what="every reply at Twilio")
        await eventually(lambda: _held_by(klinik, "telegram_polling", second_name), timeout=15, what="polling moved")
        await klinik.emulator.send_message(klinik.token, 7101, "menu")
        await klinik.emulator.wait_for(klinik.token, 7101, timeout=10)  # the survivor polls and answers
        await eventually(lambda: _held_by(klinik, "scheduler", second_name), timeout=35, what="scheduler moved")
    finally:
        first.kill()
        second.kill()

    items = await handled_once(klinik, acknowledged, channel="whatsapp")
    assert len(items) == len(messages)
    assert len(messages) <= len(twilio_peer.sent) <= len(messages) + 1  # one crash: at most one repeat


async def _held_by(klinik: Klinik, lease: str, name: str) -> bool:
    return await holder_of(klinik, lease) == name
