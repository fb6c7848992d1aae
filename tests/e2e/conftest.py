"""Fixtures for the end-to-end tests: one real KlinikApp per test on the session's peers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import upgrade_sync
from tests.e2e.harness import Klinik, copy_database
from tests.support.peers import PrismTwilio, TelegramEmulator


@pytest.fixture(scope="session")
def e2e_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (start-up then finds nothing to migrate)."""
    path = tmp_path_factory.mktemp("e2e-template") / "klinik.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def klinik(telegram_emulator: TelegramEmulator, prism_twilio: PrismTwilio, e2e_db_template: Path,
                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Klinik]:
    """The test's bot, not started yet: call ``await klinik.start()`` after seeding the roster."""
    for name in [name for name in os.environ if name.startswith("KLINIK_")]:
        monkeypatch.delenv(name)  # the settings come from the test alone
    harness = Klinik(telegram_emulator, prism_twilio, copy_database(e2e_db_template, tmp_path / "klinik.db"))
    try:
        yield harness
    finally:
        await harness.close()
