"""`klinik run` as a real process over a backlog of outbox rows: the SIGKILL test and bench_outbound.

``seed_backlog`` writes the rows (and, for WhatsApp, people whose 24-hour window is open) in bulk;
``KlinikProcess`` starts ``python -m bot.cli run`` with settings in its environment only, and
kills it (SIGKILL) or stops it (SIGTERM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from handlers.kernel.messages import OutgoingPart
from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxMessage, OutboxStatus, Person, Role

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0" * 32
WHATSAPP_FROM = "+14155238886"


def text_of(channel: str, address: str, number: int) -> str:
    """The text of a chat's number-th message (what the peers count)."""
    return f"Pengingat {number} untuk {address}: laporan bulanan ditunggu ya"


async def seed_backlog(url: str, channel: str, addresses: Sequence[str], per_chat: int = 1) -> int:
    """per_chat pending rows for each address, interleaved (row order: message 1 of every chat, then 2 …);
    WhatsApp rows go to people who wrote within the last hour. Returns how many rows."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            ids: dict[str, int | None] = dict.fromkeys(addresses)
            if channel == "whatsapp":
                start = int((await session.execute(select(func.count()).select_from(Person))).scalar_one())
                await session.execute(insert(Person), [
                    {"role": Role.PESERTA, "name": f"Peserta {start + n}", "phone": address, "consent_given": True,
                     "consent_at": now, "last_whatsapp_inbound_at": now, "preferred_channel": "whatsapp",
                     "created_at": now, "updated_at": now, "extra": {}}
                    for n, address in enumerate(addresses)])
                found = select(Person.phone, Person.id).where(Person.phone.in_(list(addresses)))
                ids.update((phone, person_id) for phone, person_id in await session.execute(found))
            values = [{"channel": channel, "address": address, "recipient_id": ids[address],
                       "payload": OutgoingPart(text=text_of(channel, address, number)).to_json(),
                       "status": OutboxStatus.PENDING, "attempts": 0, "parts_sent": 0,
                       "created_at": now, "next_attempt_at": now}
                      for number in range(1, per_chat + 1) for address in addresses]
            for start in range(0, len(values), 2000):
                await session.execute(insert(OutboxMessage), values[start:start + 2000])
        return len(addresses) * per_chat
    finally:
        await engine.dispose()


async def outbox_statuses(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            return {str(status): int(count) for status, count in await connection.execute(query)}
    finally:
        await engine.dispose()


def klinik_env(url: str, data_dir: Path, port: int, *, twilio_url: str | None = None,
               telegram: tuple[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The environment of one `klinik run`: only our KLINIK_* settings (none inherited)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KLINIK_")}
    env |= {"KLINIK_DATABASE_URL": url, "KLINIK_DATA_DIR": str(data_dir), "KLINIK_HTTP_PORT": str(port),
            "KLINIK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    if twilio_url:
        env |= {"KLINIK_TWILIO__ACCOUNT_SID": ACCOUNT_SID, "KLINIK_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
                "KLINIK_TWILIO__WHATSAPP_FROM": WHATSAPP_FROM, "KLINIK_TWILIO__API_BASE_URL": twilio_url,
                "KLINIK_TWILIO__TEMPLATES": '{"held": "HX' + "b1" * 16 + '"}'}
    if telegram:
        env |= {"KLINIK_TELEGRAM__TOKEN": telegram[0], "KLINIK_TELEGRAM__API_BASE_URL": telegram[1]}
    env |= {f"KLINIK_{name.upper()}": value for name, value in settings.items()}
    return env


class KlinikProcess:
    """`python -m bot.cli run` in a folder of its own, its output in a log file."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with (self.folder / f"klinik-run-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=self.env, cwd=self.folder,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: nothing is given back, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 20 s)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def log(self) -> str:
        return "\n".join((self.folder / f"klinik-run-{n}.log").read_text(errors="replace")
                         for n in range(1, self.starts + 1))
