"""`klinik run --only web|worker|scheduler`: which loops a process starts, what it reports, and the SQLite refusal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.app import KlinikApp
from bot.processes import ALL_ROLES, ProcessRole, RolesError, parse_roles, refusal
from bot.settings import load_settings
from bot.status import collect_status, render_status
from tests.support.peers import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB, WORKER, SCHEDULER = ProcessRole.WEB, ProcessRole.WORKER, ProcessRole.SCHEDULER
TASKS_OF_ROLE = {WEB: {"http", "http-pulse"}, WORKER: {"delivery", "inbox"}, SCHEDULER: set()}
PULSES_OF_ROLE = {WEB: {"http"}, WORKER: {"delivery", "inbox"}, SCHEDULER: {"scheduler"}}


def app_for(db_url: str, roles: frozenset[ProcessRole]) -> KlinikApp:
    settings = load_settings(_env_file=None, database_url=db_url, http_port=free_port())
    return KlinikApp(settings, roles=roles)


def test_roles_are_read_from_a_comma_list() -> None:
    assert parse_roles("web") == {WEB}
    assert parse_roles(" Worker, scheduler ") == {WORKER, SCHEDULER}
    assert parse_roles("web,worker,scheduler") == ALL_ROLES


@pytest.mark.parametrize("given", ["webhook", "", "web,,", "worker;scheduler"])
def test_an_unknown_role_is_refused_in_indonesian(given: str) -> None:
    with pytest.raises(RolesError, match="Peran tidak dikenal") as raised:
        parse_roles(given)

    assert "web, worker, scheduler" in str(raised.value)


def test_splitting_roles_needs_postgresql_but_everything_in_one_process_does_not() -> None:
    sqlite, postgres = "sqlite+aiosqlite:///data/klinik.db", "postgresql+asyncpg://bot@db/klinik"

    assert refusal(ALL_ROLES, sqlite) is None
    assert refusal(frozenset({WEB}), postgres) is None
    assert "`klinik run --only web,worker` butuh PostgreSQL" in (refusal(frozenset({WORKER, WEB}), sqlite) or "")


def test_klinik_run_only_on_sqlite_is_refused_and_starts_nothing(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "KLINIK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/k.db", "KLINIK_HTTP_PORT": str(port)}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--only", "worker"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 2
    assert "`klinik run --only worker` butuh PostgreSQL" in result.stderr
    assert "KLINIK_DATABASE_URL" in result.stderr
    assert not (tmp_path / "k.db").exists()  # not even migrated


@pytest.mark.parametrize("roles", [frozenset({WEB}), frozenset({WORKER}), frozenset({SCHEDULER}),
                                   frozenset({WORKER, SCHEDULER}), ALL_ROLES],
                         ids=["web", "worker", "scheduler", "worker+scheduler", "all"])
async def test_each_role_starts_its_own_loops_and_no_other(db_url: str, roles: frozenset[ProcessRole]) -> None:
    app = app_for(db_url, roles)
    await app.start()
    try:
        tasks = {task.get_name() for task in app.tasks}
        pulses = {pulse.name for pulse in app.heartbeat.pulses}
        scheduling = app.scheduler.running
    finally:
        await app.stop()

    assert tasks == {"heartbeat"}.union(*(TASKS_OF_ROLE[role] for role in roles))
    assert scheduling == (SCHEDULER in roles)
    assert pulses == set().union(*(PULSES_OF_ROLE[role] for role in roles))


async def test_healthz_names_the_roles_and_reports_only_their_loops(db_url: str) -> None:
    app = app_for(db_url, frozenset({WEB}))
    await app.start()
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                if app.server.started:
                    break
                await asyncio.sleep(0.05)
            response = await client.get(f"http://127.0.0.1:{app.settings.http_port}/healthz")
    finally:
        await app.stop()

    assert response.json()["roles"] == ["web"]
    assert set(response.json()["loops"]) == {"http"}


async def test_klinik_status_says_which_roles_each_process_runs(db_url: str) -> None:
    worker, scheduler = app_for(db_url, frozenset({WORKER})), app_for(db_url, frozenset({SCHEDULER}))
    for app in (worker, scheduler):
        await app.heartbeat.beat()
    try:
        async with worker.sessions() as session:
            status = await collect_status(session, datetime.now(UTC))
    finally:
        for app in (worker, scheduler):
            await app.engine.dispose()

    text = render_status(status, "id", UTC)
    assert f"proses {worker.holder}: worker" in text
    assert f"proses {scheduler.holder}: scheduler" in text


def test_processes_starting_together_migrate_an_empty_postgresql_once(db_kind: str,
                                                                      request: pytest.FixtureRequest) -> None:
    if db_kind != "postgres":
        pytest.skip("several processes are for PostgreSQL")
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(f"klinik_roles_{os.getpid()}")
    try:
        migrate = [sys.executable, "-c", f"from storage.db import upgrade_sync; upgrade_sync({url!r})"]
        started = [subprocess.Popen(migrate, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        errors = [process.communicate(timeout=120)[1] for process in started]
    finally:
        cluster.drop_database(f"klinik_roles_{os.getpid()}")

    assert [process.returncode for process in started] == [0, 0, 0], errors


def test_klinik_run_only_web_on_postgresql_serves_health_with_its_role(db_kind: str, db_url: str,
                                                                       tmp_path: Path) -> None:
    if db_kind != "postgres":
        pytest.skip("--only needs PostgreSQL")
    port = free_port()
    env = {**os.environ, "KLINIK_DATABASE_URL": db_url, "KLINIK_HTTP_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--only", "web"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 30, None
        while health is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()

    assert health is not None
    assert (health["roles"], set(health["loops"])) == (["web"], {"http"})
    assert "Peran proses ini: web" in output
