"""`klinik run --only web|worker|scheduler`: which loops a process starts, what it reports, and the SQLite refusal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.app import KlinikApp
from bot.processes import ALL_ROLES, ProcessRole, RolesError, parse_roles, refusal
from bot.settings import load_settings
from bot.status import collect_status, render_status
from tests.support.peers import free_port

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
    assert "butuh PostgreSQL" in (refusal(frozenset({WEB}), sqlite) or "")


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
