"""Benchmark: every web console page at 100,000 participants, cold and warm, as a coordinator and a mentor.

    .venv/bin/python -m benchmarks.bench_console                 # build the programme in /tmp/klinik-console-bench
    .venv/bin/python -m benchmarks.bench_console --reuse         # reuse the programme built before
    .venv/bin/python -m benchmarks.bench_console --database-url postgresql+asyncpg://…/db [--reuse]
    .venv/bin/python -m benchmarks.bench_console --postgres          # on a throwaway PostgreSQL 15 cluster

The programme is benchmarks/bench_data.py's (the same one bench_jobs uses). The real HTTP app of
`klinik run` (bot.http.WebApp with the console mounted) answers through httpx's ASGI transport in this
process; the coordinator and a mentor sign in with the code the bot queued for their chat. "cold" is a
page's first load in a fresh app (no figure memoised yet); "warm" the next --repeat loads (p50 and max).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select, text

from benchmarks.bench_jobs import DIGEST_AT, ZONE, prepare
from bot.console import Console
from bot.http import WebApp
from bot.media import MediaStore
from handlers.kernel.config import Config
from handlers.kernel.messages import Inbound
from handlers.kernel.outbox import message_of
from storage.db import make_engine, make_sessionmaker, upgrade_sync
from storage.models import OutboxMessage, Person, Role, Ticket, TicketStatus

BASE_URL = "https://klinik.bench"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CODE = re.compile(r"\*(\d{6})\*")
LIMIT_MS = 300


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--mentors", type=int, default=2_000)
    parser.add_argument("--score-weeks", type=int, default=52)
    parser.add_argument("--database-url", help="PostgreSQL (default: SQLite under --dir)")
    parser.add_argument("--dir", default="/tmp/klinik-console-bench")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL 15 cluster and use it")
    parser.add_argument("--reuse", action="store_true", help="the database already holds the programme")
    parser.add_argument("--repeat", type=int, default=5, help="warm loads per page")
    return parser.parse_args()


async def _ingest(_inbound: Inbound) -> bool:
    return True


def app_of(sessions: object, config: Config) -> tuple[Console, httpx.AsyncClient]:
    """A fresh `klinik run` HTTP app (nothing memoised, figures refreshed in the background as in
    bot/app.py) and a browser on it."""
    console = Console(sessions=sessions, config=config, public_base_url=BASE_URL,  # type: ignore[arg-type]
                      clock=lambda: DIGEST_AT, refresh_in_background=True)
    app = WebApp(sessions=sessions, ingest=_ingest, after_ingest=lambda: None,  # type: ignore[arg-type]
                 media=MediaStore(sessions), console=console).build()  # type: ignore[arg-type]
    return console, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, timeout=60)


async def sign_in(browser: httpx.AsyncClient, sessions: object, person: Person) -> dict[str, str]:
    """Sign the browser in with the code the bot queued for the person; its cookies."""
    page = await browser.get("/console/masuk")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    await browser.post("/console/masuk", data={"phone": person.phone, "csrf": token})
    async with sessions() as db:  # type: ignore[operator]
        row = (await db.execute(select(OutboxMessage).where(OutboxMessage.recipient_id == person.id)
                                .order_by(OutboxMessage.id.desc()).limit(1))).scalar_one()
        code = CODE.search(message_of(row).text).group(1)  # type: ignore[union-attr]
    answer = await browser.post("/console/masuk/kode", data={"code": code, "csrf": token})
    assert answer.status_code == 303, answer.text
    return dict(browser.cookies)


async def timed(browser: httpx.AsyncClient, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    answer = await browser.get(path)
    return answer.status_code, (time.perf_counter() - started) * 1000


async def restart_load(sessions: object, config: Config, cookies: dict[str, str], path: str) -> float:
    """The page's first load in an app started a moment ago, nothing in memory (ms)."""
    _console, browser = app_of(sessions, config)
    async with browser:
        browser.cookies.update(cookies)
        return (await timed(browser, path))[1]


async def run(url: str, repeat: int) -> bool:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    config = Config(timezone=ZONE)
    async with sessions() as db:
        coordinator = (await db.execute(select(Person).where(Person.role == Role.KOORDINATOR)
                                        .order_by(Person.id).limit(1))).scalar_one()
        mentor = (await db.execute(select(Person).where(Person.role == Role.PENDAMPING)
                                   .order_by(Person.id).limit(1))).scalar_one()
        participant = (await db.execute(select(Person.id).where(Person.mentor_id == mentor.id)
                                        .order_by(Person.id).limit(1))).scalar_one()
        ticket = (await db.execute(select(Ticket.id).where(Ticket.mentor_id == mentor.id,
                                                           Ticket.status == TicketStatus.OPEN)
                                   .order_by(Ticket.id).limit(1))).scalar_one_or_none()
        if ticket is None:
            ticket = (await db.execute(select(Ticket.id).where(Ticket.mentor_id == mentor.id)
                                       .order_by(Ticket.id).limit(1))).scalar_one()
        people = (await db.execute(select(func.count()).select_from(Person))).scalar_one()
    shared = ["/console/", "/console/peserta", "/console/peserta?halaman=2", "/console/peserta?q=peserta+4711",
              "/console/peserta?q=0812", "/console/peserta?risiko=1", "/console/peserta?skor=rendah",
              f"/console/peserta/{participant}", "/console/antrian", f"/console/tiket/{ticket}",
              "/console/pendamping", f"/console/pendamping/{mentor.id}", "/console/sesi", "/console/tugas",
              "/console/laporan", "/console/izin"]
    coordinator_only = ["/console/peserta?halaman=1500", "/console/peserta?q=peserta+99999",
                        "/console/peserta?cohort=Angkatan+7&risiko=1", "/console/peserta?skor=tinggi&halaman=3",
                        "/console/antrian?halaman=20", "/console/roster", "/console/siaran", "/console/rekap",
                        "/console/faq", "/console/audit"]
    print(f"{people:,} people on {url.split(':', 1)[0]}, times in ms.\n"
          "restart: the page's first load in a just-started app (nothing in memory: the figures as stored by the\n"
          "app before, fresh under the bench's fixed clock);\n"
          "first: its first load after signing in to a fresh app (the sign-in page started the programme-wide\n"
          f"figures in the background while the code was typed); warm: {repeat} more loads, p50 and max.")
    print(f"{'role':<12} {'page':<46} {'status':>6} {'restart':>8} {'first':>6} {'warm p50':>9} {'warm max':>9}")
    worst = 0.0
    for person, paths in ((coordinator, shared + coordinator_only), (mentor, shared)):
        console, browser = app_of(sessions, config)
        async with browser:
            cookies = await sign_in(browser, sessions, person)
            await asyncio.gather(*console.refreshing.values())  # the code is being typed meanwhile
            for path in paths:
                status, first = await timed(browser, path)
                warm = [(await timed(browser, path))[1] for _ in range(repeat)]
                restart = await restart_load(sessions, config, cookies, path)
                worst = max(worst, first, *warm)
                print(f"{person.role:<12} {path:<46} {status:>6} {restart:>8.0f} {first:>6.0f} "
                      f"{statistics.median(warm):>9.0f} {max(warm):>9.0f}", flush=True)
    async with engine.begin() as conn:  # the bench's sign-in codes and sessions go again
        await conn.execute(text("DELETE FROM console_sessions"))
        await conn.execute(text("DELETE FROM console_codes"))
    await engine.dispose()
    print(f"slowest first or warm load: {worst:.0f} ms (limit {LIMIT_MS} ms)")
    return worst <= LIMIT_MS


def main() -> None:
    args = parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    cluster = None
    if args.postgres:
        from tests.support.peers import PostgresCluster

        cluster = PostgresCluster.create()
        cluster.start()
        args.reuse = False
    try:
        url = (cluster.create_database("bench_console") if cluster is not None
               else args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        if not args.reuse and url.startswith("sqlite"):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{folder / 'bench.db'}{suffix}").unlink(missing_ok=True)
        upgrade_sync(url)
        seconds, counts = asyncio.run(prepare(url, args))
        if counts:
            print(f"generated in {seconds:.0f} s: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
        ok = asyncio.run(run(url, args.repeat))
    finally:
        if cluster is not None:
            cluster.stop()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
