"""A real browser for the console tests: Debian's headless Chromium driven by Selenium.

One Chromium runs for the whole session (``chromium`` fixture, started on first use); each test
gets a ``Browser`` on its own bot with the cookies cleared. Selenium's calls block, and the bot
under test serves from the test's own event loop, so every call runs in a worker thread
(``asyncio.to_thread``) while the loop keeps answering the browser's requests.

Selenium Manager never runs (it would try to download a driver): the Service is given Debian's
``/usr/bin/chromedriver`` and the options Debian's ``/usr/bin/chromium``. A screenshot of every
page the test saw is kept in memory; when the test fails they are written, with each page's
HTML, to ``tests/artifacts/screens/<test>/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

T = TypeVar("T")

CHROMIUM = Path(os.environ.get("KLINIK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KLINIK_CHROMEDRIVER", "/usr/bin/chromedriver"))
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver  (scripts/test.sh does it)"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screens"
WINDOW = "1280,900"


def start_chromium() -> webdriver.Chrome:
    """Debian's Chromium, headless, through Debian's chromedriver (no Selenium Manager)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"cannot start the browser: {', '.join(missing)} missing. Install: {INSTALL_HINT}",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--disable-background-networking",
                     "--lang=id-ID", f"--window-size={WINDOW}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "id-ID,id"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(15)
    return driver


@dataclass(frozen=True)
class Screen:
    """What the browser showed at one moment of the test."""

    label: str
    png: bytes
    html: str


@dataclass
class Browser:
    """The browser of one test, aimed at its bot; every method is awaited (runs in a thread)."""

    driver: webdriver.Chrome
    base_url: str
    screens: list[Screen] = field(default_factory=list, repr=False)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    # ------------------------------------------------------------------ navigation

    async def open(self, path: str) -> None:
        """Go to a page of the bot (``/console/…``) and keep a screenshot of it."""
        await self._run(lambda: self.driver.get(self.base_url + path))
        await self.snap(path)

    async def where(self) -> str:
        """The path (and query) the browser is on now."""
        return await self._run(self._path)

    def _path(self) -> str:
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def wait_path(self, wanted: str | re.Pattern[str], timeout: float = 5.0) -> str:  # noqa: ASYNC109
        """Wait until the browser is on ``wanted`` (an exact path or a pattern on path + query)."""
        def reached() -> bool:
            here = self._path()
            return bool(wanted.search(here)) if isinstance(wanted, re.Pattern) else here == wanted
        await self._until(reached, timeout, f"page {wanted}")
        return await self.where()

    async def click(self, element_id: str) -> None:
        """Press a button or link by id; the page it leads to is waited for and kept."""
        def press() -> None:
            old = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.ID, element_id).click()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # a submit or a link: wait for the next document
                try:
                    old.is_enabled()
                except WebDriverException:
                    break
                time.sleep(0.02)
            self._wait_loaded()
        await self._run(press)
        await self.snap(f"after #{element_id}")

    async def follow(self, link_text: str) -> None:
        """Follow the first link whose text contains ``link_text``."""
        def find() -> str:
            return str(self.driver.find_element(By.PARTIAL_LINK_TEXT, link_text).get_attribute("href"))
        href = await self._run(find)
        parts = urlsplit(href)
        await self.open(parts.path + (f"?{parts.query}" if parts.query else ""))

    def _wait_loaded(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(WebDriverException):
                if self.driver.execute_script("return document.readyState") == "complete":
                    return
            time.sleep(0.02)

    # ------------------------------------------------------------------ forms

    async def fill(self, element_id: str, text: str) -> None:
        """Type into an input or textarea (what was there is cleared first)."""
        def type_in() -> None:
            element = self.driver.find_element(By.ID, element_id)
            element.clear()
            element.send_keys(text)
        await self._run(type_in)

    async def tick(self, element_id: str) -> None:
        """Tick a checkbox (left ticked if it already is)."""
        def tick() -> None:
            box = self.driver.find_element(By.ID, element_id)
            if not box.is_selected():
                box.click()
        await self._run(tick)

    async def attach(self, element_id: str, path: Path) -> None:
        """Choose a file in an ``<input type=file>``."""
        await self._run(lambda: self.driver.find_element(By.ID, element_id).send_keys(str(path)))

    async def choose(self, element_id: str, visible_text: str) -> None:
        """Pick the option of a ``<select>`` whose text contains ``visible_text``."""
        def pick() -> None:
            select = Select(self.driver.find_element(By.ID, element_id))
            for option in select.options:
                if visible_text in option.text:
                    option.click()
                    return
            texts = [option.text for option in select.options]
            raise AssertionError(f"no option with {visible_text!r} in #{element_id}: {texts}")
        await self._run(pick)

    async def options(self, element_id: str) -> list[str]:
        """The texts of a ``<select>``'s options."""
        return await self._run(lambda: [o.text for o in Select(self.driver.find_element(By.ID, element_id)).options])

    # ------------------------------------------------------------------ reading

    async def text(self, element_id: str | None = None) -> str:
        """The visible text of an element by id, or of the whole page."""
        def read() -> str:
            if element_id is None:
                return str(self.driver.find_element(By.TAG_NAME, "body").text)
            return str(self.driver.find_element(By.ID, element_id).text)
        return await self._run(read)

    async def has(self, element_id: str) -> bool:
        """Whether the page has an element with this id."""
        def look() -> bool:
            try:
                self.driver.find_element(By.ID, element_id)
            except NoSuchElementException:
                return False
            return True
        return await self._run(look)

    async def links(self, css: str = "a") -> list[tuple[str, str]]:
        """(text, path) of the links matching a CSS selector."""
        def read() -> list[tuple[str, str]]:
            found: list[WebElement] = self.driver.find_elements(By.CSS_SELECTOR, css)
            return [(str(a.text), urlsplit(str(a.get_attribute("href"))).path) for a in found]
        return await self._run(read)

    async def content_type(self) -> str:
        """The MIME type of the document on screen (``image/png`` when a file link opened an image)."""
        return str(await self._run(lambda: self.driver.execute_script("return document.contentType")))

    async def image_loaded(self, css: str) -> bool:
        """Whether the image matching the CSS selector loaded (a broken or refused image has no natural width)."""
        script = "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0;"
        return bool(await self._run(lambda: self.driver.execute_script(script, css)))

    async def cookie(self, name: str) -> dict[str, Any] | None:
        """A cookie of the current site as the browser holds it (flags included)."""
        return await self._run(lambda: self.driver.get_cookie(name))

    # ------------------------------------------------------------------ evidence

    async def snap(self, label: str) -> None:
        """Keep what the browser shows now (written out only if the test fails)."""
        def take() -> Screen:
            return Screen(label, self.driver.get_screenshot_as_png(), str(self.driver.page_source))
        self.screens.append(await self._run(take))

    async def _until(self, check: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not await self._run(check):
            if time.monotonic() >= deadline:
                await self.snap(f"timeout {what}")
                raise AssertionError(f"{what}: not reached within {timeout} s (on {await self.where()})")
            await asyncio.sleep(0.05)

    def save_screens(self, test_name: str) -> Path:
        """Write every kept screen (and a last one) as PNG + HTML under the artifacts folder."""
        folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with contextlib.suppress(WebDriverException):
            self.screens.append(Screen("at failure", self.driver.get_screenshot_as_png(),
                                       str(self.driver.page_source)))
        for number, screen in enumerate(self.screens, start=1):
            label = re.sub(r"[^\w.-]+", "_", screen.label).strip("_")[:60]
            stem = f"{number:02d}-{label}"
            (folder / f"{stem}.png").write_bytes(screen.png)
            (folder / f"{stem}.html").write_text(screen.html, encoding="utf-8")
        return folder


@contextlib.contextmanager
def fresh(driver: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The shared browser with nothing of the previous test left.

    Cookies belong to a host, not a port: every test's bot is on 127.0.0.1, so they are cleared
    for the whole browser (DevTools), not per site.
    """
    def clear() -> None:
        with contextlib.suppress(WebDriverException):
            driver.get("about:blank")
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    clear()
    yield driver
    clear()
