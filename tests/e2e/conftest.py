"""Fixtures for the end-to-end tests: one real KlinikApp per test on the session's peers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from storage.db import upgrade_sync
from tests.e2e.browser import Browser, fresh, start_chromium
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


# ---------------------------------------------------------------------- a real browser

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember on the test whether it failed, for the browser fixture to keep its screens."""
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the whole session (starting one takes about a second)."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome, klinik: Klinik, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The shared browser, cookies cleared, aimed at this test's bot; its screens are saved if the test fails."""
    with fresh(chromium) as driver:
        page = Browser(driver, klinik.base_url)
        yield page
        if request.node.stash.get(FAILED, False):
            folder = page.save_screens(request.node.nodeid)
            print(f"screens of the failed test: {folder}")
