"""Benchmark: the daily nudge scan and the weekly digest on a programme of 100,000 participants.

    .venv/bin/python -m benchmarks.bench_jobs                      # SQLite in /tmp/klinik-bench
    .venv/bin/python -m benchmarks.bench_jobs --database-url postgresql+asyncpg://…/empty_db
    .venv/bin/python -m benchmarks.bench_jobs --reuse              # skip generation, run the jobs again

Generates 100,000 participants, 2,000 mentors and a year of activity with bulk inserts, then runs
each job as the scheduler's run_job does (compute, outbox rows, commit), three times from the same
state, each run in a fresh process; prints the median run's phases (job body: queries, scoring,
files; writing the outbox rows; the commit), its CPU time and peak memory (resident set size).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import resource
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, select, text, update

from benchmarks.bench_data import Shape, generate, keep_facts
from handlers.kernel.config import Config
from handlers.participation.scores import shift_week, week_bounds, week_of
from storage.db import make_engine, make_sessionmaker, upgrade_sync
from storage.models import (
    JobRun,
    MediaLink,
    NudgeLog,
    OutboxMessage,
    ParticipationScore,
    Person,
    Role,
)

ZONE = ZoneInfo("Asia/Jakarta")
SCORES_AT = datetime(2026, 3, 9, 0, 0, tzinfo=ZONE)  # a Monday's first tick: the week before is scored and stored
DIGEST_AT = datetime(2026, 3, 9, 7, 0, tzinfo=ZONE)  # the same Monday: the digest of the week before
NUDGES_AT = datetime(2026, 3, 9, 9, 0, tzinfo=ZONE)  # the same day's nudge scan
DIGEST_WEEK = "2026-W10"
APP_JOBS = (("weekly_scores", SCORES_AT), ("weekly_digest", DIGEST_AT), ("participation_nudges", NUDGES_AT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--mentors", type=int, default=2_000)
    parser.add_argument("--score-weeks", type=int, default=52, help="weeks of stored scores to generate")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite under --dir)")
    parser.add_argument("--dir", default="/tmp/klinik-bench", help="where the SQLite file and digest files go")
    parser.add_argument("--reuse", action="store_true", help="keep the generated data; only run the jobs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each job (the median is shown)")
    parser.add_argument("--channels", action="store_true",
                        help="with --app-rss: Telegram and WhatsApp configured, against a stand-in of both APIs "
                             "on loopback (as a Dinas runs it; without: no channel libraries load)")
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # the child of --app-rss --channels: the stand-in's URL
    parser.add_argument("--app-rss", action="store_true",
                        help="also run both jobs inside a started `klinik run` app (every loop, the HTTP server and "
                             "the scheduler running) and report that process's resident memory")
    parser.add_argument("--job", action="append", choices=[job_id for job_id, _ in APP_JOBS],
                        help="run only this job (repeatable; default both); --repeat 0 with --app-rss: only the app run")
    parser.add_argument("--in-app", action="store_true", help=argparse.SUPPRESS)  # the child of --app-rss
    args = parser.parse_args()
    args.job = args.job or [job_id for job_id, _ in APP_JOBS]
    return args


async def prepare(url: str, args: argparse.Namespace) -> tuple[float, dict[str, int]]:
    """Generate the programme (unless reused) and refresh planner statistics."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            people = (await conn.execute(select(func.count()).select_from(Person))).scalar_one()
        if people and not args.reuse:
            raise SystemExit("the database is not empty: give an empty one, or --reuse to run the jobs again")
        started, counts = time.perf_counter(), {}
        if not args.reuse:
            # Stored scores up to the week before the digest's: the digest stores its own week.
            weeks = [shift_week(week_of(DIGEST_AT, ZONE), -n) for n in range(args.score_weeks + 1, 1, -1)]
            mondays = [week_bounds(w, ZONE)[0] for w in weeks]
            shape = Shape(args.participants, args.mentors, DIGEST_AT, args.score_weeks)
            async with engine.begin() as conn:
                counts = await generate(conn, shape, weeks, mondays)
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
            if args.reuse:  # the header names what the database holds, not the generation defaults
                args.participants = (await conn.execute(
                    select(func.count()).select_from(Person).where(Person.role == Role.PESERTA))).scalar_one()
                args.mentors = (await conn.execute(
                    select(func.count()).select_from(Person).where(Person.role == Role.PENDAMPING))).scalar_one()
        return time.perf_counter() - started, counts
    finally:
        await engine.dispose()


async def reset_runs(url: str, job_id: str = "") -> None:
    """Undo what an earlier run of the jobs wrote, so every run (and --reuse) does the same work.

    The nudge scan runs after the digest and keeps the week the digest stored (its baseline).
    """
    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as session:
        await session.execute(delete(JobRun))
        await session.execute(delete(OutboxMessage))
        await session.execute(delete(MediaLink).where(MediaLink.name.like("ringkasan-%")))
        await session.execute(delete(NudgeLog).where(NudgeLog.sent_at >= DIGEST_AT))
        await session.execute(update(NudgeLog).where(NudgeLog.resolved_at >= DIGEST_AT)
                              .values(resolved_at=None, resolution=None))
        if job_id != "participation_nudges":
            await session.execute(delete(ParticipationScore).where(ParticipationScore.week == DIGEST_WEEK))
            # The facts as they stood before the digest stored its week (the baselines for its week).
            await keep_facts(await session.connection(), shift_week(DIGEST_WEEK, -1))
    await engine.dispose()


def run_in_child(url: str, job_id: str, now: datetime, media_dir: str, results: Any) -> None:
    """Run one job in this fresh process as scheduler.runner.run_job does, timing each phase."""
    from handlers.kernel.outbox import enqueue_all
    from scheduler import schedule  # noqa: F401  (registers the jobs)
    from scheduler.jobs import JOBS

    job = next(j for j in JOBS if j.id == job_id)
    config = Config(timezone=ZONE, media_dir=media_dir)
    phases = time_digest_phases() if job_id == "weekly_digest" else {}
    reset_peak_rss()
    before = peak_rss_mb()

    async def main() -> tuple[float, float, float, float, int]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                cpu, started = cpu_seconds(), time.perf_counter()
                messages = await job.body(session, now, config)
                computed = time.perf_counter()
                await enqueue_all(session, messages, now, config)
                queued = time.perf_counter()
                await session.commit()
                return (computed - started, queued - computed, time.perf_counter() - queued,
                        cpu_seconds() - cpu, len(messages))
        finally:
            await engine.dispose()

    body, outbox, commit, cpu, messages = asyncio.run(main())
    if phases:
        print("  weekly_digest run: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items()),
              flush=True)
    results.put((job_id, body, outbox, commit, cpu, before, peak_rss_mb(), messages))


DIGEST_PHASES = (("scores and storing them", "score_and_store"), ("figures of the stored week", "stored_digest"),
                 ("of which (beside the rest) stored scores summed", "_sum_stored"),
                 ("and at-risk list with its sheet rows", "_stored_at_risk"), ("figures scored on the spot", "digest_of"),
                 ("PNG (a child process, beside the XLSX)", "draw_chart"), ("XLSX", "write_workbook"))


def time_digest_phases() -> dict[str, float]:
    """Time the digest's steps by wrapping the names its job body calls (the picture's child process imports
    matplotlib each time: that is in its time)."""
    from handlers.reports import digest

    spent = {label: 0.0 for label, _ in DIGEST_PHASES}

    def timed(label: str, step: Any) -> Any:
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await step(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return step(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return run_async if asyncio.iscoroutinefunction(step) else run

    for label, name in DIGEST_PHASES:
        setattr(digest, name, timed(label, getattr(digest, name)))
    return spent


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the digest picture is drawn by one)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now, in MB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak_rss() -> None:
    """Forget the peak resident size inherited from the parent (Linux: clear_refs 5)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, job_id: str, now: datetime, media_dir: str) -> tuple[Any, ...]:
    """One job in a spawned process, so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=run_in_child, args=(url, job_id, now, media_dir, results))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"{job_id} failed (exit {child.exitcode})")
    return results.get()  # type: ignore[no-any-return]


def median_run(url: str, job_id: str, now: datetime, media_dir: str, repeat: int) -> tuple[Any, ...]:
    """Run a job `repeat` times from the same starting state; the run with the median job-body time."""
    runs = []
    for _ in range(max(1, repeat)):
        asyncio.run(reset_runs(url, job_id))
        if job_id == "weekly_digest":  # the week is closed first, as in the bot (weekly_scores times it on its own)
            measure(url, "weekly_scores", SCORES_AT, media_dir)
        runs.append(measure(url, job_id, now, media_dir))
    runs.sort(key=lambda run: run[1])
    return runs[len(runs) // 2]


# A stand-in of the Bot API and Twilio's Messages API for a memory run (answers, never checks).
PEER = '''
import asyncio, sys, time, uuid
from aiohttp import web

async def telegram(request):
    name = request.match_info["method"]
    if name == "getUpdates":
        await asyncio.sleep(5)
    result = ({"id": 123456, "is_bot": True, "first_name": "Klinik", "username": "klinik_bot"} if name == "getMe"
              else [] if name == "getUpdates"
              else {"message_id": 1, "date": int(time.time()), "chat": {"id": 1, "type": "private"}, "text": "-"}
              if name.startswith("send") else True)
    return web.json_response({"ok": True, "result": result})

async def twilio(request):
    if request.method == "GET":
        return web.json_response({"messages": [], "next_page_uri": None})
    return web.json_response({"sid": "SM" + uuid.uuid4().hex, "status": "queued"}, status=201)

app = web.Application()
app.router.add_route("*", "/bot{token}/{method}", telegram)
app.router.add_route("*", "/2010-04-01/Accounts/{sid}/Messages.json", twilio)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
'''


def channels_at(peer: str) -> dict[str, Any]:
    """Both channels configured against the stand-in (placeholders, no real account)."""
    return {"telegram": {"token": "123456:bench-placeholder", "api_base_url": peer},
            "twilio": {"account_sid": "AC" + "0" * 32, "auth_token": "bench-placeholder",
                       "whatsapp_from": "+14155238886", "api_base_url": peer}}


async def jobs_in_app(url: str, folder: Path, jobs: list[str], peer: str | None = None) -> None:
    """The child of --app-rss: a KlinikApp started as `klinik run` starts it, then each job run as the
    scheduler's fire() runs it (run_job), at the benchmark's moments; prints one line per job."""
    from bot.app import KlinikApp
    from bot.settings import load_settings
    from scheduler.jobs import JOBS
    from scheduler.runner import run_job
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(_env_file=None, database_url=url, data_dir=str(folder), media_dir=str(folder / "media"),
                             http_port=port, **(channels_at(peer) if peer else {}))
    app = KlinikApp(settings)
    await app.start()
    try:
        print(f"started {peak_rss_mb():.0f}", flush=True)
        for job_id, now in APP_JOBS:
            if job_id not in jobs:
                continue
            job = next(j for j in JOBS if j.id == job_id)
            reset_peak_rss()
            started = time.perf_counter()
            messages = await run_job(job, app.sessions, app.config, now)
            print(f"job {job_id} {time.perf_counter() - started:.2f} {messages} {peak_rss_mb():.0f} "
                  f"{rss_mb():.0f}", flush=True)
    finally:
        await app.stop()


def app_rss(url: str, folder: Path, jobs: list[str],
            channels: bool = False) -> tuple[list[tuple[str, float, int, float, float]], float, float, float, float]:
    """Run the jobs inside a started app in a child process; sample its RSS from /proc while it runs.

    Returns (job, seconds, messages, peak RSS during the job, RSS after it) per job, RSS once started, peak RSS
    seen by sampling, VmHWM, and the peak RSS sampled of the app's own children (the digest picture's process).
    """
    import subprocess

    asyncio.run(reset_runs(url))
    peer: subprocess.Popen[str] | None = None
    extra = ["--database-url", url] if not url.startswith("sqlite") else []
    if channels:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        peer = subprocess.Popen([sys.executable, "-c", PEER, str(port)], text=True)
        for _ in range(100):  # until it answers
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        extra += ["--peer", f"http://127.0.0.1:{port}"]
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_jobs", "--in-app", "--reuse",
                              "--dir", str(folder), *(f"--job={job}" for job in jobs), *extra],
                             cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    status, sampled, hwm, children = Path(f"/proc/{child.pid}/status"), 0.0, 0.0, 0.0
    while child.poll() is None:
        with contextlib.suppress(OSError, ValueError):  # a worker thread's children are listed under its task
            for task in Path(f"/proc/{child.pid}/task").iterdir():
                for pid in (task / "children").read_text().split():
                    children = max(children, rss_mb(pid))
        with contextlib.suppress(OSError, ValueError, KeyError):  # KeyError: a zombie has no VmRSS
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            sampled = max(sampled, int(fields["VmRSS"].split()[0]) / 1024)
            hwm = max(hwm, int(fields["VmHWM"].split()[0]) / 1024)
        time.sleep(0.02)
    output = child.stdout.read().splitlines() if child.stdout else []
    if peer is not None:
        peer.terminate()
        peer.wait()
    if child.returncode != 0:
        raise SystemExit(f"the app run failed (exit {child.returncode})")
    started = next(float(line.split()[1]) for line in output if line.startswith("started"))
    jobs = [(parts[1], float(parts[2]), int(parts[3]), float(parts[4]), float(parts[5]))
            for parts in (line.split() for line in output) if parts[0] == "job"]
    return jobs, started, sampled, hwm, children


def print_app_rss(url: str, folder: Path, job_ids: list[str], channels: bool = False) -> None:
    jobs, started, sampled, hwm, children = app_rss(url, folder, job_ids, channels)
    print("\nInside a started `klinik run` app (HTTP server, inbox, delivery, scheduler running"
          + (", Telegram and WhatsApp configured against a stand-in" if channels else ", no channel configured")
          + "), one job after another:")
    for job_id, seconds, messages, peak, after in jobs:
        print(f"  {job_id:<22} {seconds:>6.2f} s  {messages:>7,} messages (job body + outbox + commit), "
              f"resident peak {peak:.0f} MB, after {after:.0f} MB")
    print(f"  resident memory: {started:.0f} MB once started, peak {max(sampled, hwm):.0f} MB "
          f"(VmHWM {hwm:.0f} MB, sampled every 20 ms {sampled:.0f} MB); its chart process: peak {children:.0f} MB")


def main() -> None:
    args = parse_args()
    if args.in_app:
        folder = Path(args.dir)
        asyncio.run(jobs_in_app(args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder, args.job, args.peer))
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if not args.reuse and url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{folder / 'bench.db'}{suffix}").unlink(missing_ok=True)
    upgrade_sync(url)
    seconds, counts = asyncio.run(prepare(url, args))
    engine_name = url.split(":", 1)[0]
    if counts:
        print(f"generated in {seconds:.0f} s on {engine_name}: "
              + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    rows = [median_run(url, job_id, now, str(folder / "media"), args.repeat)
            for job_id, now in APP_JOBS if args.repeat > 0 and job_id in args.job]
    print(f"\n{engine_name}, {args.participants:,} participants, {args.mentors:,} mentors")
    print(f"{'job':<22}{'job body s':>11}{'outbox s':>10}{'commit s':>10}{'CPU s':>8}{'RSS start MB':>14}"
          f"{'peak RSS MB':>13}{'messages':>10}")
    for job_id, body, outbox, commit, cpu, before, peak, messages in rows:
        print(f"{job_id:<22}{body:>11.2f}{outbox:>10.2f}{commit:>10.2f}{cpu:>8.2f}{before:>14.0f}{peak:>13.0f}"
              f"{messages:>10,}")
    if args.app_rss:
        print_app_rss(url, folder, args.job, args.channels)
    print("CPU s: this process's CPU time for the whole run and its children's (the digest picture's process;\n"
          "on SQLite that includes the database engine;\n"
          "PostgreSQL's own work is in the server). Wall times grow when other processes share the cores.")


if __name__ == "__main__":
    main()
