"""Benchmark: how fast a backlog of outbox rows leaves `klinik run` (a real process) for its peers.

    .venv/bin/python -m benchmarks.bench_outbound                         # WhatsApp 2,000 and Telegram 600
    .venv/bin/python -m benchmarks.bench_outbound --whatsapp 10000 --telegram 0
    .venv/bin/python -m benchmarks.bench_outbound --postgres                 # on a throwaway PostgreSQL 15 cluster

WhatsApp: a backlog of one message each to N people (24-hour window open) against a Twilio peer
that answers each message create after --delay seconds (300 ms: the real API's round trip from
Indonesia), at the configured 80 messages/s. Telegram: a backlog spread over --telegram-chats
chats against the Telegram emulator enforcing 30 sends/s per bot and 1 s between two sends to one
chat (429 with retry_after otherwise). Everything is counted at the peers: arrival times, the rate
between the first and the last arrival, the drain time against the platform floor (N / rate), the
longest gap seen per chat, the most arrivals within any second, and 429s. Every row must end SENT.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from storage.db import upgrade
from tests.support.outbound import KlinikProcess, klinik_env, outbox_statuses, seed_backlog
from tests.support.peers import (
    E2E_DIR,
    TELEGRAM_LAUNCHER,
    TELEGRAM_READY_LINE,
    PostgresCluster,
    _Process,
    free_port,
    new_bot_token,
)
from tests.support.twilio_mock import SlowTwilio


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--whatsapp", type=int, default=2000, help="WhatsApp backlog (0: skip)")
    parser.add_argument("--telegram", type=int, default=600, help="Telegram backlog (0: skip)")
    parser.add_argument("--telegram-chats", type=int, default=200, help="chats the Telegram backlog is spread over")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the Twilio peer takes per create")
    parser.add_argument("--whatsapp-rate", type=float, default=80.0)
    parser.add_argument("--telegram-rate", type=int, default=30)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL 15 cluster and use it")
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser.parse_args()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))] if ordered else 0.0


def most_within_a_second(times: list[float]) -> int:
    """The most arrivals in any window of one second (times in seconds, sorted)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def window_line(log: str) -> str:
    """The bot's own last word on its in-flight window (logged every 500 sends)."""
    lines = [line for line in log.splitlines() if "in-flight window" in line]
    return lines[-1].split("delivery: ", 1)[-1] if lines else "-"


def report(name: str, count: int, rate: float, times: list[float], started: float, extra: dict[str, Any]) -> None:
    times = sorted(times)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span else 0.0
    floor = (count - 1) / rate
    print(f"\n{name}: {count} messages, configured {rate:g}/s")
    print(f"  arrived at the peer       {len(times)} (distinct {extra.pop('distinct')})")
    print(f"  rate, first→last arrival  {achieved:7.1f}/s  = {100 * achieved / rate:5.1f}% of {rate:g}/s")
    print(f"  drain, first→last arrival {span:7.1f} s   floor {floor:.1f} s   ratio {span / floor if floor else 0:.3f}")
    print(f"  from process start        {times[-1] - started:7.1f} s   (start-up {times[0] - started:.1f} s)")
    print(f"  most arrivals in 1 s      {most_within_a_second(times)}")
    for key, value in extra.items():
        print(f"  {key:<25} {value}")


async def wait_until(check: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def bench_whatsapp(args: argparse.Namespace, folder: Path, url: str) -> None:
    peer = SlowTwilio(delay=args.delay)
    await peer.start()
    addresses = [f"+6285{n:09d}" for n in range(args.whatsapp)]
    await seed_backlog(url, "whatsapp", addresses)
    klinik = KlinikProcess(klinik_env(url, folder, free_port(), twilio_url=peer.url,
                                      twilio__messages_per_second=str(args.whatsapp_rate)), folder)
    started = time.monotonic()
    klinik.start()
    try:
        await wait_until(lambda: len(peer.arrivals) >= args.whatsapp, args.timeout, "WhatsApp backlog sent")
        await asyncio.sleep(1.0)  # the last outcomes are written
        statuses = await outbox_statuses(url)
    finally:
        klinik.stop()
        await peer.stop()
    times = [arrival.at for arrival in peer.arrivals]
    report("WhatsApp (Twilio peer answering after %.0f ms)" % (args.delay * 1000), args.whatsapp,
           args.whatsapp_rate, times, started,
           {"distinct": len({(a.to, a.body) for a in peer.arrivals}),
            "in flight at the peer, max": peer.max_in_flight, "outbox rows by status": statuses,
            "the bot said": window_line(klinik.log())})


async def bench_telegram(args: argparse.Namespace, folder: Path, url: str) -> None:
    port = free_port()
    emulator = _Process.start("telegram-emulator", ["node", str(TELEGRAM_LAUNCHER), str(port)],
                              folder / "telegram-emulator.log", E2E_DIR)
    emulator_url = f"http://127.0.0.1:{port}"
    failure = emulator.wait_ready(lambda: TELEGRAM_READY_LINE in (folder / "telegram-emulator.log").read_text(), 20)
    if failure:
        raise SystemExit(f"Telegram emulator: {failure}")
    token = new_bot_token()
    async with httpx.AsyncClient(timeout=60) as client:
        await client.post(f"{emulator_url}/setLimits", json={"token": token, "per_second": args.telegram_rate,
                                                             "per_chat_interval_ms": 1000})
        chats = [str(800000 + n) for n in range(args.telegram_chats)]
        per_chat = max(1, args.telegram // len(chats))
        count = await seed_backlog(url, "telegram", chats, per_chat)
        klinik = KlinikProcess(klinik_env(url, folder, free_port(), telegram=(token, emulator_url),
                                          telegram__messages_per_second=str(args.telegram_rate)), folder)
        started = time.monotonic()
        started_wall = time.time() * 1000
        klinik.start()

        async def stats() -> dict[str, Any]:
            return dict((await client.post(f"{emulator_url}/getLimitStats", json={"token": token})).json()["result"])

        try:
            deadline = time.monotonic() + args.timeout
            while len((current := await stats())["accepted"]) < count:
                if time.monotonic() > deadline:
                    raise SystemExit("Telegram backlog not sent in time")
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)
            statuses = await outbox_statuses(url)
        finally:
            klinik.stop()
            emulator.stop()
    accepted, rejected = current["accepted"], current["rejected"]
    by_chat: dict[str, list[float]] = defaultdict(list)
    for entry in accepted:
        by_chat[entry["chat_id"]].append(entry["time"])
    gaps = [b - a for times in by_chat.values() for a, b in itertools.pairwise(times)]
    times = [started + (entry["time"] - started_wall) / 1000 for entry in accepted]
    report(f"Telegram (emulator enforcing {args.telegram_rate}/s and 1 s per chat)", count, args.telegram_rate,
           times, started,
           {"distinct": len(Counter((e["chat_id"], e["time"]) for e in accepted)),
            "429s from the emulator": len(rejected),
            "least gap within a chat": f"{min(gaps) / 1000:.3f} s" if gaps else "-",
            "outbox rows by status": statuses, "the bot said": window_line(klinik.log())})


async def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="klinik-bench-outbound-"))
    cluster = PostgresCluster.create() if args.postgres else None
    try:
        if cluster is not None:
            cluster.start()
        for name, bench in (("whatsapp", bench_whatsapp), ("telegram", bench_telegram)):
            if not getattr(args, name):
                continue
            if cluster is not None:
                url = cluster.create_database(f"bench_{name}")
            else:
                url = args.database_url or f"sqlite+aiosqlite:///{folder}/{name}.db"
                if args.database_url and name == "telegram" and args.whatsapp:
                    raise SystemExit("with --database-url run one channel at a time (--whatsapp 0 or --telegram 0)")
            print(f"database: {url.split('://')[0]}")
            await upgrade(url)
            await bench(args, folder, url)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
