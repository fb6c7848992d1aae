"""Benchmark: inbound WhatsApp messages through `klinik run` as a real process, against a minimal webhook.

    .venv/bin/python -m benchmarks.bench_inbound                   # SQLite and PostgreSQL, about 3 minutes
    .venv/bin/python -m benchmarks.bench_inbound --db sqlite --quick

For each database: a roster of 300 participants, `klinik run` (one process on SQLite, two on
PostgreSQL behind no balancer: the load generator alternates between them) with Telegram off and
WhatsApp aimed at a fake Twilio that accepts every message at once (the outbound is not measured
here), and a minimal Starlette webhook that checks the signature and inserts one row (the baseline,
on its own database of the same kind). Every webhook is signed exactly like Twilio's
(`RequestValidator.compute_signature` into X-Twilio-Signature). Phases:

1. ingest: a closed-loop burst over 32 connections, against the baseline and then the bot (each phase
   after the first waits until the bot has answered everything: replies leave at up to 400/s here);
2. handled/s: a backlog stored in the inbox in one transaction, timed from the first `processed_at`
   to the last;
3. open loop: 100 messages/s for a fixed time, HTTP latency counted from each message's scheduled
   send time (so a slow server cannot slow the load down), processing lag from `received_at` to
   `processed_at` (the moment its handling starts; on SQLite the batch commits within 50 ms).

Then prints the table and the ratios. PostgreSQL comes from tests/support/peers.py (a throwaway
cluster, fsync off like the tests').
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import func, insert, select
from twilio.request_validator import RequestValidator

from bot.inbox import sender_key
from handlers.kernel.messages import Address, Channel, Inbound
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import InboxItem, OutboxMessage, OutboxStatus, Person, Role

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
WHATSAPP_FROM = "+14155238886"
PARTICIPANTS = 300
CONNECTIONS = 32
RATE = 100.0
TEXTS = ("halo kak", "Bagaimana cara daftar NIB untuk usaha keripik rumahan?", "1", "makasih kak", "menu")


@dataclass
class Sizes:
    burst: int
    backlog: int
    open_seconds: float


FULL, QUICK = Sizes(burst=1500, backlog=1500, open_seconds=10.0), Sizes(burst=500, backlog=500, open_seconds=5.0)


# ---------------------------------------------------------------------- the two small servers


def serve_twilio(port: int) -> None:
    """A fake Twilio Messages API: every create is accepted at once (201, a fresh SID)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def create(request: Request) -> JSONResponse:
        form = await request.form()
        return JSONResponse({"sid": "SM" + uuid.uuid4().hex, "status": "queued", "account_sid": ACCOUNT_SID,
                             "to": form.get("To"), "from": form.get("From"), "body": form.get("Body")}, status_code=201)

    app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_baseline(port: int, database_url: str) -> None:
    """The minimal webhook: check the signature, insert one row, answer empty TwiML."""
    import uvicorn
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    metadata = MetaData()
    table = Table("webhooks", metadata, Column("id", Integer, primary_key=True),
                  Column("external_id", String(80), unique=True), Column("body", Text),
                  Column("received_at", DateTime(timezone=True)))
    engine = make_engine(database_url)
    validator = RequestValidator(AUTH_TOKEN)
    public = f"http://127.0.0.1:{port}"
    # SQLite: one writer at a time, waiting on an asyncio lock rather than on the file lock's busy handler
    writer = asyncio.Lock() if database_url.startswith("sqlite") else contextlib.nullcontext()

    async def webhook(request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not validator.validate(public + request.url.path, form, request.headers.get("X-Twilio-Signature", "")):
            return PlainTextResponse("invalid signature", status_code=403)
        async with writer, engine.begin() as connection:
            await connection.execute(insert(table), [{"external_id": form["MessageSid"], "body": form.get("Body", ""),
                                                      "received_at": datetime.now(UTC)}])
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', media_type="application/xml")

    async def create_table() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        await engine.dispose()  # its connections belong to this loop, not to uvicorn's

    asyncio.run(create_table())
    app = Starlette(routes=[Route("/twilio/whatsapp", webhook, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------------- processes


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """A webhook endpoint the load goes to."""

    port: int
    process: subprocess.Popen[bytes]
    sent: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def spawn(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                env=env, start_new_session=True)


def start_bot(folder: Path, database_url: str, twilio_port: int, name: str, reply_rate: float = 400.0) -> Target:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KLINIK_")}
    env |= {"KLINIK_DATABASE_URL": database_url, "KLINIK_DATA_DIR": str(folder), "KLINIK_HTTP_PORT": str(port),
            "KLINIK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "KLINIK_TWILIO__ACCOUNT_SID": ACCOUNT_SID,
            "KLINIK_TWILIO__AUTH_TOKEN": AUTH_TOKEN, "KLINIK_TWILIO__WHATSAPP_FROM": WHATSAPP_FROM,
            "KLINIK_TWILIO__API_BASE_URL": f"http://127.0.0.1:{twilio_port}", "KLINIK_TELEGRAM__TOKEN": "",
            # replies leave quickly between phases (not measured; on the same cores while the backlog is handled)
            "KLINIK_TWILIO__MESSAGES_PER_SECOND": f"{reply_rate:g}",
            "PYTHONPATH": str(ROOT)}
    process = spawn(["-m", "bot.cli", "run"], folder / f"{name}.log", env)
    return Target(port, process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def wait_up(session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited; see {log}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as answer:
                if answer.status < 500:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# ---------------------------------------------------------------------- data


def phone(index: int) -> str:
    return f"+62813{index:08d}"


async def seed(database_url: str) -> None:
    """300 participants with three mentors, consented (as after onboarding)."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    common: dict[str, Any] = {"consent_given": True, "consent_at": now, "created_at": now, "updated_at": now,
                              "extra": {}, "preferred_channel": "whatsapp"}
    async with make_sessionmaker(engine).begin() as session:
        mentors = [Person(role=Role.PENDAMPING, name=f"Pendamping {n}", phone=f"+62811000000{n:02d}", **common)
                   for n in range(3)]
        session.add_all(mentors)
        await session.flush()
        session.add_all(Person(role=Role.PESERTA, name=f"Peserta {n}", phone=phone(n), mentor_id=mentors[n % 3].id,
                               business_name=f"Usaha {n}", cohort="Angkatan 1", **common) for n in range(PARTICIPANTS))
    await engine.dispose()


def form(number: int, run: str) -> dict[str, str]:
    """What Twilio posts for message `number` (each participant in turn; texts cycle per participant)."""
    who = number % PARTICIPANTS
    sid = f"SM{run}{number:026d}"[:34]
    return {"SmsMessageSid": sid, "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{phone(who)}", "To": f"whatsapp:{WHATSAPP_FROM}",
            "Body": TEXTS[(number // PARTICIPANTS) % len(TEXTS)], "NumMedia": "0", "NumSegments": "1",
            "ProfileName": f"Peserta {who}", "WaId": phone(who).lstrip("+"), "SmsStatus": "received",
            "ApiVersion": "2010-04-01"}


def signed_requests(targets: Sequence[Target], count: int, run: str) -> list[tuple[Target, bytes, dict[str, str]]]:
    """Bodies and headers, signed for the URL each target is reached at (computed before the clock starts)."""
    validator = RequestValidator(AUTH_TOKEN)
    requests = []
    for number in range(count):
        target = targets[number % len(targets)]
        params = form(number, run)
        signature = validator.compute_signature(f"{target.base_url}/twilio/whatsapp", params)
        requests.append((target, urlencode(params).encode(),
                         {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}))
    return requests


# ---------------------------------------------------------------------- load


async def post(session: aiohttp.ClientSession, target: Target, body: bytes, headers: dict[str, str]) -> None:
    async with session.post(f"{target.base_url}/twilio/whatsapp", data=body, headers=headers) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{target.base_url} answered {answer.status}: {(await answer.text())[:300]}")


async def closed_loop(targets: Sequence[Target], count: int, run: str) -> float:
    """Webhooks accepted per second with CONNECTIONS requests always in flight."""
    requests = iter(signed_requests(targets, count, run))
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def connection() -> None:
            for target, body, headers in requests:
                await post(session, target, body, headers)

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
        return count / (time.perf_counter() - started)


async def open_loop(targets: Sequence[Target], seconds: float, run: str) -> list[float]:
    """HTTP latencies (ms) at RATE messages/s, each from its scheduled send time."""
    requests = signed_requests(targets, int(RATE * seconds), run)
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def send(scheduled: float, target: Target, body: bytes, headers: dict[str, str]) -> None:
            await post(session, target, body, headers)
            latencies.append((time.perf_counter() - scheduled) * 1000)

        started = time.perf_counter()
        tasks = []
        for number, request in enumerate(requests):
            scheduled = started + number / RATE
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(send(scheduled, *request)))
        await asyncio.gather(*tasks)
    return latencies


async def store_backlog(database_url: str, count: int, run: str) -> None:
    """`count` inbound messages stored in one transaction, as the webhook stores them."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    rows = []
    for number in range(count):
        params = form(number, run)
        inbound = Inbound(address=Address(Channel.WHATSAPP, params["From"].removeprefix("whatsapp:")),
                          external_id=params["MessageSid"], received_at=now, sender_id=params["From"][9:],
                          sender_name=params["ProfileName"], text=params["Body"])
        rows.append({"channel": "whatsapp", "external_id": inbound.external_id, "payload": inbound.to_json(),
                     "received_at": now, "sender": sender_key(inbound), "attempts": 0})
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(insert(InboxItem), rows)
    await engine.dispose()


async def processed(database_url: str, run: str, count: int, within: float) -> list[tuple[datetime, datetime]]:
    """(received_at, processed_at) of this run's items, once all `count` are processed."""
    engine = make_engine(database_url)
    query = select(InboxItem.received_at, InboxItem.processed_at).where(
        InboxItem.external_id.like(f"SM{run}%"), InboxItem.processed_at.is_not(None))
    deadline = time.monotonic() + within
    try:
        async with make_sessionmaker(engine)() as session:
            while True:
                done = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
                if done >= count or time.monotonic() > deadline:
                    rows = [(r[0], r[1] or r[0]) for r in (await session.execute(query)).all()]
                    if done < count:
                        print(f"  ! only {done} of {count} processed within {within:.0f} s", flush=True)
                    return rows
                await session.rollback()
                await asyncio.sleep(0.25)
    finally:
        await engine.dispose()


async def answered(database_url: str, within: float) -> None:
    """Wait until no reply is left to send (the next phase starts with an idle delivery worker)."""
    engine = make_engine(database_url)
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
    deadline = time.monotonic() + within
    try:
        async with make_sessionmaker(engine)() as session:
            while await session.scalar(query) and time.monotonic() < deadline:
                await session.rollback()
                await asyncio.sleep(0.25)
    finally:
        await engine.dispose()


def cpu_seconds(roots: Sequence[int]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process in these trees (Linux /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    def in_tree(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
        return False
    return {pid: seconds for pid, seconds in times.items() if in_tree(pid)}


class CpuMeter:
    """CPU used by groups of process trees between start() and stop() (processes that ended meanwhile are missed)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(roots) for name, roots in self.groups.items()}

    def stop(self) -> None:
        self.used = {name: sum(seconds - self.before[name].get(pid, 0.0) for pid, seconds in cpu_seconds(roots).items())
                     for name, roots in self.groups.items()}

    def per_message(self, count: int) -> str:
        return ", ".join(f"{name} {seconds * 1000 / max(1, count):.2f}" for name, seconds in self.used.items())


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# ---------------------------------------------------------------------- one database


@dataclass
class Figures:
    ingest: float = 0.0
    baseline: float = 0.0
    handled: float = 0.0
    lag_p50: float = 0.0
    lag_p99: float = 0.0
    http_p50: float = 0.0
    http_p99: float = 0.0
    processes: int = 1
    cpu_ingest: str = ""  # CPU ms per webhook in the ingest phase, per process group
    cpu_handled: str = ""  # CPU ms per message handled from the backlog, per process group
    cpu_answered: str = ""  # the same until the last reply to the backlog was sent


@contextlib.contextmanager
def databases(kind: str) -> Iterator[tuple[str, str, Path, int | None]]:
    """(bot database URL, baseline database URL, a folder for logs, PostgreSQL's postmaster pid)."""
    keep = os.environ.get("KLINIK_BENCH_KEEP_LOGS")  # set: the processes' logs stay (the folder is printed)
    with (contextlib.nullcontext(tempfile.mkdtemp(prefix=f"klinik-bench-{kind}-")) if keep
          else tempfile.TemporaryDirectory(prefix=f"klinik-bench-{kind}-")) as folder:
        path = Path(folder)
        if keep:
            print(f"[{kind}] logs in {path}", flush=True)
        if kind == "sqlite":
            yield f"sqlite+aiosqlite:///{path / 'klinik.db'}", f"sqlite+aiosqlite:///{path / 'baseline.db'}", path, None
            return
        from tests.support.peers import PostgresCluster
        cluster = PostgresCluster.create()
        try:
            cluster.start()
            assert cluster.process is not None
            yield cluster.url("klinik"), cluster.create_database("baseline"), path, cluster.process.pid
        finally:
            cluster.stop()


async def measure(kind: str, sizes: Sizes, reply_rate: float = 400.0) -> Figures:
    figures = Figures(processes=1 if kind == "sqlite" else 2)
    with databases(kind) as (url, baseline_url, folder, postmaster):
        await upgrade(url)
        await seed(url)
        twilio_port, baseline_port = free_port(), free_port()
        helpers = [spawn([__file__, "--serve-twilio", str(twilio_port)], folder / "twilio.log"),
                   spawn([__file__, "--serve-baseline", str(baseline_port), baseline_url], folder / "baseline.log")]
        bots = [start_bot(folder, url, twilio_port, f"klinik-{n}", reply_rate) for n in range(figures.processes)]
        baseline = Target(baseline_port, helpers[1])
        try:
            async with aiohttp.ClientSession() as session:
                for bot in bots:
                    await wait_up(session, f"{bot.base_url}/healthz", bot.process, folder / "klinik-0.log")
                await wait_up(session, f"{baseline.base_url}/twilio/whatsapp", baseline.process, folder / "baseline.log")
            print(f"[{kind}] up: {len(bots)} × klinik run, baseline, fake Twilio", flush=True)

            figures.baseline = await closed_loop([baseline], sizes.burst, "B")
            print(f"[{kind}] baseline {figures.baseline:.0f}/s", flush=True)
            stop(baseline.process)  # idle from here on
            meter = CpuMeter({"klinik run": [bot.process.pid for bot in bots], "fake Twilio": [helpers[0].pid]}
                             | ({"PostgreSQL": [postmaster]} if postmaster else {}))
            meter.start()
            figures.ingest = await closed_loop(bots, sizes.burst, "A")
            meter.stop()
            figures.cpu_ingest = meter.per_message(sizes.burst)
            print(f"[{kind}] ingest {figures.ingest:.0f}/s (CPU ms per webhook: {figures.cpu_ingest}); waiting for "
                  "the burst to be handled and answered", flush=True)
            await processed(url, "A", sizes.burst, within=120)
            await answered(url, within=60 + sizes.burst * 1.2 / reply_rate)

            await store_backlog(url, sizes.backlog, "C")
            meter.start()
            times = await processed(url, "C", sizes.backlog, within=120)
            meter.stop()
            figures.cpu_handled = meter.per_message(sizes.backlog)
            await answered(url, within=60 + sizes.backlog * 1.2 / reply_rate)
            meter.stop()
            figures.cpu_answered = meter.per_message(sizes.backlog)
            window = (max(p for _, p in times) - min(p for _, p in times)).total_seconds()
            figures.handled = (len(times) - 1) / window if window > 0 else float("nan")
            print(f"[{kind}] handled {figures.handled:.0f}/s from a backlog of {sizes.backlog}; CPU ms per message "
                  f"until the last was handled: {figures.cpu_handled}; until the last reply was sent: "
                  f"{figures.cpu_answered}", flush=True)

            latencies = await open_loop(bots, sizes.open_seconds, "D")
            lags = [(p - r).total_seconds() * 1000 for r, p in
                    await processed(url, "D", len(latencies), within=120)]
            figures.http_p50, figures.http_p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            figures.lag_p50, figures.lag_p99 = percentile(lags, 0.5), percentile(lags, 0.99)
            print(f"[{kind}] open loop: HTTP p50 {figures.http_p50:.0f} ms p99 {figures.http_p99:.0f} ms; "
                  f"lag p50 {figures.lag_p50:.0f} ms p99 {figures.lag_p99:.0f} ms", flush=True)
        except BaseException:
            for log in sorted(folder.glob("*.log")):
                print(f"--- {log.name}:", *log.read_text(errors="replace").splitlines()[-15:], sep="\n")
            raise
        finally:
            for process in [bot.process for bot in bots] + helpers:
                stop(process)
    return figures


def report(results: dict[str, Figures]) -> None:
    kinds = list(results)
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL 15"}
    def row(label: str, cells: list[str]) -> None:
        print(f"| {label} | " + " | ".join(cells) + " |")

    print()
    print("| | " + " | ".join(f"{names[k]} ({results[k].processes} process{'es' * (results[k].processes > 1)})"
                               for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    row(f"webhook ingest, closed loop, {CONNECTIONS} connections", [f"{results[k].ingest:,.0f}/s" for k in kinds])
    row("minimal Starlette webhook (signature + one INSERT), same load", [f"{results[k].baseline:,.0f}/s" for k in kinds])
    row("ingest / baseline (target ≥ 50%)", [f"{results[k].ingest / results[k].baseline:.0%}" for k in kinds])
    row("inbound handled (inbox received_at → processed_at)", [f"{results[k].handled:,.0f}/s" for k in kinds])
    row(f"at {RATE:.0f}/s offered: processing lag p50 / p99", [f"{results[k].lag_p50:,.0f} ms / {results[k].lag_p99:,.0f} ms"
                                                               for k in kinds])
    row(f"at {RATE:.0f}/s offered: HTTP p50 / p99", [f"{results[k].http_p50:,.0f} ms / {results[k].http_p99:,.0f} ms"
                                                     for k in kinds])
    print()
    targets = {"sqlite": 500.0, "postgres": 1000.0}
    for kind in kinds:
        figures = results[kind]
        print(f"{names[kind]}: handled {figures.handled / targets[kind]:.0%} of the {targets[kind]:,.0f}/s target; "
              f"lag p99 {figures.lag_p99 / 250:.0%} of the 250 ms bound; ingest {figures.ingest / figures.baseline:.0%} "
              f"of the baseline")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="smaller bursts and a shorter open loop")
    parser.add_argument("--reply-rate", type=float, default=400.0,
                        help="WhatsApp replies per second for all bot processes together (default 400; Twilio's "
                             "default for one sender is 80: the replies then compete less with the handling)")
    parser.add_argument("--serve-twilio", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-baseline", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_twilio:
        serve_twilio(args.serve_twilio)
        return
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return
    sizes = QUICK if args.quick else FULL
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    started = time.monotonic()
    results = {kind: asyncio.run(measure(kind, sizes, args.reply_rate)) for kind in kinds}
    report(results)
    print(f"\n({time.monotonic() - started:.0f} s; {os.cpu_count()} cores; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end)")


if __name__ == "__main__":
    main()
