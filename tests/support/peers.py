"""Real protocol peers on loopback for the end-to-end tests (see shared/TESTING.md).

Session-scoped fixtures, each on a free port of 127.0.0.1:

- ``telegram_emulator``: telegram-test-api behind ``tests/e2e/telegram_emulator.js`` (a Bot
  API emulator patched for python-telegram-bot 22), with async helpers for the user side.
- ``prism_twilio``: Stoplight Prism serving Twilio's official OpenAPI spec (2010 API).
- ``postgres_cluster`` / ``postgres_url``: a throwaway PostgreSQL 15 cluster with a
  ``klinik`` database; ``fresh_postgres_url`` (function-scoped) gives each test its own
  database.

A peer that cannot start fails the test with the reason and the install commands; nothing is
skipped silently. Install: ``npm ci --prefix tests/e2e`` and
``bash tests/e2e/fetch-twilio-spec.sh``; PostgreSQL from Debian's ``postgresql`` package.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from bot.whatsapp.http import RedirectingTwilioHttp, Response

E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"
NODE_BIN_DIR = E2E_DIR / "node_modules" / ".bin"
TELEGRAM_LAUNCHER = E2E_DIR / "telegram_emulator.js"
TWILIO_SPEC = E2E_DIR / ".cache" / "twilio_api_v2010.json"
TWILIO_SPEC_FETCH = E2E_DIR / "fetch-twilio-spec.sh"
PG_BIN = Path(os.environ.get("KLINIK_PG_BIN", "/usr/lib/postgresql/15/bin"))

NODE_INSTALL_HINT = "npm ci --prefix tests/e2e && bash tests/e2e/fetch-twilio-spec.sh"
PG_INSTALL_HINT = "apt-get update && apt-get install -y postgresql  (PostgreSQL 15 server binaries)"

# Fake Twilio credentials: Prism checks the AccountSid format (AC + 32 hex), not the values.
TWILIO_TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TEST_AUTH_TOKEN = "0" * 32

TELEGRAM_READY_LINE = "TELEGRAM_EMULATOR_READY"


# ------------------------------------------------------------------------------ utilities


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peer_failure(peer: str, reason: str, hint: str) -> NoReturn:
    where = "in CI (CI=true)" if os.environ.get("CI") == "true" else "on this machine"
    pytest.fail(
        f"{peer} could not be started {where}: {reason}\nInstall it with: {hint}",
        pytrace=False,
    )


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies without tearing down (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class _Process:
    """A peer process whose output goes to a log file (never a pipe that could fill up)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, cmd: list[str], log_path: Path, cwd: Path) -> _Process:
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(name, popen, log_path)

    def wait_ready(self, check: Callable[[], bool], timeout: float) -> str | None:
        """None when ``check`` passed in time, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                return f"exited with code {self.popen.returncode}:\n{_tail(self.log_path)}"
            if check():
                return None
            time.sleep(0.05)
        return f"not ready after {timeout:.0f} s:\n{_tail(self.log_path)}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _peer_failure("Node.js", "`node` is not on PATH", "apt-get install -y nodejs npm")
    return node


@dataclass
class _Launch:
    """A peer process just started, its URL and how to tell it is ready."""

    proc: _Process
    url: str
    ready: Callable[[], bool]


def _start_peer(
    peer: str, launch: Callable[[int], _Launch], timeout: float, first: _Launch | None
) -> _Launch:
    """Wait for ``first`` (started early) or launch the peer; up to 3 tries on fresh ports."""
    reason = ""
    for attempt in range(3):
        launched = first if attempt == 0 and first is not None else launch(attempt)
        failure = launched.proc.wait_ready(launched.ready, timeout)
        if failure is None:
            return launched
        launched.proc.stop()
        reason = failure
    _peer_failure(peer, reason, NODE_INSTALL_HINT)


# ------------------------------------------------------------------------------ Telegram


class EmulatorError(RuntimeError):
    """The emulator refused a client request (its description is the message)."""


@dataclass
class BotMessage:
    """A message the bot sent, as the emulator's client API returns it.

    ``raw`` is the emulator's entry: ``{"time", "botToken", "message", "updateId",
    "messageId", "isRead"}`` where ``message`` holds the Bot API parameters the bot sent
    (``chat_id`` as a string, ``reply_markup`` parsed, ``photo``/``document`` holding a
    file_id, ``text`` = caption for media, ``edited: True`` after an edit).
    """

    message_id: int
    chat_id: str
    text: str | None
    reply_markup: dict[str, Any] | None
    edited: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> BotMessage:
        m = entry["message"]
        return cls(
            message_id=int(entry["messageId"]),
            chat_id=str(m.get("chat_id")),
            text=None if m.get("text") is None else str(m["text"]),
            reply_markup=m.get("reply_markup") if isinstance(m.get("reply_markup"), dict) else None,
            edited=bool(m.get("edited")),
            raw=entry,
        )

    @property
    def params(self) -> dict[str, Any]:
        """The Bot API parameters the bot sent (method-specific)."""
        return dict(self.raw["message"])

    @property
    def photo(self) -> str | None:
        return self.params.get("photo")

    @property
    def document(self) -> str | None:
        return self.params.get("document")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        return list((self.reply_markup or {}).get("inline_keyboard") or [])

    @property
    def callback_data(self) -> list[str]:
        """Callback data of all inline buttons, row by row."""
        return [
            b["callback_data"] for row in self.inline_keyboard for b in row if "callback_data" in b
        ]

    @property
    def button_texts(self) -> list[str]:
        """Texts of all inline or reply keyboard buttons, row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]

    def button(self, text: str) -> str:
        """The callback data of the inline button labelled ``text``."""
        for row in self.inline_keyboard:
            for b in row:
                if b.get("text") == text and "callback_data" in b:
                    return str(b["callback_data"])
        raise KeyError(f"no inline button {text!r} in {self.inline_keyboard}")


@dataclass
class TelegramEmulator:
    """The running emulator and the user side of its client API.

    Bot side: ``ApplicationBuilder().token(T).base_url(emulator.bot_base_url)
    .base_file_url(emulator.bot_file_url)``. Use one token per test: each token has its own
    queues. In a private chat the chat id is the user id.
    """

    url: str
    process: _Process = field(repr=False)
    _buffers: dict[tuple[str, str], list[BotMessage]] = field(default_factory=dict, repr=False)

    @property
    def bot_base_url(self) -> str:
        return f"{self.url}/bot"

    @staticmethod
    def new_token() -> str:
        """A fresh fake bot token; one per test keeps the emulator's queues apart."""
        return new_bot_token()

    @property
    def bot_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @staticmethod
    def user(
        user_id: int, first_name: str | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """The ``from`` of a (non-bot) Telegram user."""
        u: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User{user_id}",
        }
        if username:
            u["username"] = username
        return u

    @staticmethod
    def private_chat(user_id: int, first_name: str | None = None) -> dict[str, Any]:
        return {"id": user_id, "type": "private", "first_name": first_name or f"User{user_id}"}

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        async with httpx.AsyncClient(timeout=15) as client:
            r = await client.post(f"{self.url}{path}", json=payload)
        try:
            body = r.json()
        except ValueError as e:
            raise EmulatorError(f"{path}: HTTP {r.status_code} {r.text[:300]}") from e
        if r.status_code >= 400 or not body.get("ok", False):
            raise EmulatorError(f"{path}: HTTP {r.status_code} {body.get('description') or body}")
        return body.get("result")

    def _message(
        self, token: str, user_id: int, first_name: str | None, **fields: Any
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "botToken": token,
            "from": self.user(user_id, first_name),
            "chat": self.private_chat(user_id, first_name),
            "date": int(time.time()),
        }
        msg.update({k: v for k, v in fields.items() if v is not None})
        return msg

    async def send_message(
        self,
        token: str,
        user_id: int,
        text: str | None,
        *,
        contact: dict[str, Any] | None = None,
        reply_to_message_id: int | None = None,
        first_name: str | None = None,
        **fields: Any,
    ) -> dict[str, int]:
        """The user writes to the bot; returns ``{"update_id", "message_id"}``.

        ``contact`` is a shared contact (``{"phone_number", "first_name", "user_id"}``);
        ``reply_to_message_id`` becomes a full ``reply_to_message`` (looked up among the stored
        messages of that chat); other Message fields (``photo``, ``location``…) pass as is.
        """
        msg = self._message(
            token,
            user_id,
            first_name,
            text=text,
            contact=contact,
            reply_to_message_id=reply_to_message_id,
            **fields,
        )
        return dict(await self._post("/sendMessage", msg))

    async def send_command(
        self, token: str, user_id: int, command: str, *, first_name: str | None = None
    ) -> dict[str, int]:
        """The user sends ``/command [args]`` (a ``bot_command`` entity is added)."""
        text = command if command.startswith("/") else f"/{command}"
        cmd_len = len(text.split(" ", 1)[0])
        msg = self._message(
            token,
            user_id,
            first_name,
            text=text,
            entities=[{"offset": 0, "length": cmd_len, "type": "bot_command"}],
        )
        return dict(await self._post("/sendCommand", msg))

    async def send_callback(
        self, token: str, user_id: int, data: str, message_id: int, *, first_name: str | None = None
    ) -> dict[str, Any]:
        """The user presses an inline button of the bot's message ``message_id``.

        Returns ``{"update_id", "callback_query_id"}``; fails if the message is unknown.
        """
        payload = {
            "botToken": token,
            "from": self.user(user_id, first_name),
            "chat": self.private_chat(user_id, first_name),
            "data": data,
            "message_id": message_id,
        }
        return dict(await self._post("/sendCallback", payload))

    async def get_updates(self, token: str, chat_id: int | str) -> list[BotMessage]:
        """What the bot sent (or edited) in this chat since the last call, oldest first."""
        key = (token, str(chat_id))
        buffered = self._buffers.pop(key, [])
        entries = await self._post("/getUpdates", {"token": token, "chatId": chat_id})
        fresh = sorted(
            (BotMessage.from_entry(e) for e in entries or []), key=lambda m: m.raw["time"]
        )
        return buffered + fresh

    async def history(self, token: str) -> list[dict[str, Any]]:
        """Everything for this token, both directions, oldest first (raw emulator entries)."""
        return list(await self._post("/getUpdatesHistory", {"token": token}) or [])

    async def bot_calls(self, token: str, method: str | None = None) -> list[dict[str, Any]]:
        """Every Bot API call the bot made (``{"method", "params", "time"}``), e.g.
        ``answerCallbackQuery``, ``setMyCommands``, ``sendChatAction``."""
        payload: dict[str, Any] = {"token": token}
        if method:
            payload["method"] = method
        return list(await self._post("/getBotCalls", payload) or [])

    async def set_limits(self, token: str, per_second: int, per_chat_interval_ms: int) -> None:
        """Turn on flood control for this token: 429 with retry_after beyond ``per_second`` sends
        within any 1000 ms, or a send to a chat less than ``per_chat_interval_ms`` after its last one."""
        await self._post("/setLimits", {"token": token, "per_second": per_second,
                                        "per_chat_interval_ms": per_chat_interval_ms})

    async def limit_stats(self, token: str) -> dict[str, list[dict[str, Any]]]:
        """Sends accepted and refused (429) under flood control: ``{"accepted": [{"time", "chat_id"}],
        "rejected": [{"time", "chat_id", "reason", "retry_after"}]}``, times in ms at the emulator."""
        return dict(await self._post("/getLimitStats", {"token": token}))

    async def put_file(
        self,
        content: bytes,
        *,
        file_id: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Store a file the bot can fetch with getFile/download; returns its file_id."""
        import base64

        payload: dict[str, Any] = {"content_base64": base64.b64encode(content).decode()}
        for key, value in (
            ("file_id", file_id),
            ("file_name", file_name),
            ("mime_type", mime_type),
        ):
            if value is not None:
                payload[key] = value
        return str((await self._post("/putFile", payload))["file_id"])

    async def wait_for(
        self,
        token: str,
        chat_id: int | str,
        predicate: Callable[[BotMessage], bool] = lambda m: True,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> BotMessage:
        """The first message (new or edited) sent to the chat that satisfies ``predicate``.

        Messages before it are consumed; later ones stay for the next ``get_updates`` /
        ``wait_for``. Raises ``AssertionError`` listing what arrived when time runs out.
        """
        key = (token, str(chat_id))
        seen: list[BotMessage] = []
        deadline = time.monotonic() + timeout
        while True:
            batch = await self.get_updates(token, chat_id)
            for i, msg in enumerate(batch):
                if predicate(msg):
                    rest = batch[i + 1 :]
                    if rest:
                        self._buffers[key] = rest + self._buffers.get(key, [])
                    return msg
                seen.append(msg)
            if time.monotonic() >= deadline:
                got = "\n".join(
                    f"  {m.message_id}: {m.text!r} {m.reply_markup or ''}" for m in seen
                )
                raise AssertionError(
                    f"no matching message for chat {chat_id} within {timeout} s; got:\n{got or '  nothing'}"
                )
            await asyncio.sleep(0.05)


def _telegram_installed() -> bool:
    return (E2E_DIR / "node_modules" / "telegram-test-api").is_dir() and shutil.which(
        "node"
    ) is not None


def _launch_telegram(log_dir: Path, attempt: int) -> _Launch:
    port = free_port()
    log = log_dir / f"telegram-emulator-{attempt}.log"
    cmd = [_node(), str(TELEGRAM_LAUNCHER), str(port)]
    proc = _Process.start("telegram-emulator", cmd, log, E2E_DIR)

    def ready() -> bool:
        return TELEGRAM_READY_LINE in log.read_text(errors="replace")

    return _Launch(proc, f"http://127.0.0.1:{port}", ready)


@pytest.fixture(scope="session")
def telegram_emulator(request: pytest.FixtureRequest) -> Iterator[TelegramEmulator]:
    """A patched telegram-test-api on a free port for the whole session."""
    if not _telegram_installed():
        _peer_failure(
            "telegram-test-api", f"{E2E_DIR / 'node_modules'} or node is missing", NODE_INSTALL_HINT
        )
    launched = _start_peer(
        "telegram-test-api",
        lambda attempt: _launch_telegram(_session_dir(request.config), attempt),
        timeout=20,
        first=_prestarted(request.config, "telegram"),
    )
    try:
        yield TelegramEmulator(url=launched.url, process=launched.proc)
    finally:
        launched.proc.stop()


_token_ids = itertools.count(1)


def new_bot_token() -> str:
    """A fresh fake bot token (``<id>:<secret>``); one per test keeps the queues apart."""
    n = next(_token_ids)
    return f"{700000 + n}:TEST-{os.getpid()}-{n}"


# ------------------------------------------------------------------------------ Twilio (Prism)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the SDK made it (after the URL rewrite) and the status it got."""

    method: str
    url: str
    original_url: str
    params: dict[str, object] = field(default_factory=dict)
    data: dict[str, object] = field(default_factory=dict)
    status: int | None = None


class RecordingTwilioHttpClient(RedirectingTwilioHttp):
    """The bot's Twilio HTTP client aimed at Prism, keeping every request for the test to read.

    Each request is appended to ``requests`` once its answer has arrived, or with
    ``status=None`` when it failed. Give it to a client as ``make_client(..., http_client)`` or to
    the app as ``KlinikApp(settings, twilio_http=...)``.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.requests: list[RecordedRequest] = []

    async def request(self, method: str, url: str, params: Mapping[str, object] | None = None,
                      data: Mapping[str, object] | None = None, headers: Mapping[str, str] | None = None,
                      auth: tuple[str, str] | None = None) -> Response:
        status: int | None = None
        try:
            response = await super().request(method, url, params=params, data=data, headers=headers, auth=auth)
            status = response.status_code
            return response
        finally:
            self.requests.append(RecordedRequest(method=method.upper(), url=self.rewrite(url), original_url=url,
                                                 params=dict(params or {}), data=dict(data or {}),
                                                 status=status))


@dataclass
class PrismTwilio:
    """Prism mocking Twilio's 2010 API (``/2010-04-01/Accounts/{Sid}/Messages.json`` …)."""

    url: str
    process: _Process = field(repr=False)
    account_sid: str = TWILIO_TEST_ACCOUNT_SID
    auth_token: str = TWILIO_TEST_AUTH_TOKEN

    def http_client(self) -> RecordingTwilioHttpClient:
        """A recording Twilio HTTP client aimed at Prism (create it inside the event loop)."""
        return RecordingTwilioHttpClient(self.url)


def _ensure_twilio_spec() -> None:
    if TWILIO_SPEC.is_file():
        return
    try:
        subprocess.run(
            ["bash", str(TWILIO_SPEC_FETCH)],
            check=True,
            capture_output=True,
            timeout=120,
            text=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        _peer_failure(
            "Prism (Twilio mock)",
            f"{TWILIO_SPEC} is missing and fetching it failed: {detail}",
            NODE_INSTALL_HINT,
        )


def _http_answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.HTTPError:
        return False
    return True


def _prism_installed() -> bool:
    return (NODE_BIN_DIR / "prism").exists() and shutil.which("node") is not None


def _prism_spec(log_dir: Path) -> Path:
    """The Twilio spec with form arrays (MediaUrl…) also taking a single value.

    Twilio reads ``MediaUrl=<url>`` (one key, one value) as a list of one; Prism parses it as a
    string and answers 422 "must be array" (stoplightio/prism#2473, #2654), which would make every
    message with one photo fail in the tests while it works against Twilio.
    """
    spec = json.loads(TWILIO_SPEC.read_text())
    operations = [op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)]
    for operation in operations:
        form = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {})
        for prop in form.get("schema", {}).get("properties", {}).values():
            if prop.get("type") == "array":
                items = prop.pop("items")
                del prop["type"]
                prop["anyOf"] = [items, {"type": "array", "items": items}]
    path = log_dir / "twilio_api_v2010.prism.json"
    path.write_text(json.dumps(spec))
    return path


def _launch_prism(log_dir: Path, attempt: int) -> _Launch:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_dir / f"prism-{attempt}.log"
    prism = NODE_BIN_DIR / "prism"
    cmd = [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(_prism_spec(log_dir))]
    proc = _Process.start("prism", cmd, log, E2E_DIR)
    return _Launch(proc, url, lambda: _http_answers(url))


@pytest.fixture(scope="session")
def prism_twilio(request: pytest.FixtureRequest) -> Iterator[PrismTwilio]:
    """Prism serving Twilio's OpenAPI spec on a free port for the whole session."""
    if not _prism_installed():
        _peer_failure(
            "Prism (Twilio mock)", f"{NODE_BIN_DIR / 'prism'} or node is missing", NODE_INSTALL_HINT
        )
    _ensure_twilio_spec()
    launched = _start_peer(
        "Prism (Twilio mock)",
        lambda attempt: _launch_prism(_session_dir(request.config), attempt),
        timeout=60,
        first=_prestarted(request.config, "prism"),
    )
    try:
        yield PrismTwilio(url=launched.url, process=launched.proc)
    finally:
        launched.proc.stop()


# ------------------------------------------------------------------------------ PostgreSQL


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster (superuser ``postgres``, trust auth, 127.0.0.1 only)."""

    base_dir: Path
    port: int
    as_postgres_user: bool
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    def url(self, database: str = "klinik", driver: str = "asyncpg") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://postgres@{self.host}:{self.port}/{database}"

    def _server_cmd(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres_user else list(cmd)

    def _run(self, cmd: list[str], what: str) -> None:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if r.returncode != 0:
            raise RuntimeError(f"{what} failed ({r.returncode}): {r.stdout}\n{r.stderr}")

    def psql(self, sql: str, database: str = "postgres") -> None:
        self._run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            f"psql {sql!r}",
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE ``name`` (a copy of ``template`` if given); returns its asyncpg URL."""
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self.psql(sql)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @classmethod
    def create(cls) -> PostgresCluster:
        """A cluster object with its own folder (owned by ``postgres`` when we are root)."""
        as_root = os.geteuid() == 0
        base = Path(tempfile.mkdtemp(prefix="klinik-pg-"))
        if as_root:
            shutil.chown(base, user="postgres", group="postgres")
        return cls(base_dir=base, port=free_port(), as_postgres_user=as_root)

    def start(self) -> None:
        self.init()
        self.run()

    def init(self) -> None:
        """initdb (the slow part, about 2 s; safe to run in a thread)."""
        self._run(
            self._server_cmd(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            "initdb",
        )

    def run(self, *, create: bool = True) -> None:
        """Start the server and create the ``klinik`` database (call from the main thread)."""
        # The postmaster runs as our own child (what `pg_ctl start -o ...` would run), not
        # daemonised by pg_ctl: we reap it (PID 1 here does not reap orphans), and it gets
        # SIGTERM if the test process dies without tearing down.
        cmd = [
            str(PG_BIN / "postgres"),
            "-D",
            str(self.data_dir),
            "-c",
            f"listen_addresses={self.host}",
            "-p",
            str(self.port),
            "-k",
            str(self.base_dir),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                cmd,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                user="postgres" if self.as_postgres_user else None,
                group="postgres" if self.as_postgres_user else None,
                extra_groups=[] if self.as_postgres_user else None,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with code {self.process.returncode}")
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not accept connections within 60 s")
            time.sleep(0.05)
        if create:
            self.create_database("klinik")

    def halt(self) -> None:
        """Stop the server (fast shutdown: connections are cut) but keep its data; ``resume()`` starts it again."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)

    def resume(self) -> None:
        """Start the halted server again on the same port and data."""
        self.run(create=False)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def _postgres_installed() -> str | None:
    for binary in ("initdb", "postgres", "pg_isready", "psql"):
        if not (PG_BIN / binary).exists():
            return f"{PG_BIN / binary} is missing"
    return None


@dataclass
class _PostgresInit:
    """A cluster whose initdb runs in a background thread."""

    cluster: PostgresCluster
    thread: threading.Thread
    error: list[BaseException] = field(default_factory=list)

    @classmethod
    def begin(cls) -> _PostgresInit:
        cluster = PostgresCluster.create()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                cluster.init()
            except BaseException as e:  # reported by the fixture
                errors.append(e)

        thread = threading.Thread(target=work, name="initdb", daemon=True)
        thread.start()
        return cls(cluster, thread, errors)


def _start_postgres(first: _PostgresInit | None) -> PostgresCluster:
    missing = _postgres_installed()
    if missing:
        _peer_failure("PostgreSQL", missing, PG_INSTALL_HINT)
    reason = ""
    for attempt in range(3):
        cluster = PostgresCluster.create() if attempt or first is None else first.cluster
        try:
            if attempt or first is None:
                cluster.init()
            else:
                first.thread.join()
                if first.error:
                    raise first.error[0]
            cluster.run()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            reason = f"{e}\n{_tail(cluster.log_path)}"
            cluster.stop()
            continue
        return cluster
    _peer_failure("PostgreSQL", reason, PG_INSTALL_HINT)


@pytest.fixture(scope="session")
def postgres_cluster(request: pytest.FixtureRequest) -> Iterator[PostgresCluster]:
    """A PostgreSQL 15 cluster on a free port, stopped and deleted after the session."""
    cluster = _start_postgres(_prestarted(request.config, "postgres"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """``postgresql+asyncpg://postgres@127.0.0.1:PORT/klinik`` (shared by the session)."""
    return postgres_cluster.url("klinik")


_db_ids = itertools.count(1)


@pytest.fixture
def fresh_postgres_url(
    postgres_cluster: PostgresCluster, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A database of this test's own (``klinik_<n>``), dropped afterwards.

    If a fixture named ``postgres_template_name`` exists (e.g. a session fixture in a conftest
    that migrates a database once and returns its name), the new database is a copy of it
    (``CREATE DATABASE … TEMPLATE``, which needs no open connection to the template).
    """
    try:
        template = request.getfixturevalue("postgres_template_name")
    except pytest.FixtureLookupError:
        template = None
    name = f"klinik_{os.getpid()}_{next(_db_ids)}"
    url = postgres_cluster.create_database(name, template=template)
    try:
        yield url
    finally:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            postgres_cluster.drop_database(name)


# ------------------------------------------------------------------------------ early start

_PEERS_KEY = pytest.StashKey[dict[str, Any]]()
_DIR_KEY = pytest.StashKey[Path]()
POSTGRES_FIXTURES = {"postgres_cluster", "postgres_url", "fresh_postgres_url"}


def _session_dir(config: pytest.Config) -> Path:
    """A folder for the peers' logs, removed when pytest exits."""
    if _DIR_KEY not in config.stash:
        config.stash[_DIR_KEY] = Path(tempfile.mkdtemp(prefix="klinik-peers-"))
    return config.stash[_DIR_KEY]


def _prestarted(config: pytest.Config, name: str) -> Any:
    return config.stash.get(_PEERS_KEY, {}).pop(name, None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the peers the selected tests need right away, side by side (Prism and initdb
    take 2–3 s each); the fixtures then only wait for them. Only when this module is loaded
    as a plugin (``pytest_plugins = ["tests.support.peers"]``)."""
    if config.option.collectonly:
        return
    needed: set[str] = set()
    for item in items:
        needed.update(getattr(item, "fixturenames", ()))
    peers: dict[str, Any] = {}
    if "prism_twilio" in needed and _prism_installed() and TWILIO_SPEC.is_file():
        peers["prism"] = _launch_prism(_session_dir(config), 0)
    if "telegram_emulator" in needed and _telegram_installed():
        peers["telegram"] = _launch_telegram(_session_dir(config), 0)
    if needed & POSTGRES_FIXTURES and _postgres_installed() is None:
        peers["postgres"] = _PostgresInit.begin()
    config.stash[_PEERS_KEY] = peers


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop early-started peers no test used, and remove the log folder."""
    for peer in config.stash.get(_PEERS_KEY, {}).values():
        if isinstance(peer, _Launch):
            peer.proc.stop()
        elif isinstance(peer, _PostgresInit):
            peer.thread.join()
            peer.cluster.stop()
    if _DIR_KEY in config.stash:
        shutil.rmtree(config.stash[_DIR_KEY], ignore_errors=True)
