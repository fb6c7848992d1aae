"""People who leave: deactivated and reactivated in chat, by CLI and by roster re-import; an inactive person is an
unknown number, their open work moves on, and a newcomer on their recycled number sees none of their history."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.privacy.export import personal_data
from storage.db import make_engine, make_sessionmaker
from storage.models import (
    AuditEntry,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Ticket,
    TicketStatus,
)
from tests.support.driver import Driver

TG = Channel.TELEGRAM
T = TypeVar("T")
UNKNOWN = ("Maaf, nomor Anda belum terdaftar di program ini. Silakan hubungi Dinas KUKM (021-000) agar "
           "didaftarkan. Pesan Anda sudah kami catat.")


async def ask(driver: Driver, participant: Person, text: str = "cara daftar NIB gmn kak") -> None:
    await driver.say(participant, text)
    await driver.press(participant, "tp:legalitas")


async def ticket(driver: Driver, number: int) -> Ticket:
    async with driver.sessions() as session:
        found = await session.get(Ticket, number)
        assert found is not None
        return found


async def deactivate_in_chat(driver: Driver, coordinator: Person, phone: str) -> list[str]:
    await driver.say(coordinator, f"nonaktif {phone}")
    confirm = message_of(await driver.last(coordinator))
    await driver.press(coordinator, confirm.buttons[0].payload)
    return [confirm.text, *(await driver.received(coordinator))[-1:]]


async def test_coordinator_deactivates_after_confirming_and_the_person_becomes_unknown(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    said = await deactivate_in_chat(driver, coordinator, "0812 0000 0001")
    await driver.say(participant, "halo kak, mau tanya")
    await driver.say(mentor, "/antrian", channel=TG)

    assert said[0].startswith("Nonaktifkan Sari Wulandari (peserta, +6281200000001)?")
    assert said[1] == ("✅ Sari Wulandari (peserta, +6281200000001) dinonaktifkan. Aktifkan lagi dengan "
                       "*aktif +6281200000001*.")
    assert message_of([row for row in await driver.outbox() if row.address == participant.phone][-1]).text == UNKNOWN
    stored = await driver.refresh(participant)
    assert (stored.is_active, stored.deactivated_at) == (False, driver.clock.now)


async def test_inactive_telegram_account_is_a_stranger_and_its_contact_links_nothing(
        driver: Driver, mentor: Person, coordinator: Person) -> None:
    await deactivate_in_chat(driver, coordinator, mentor.phone)

    await driver.say(mentor, "antrian", channel=TG)
    await driver.say(mentor, "", channel=TG, contact_phone=mentor.phone)

    rows = [row for row in await driver.outbox() if row.address == "5001"]
    assert message_of(rows[-2]).request_contact is True
    assert message_of(rows[-1]).text == UNKNOWN


async def test_deactivated_mentors_open_tickets_go_to_the_backup_and_participants_are_told(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    citra = await driver.add_person(role=Role.PENDAMPING, name="Citra Lestari", phone="+6281100000005")
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, mentor.id)
        assert stored is not None
        stored.backup_mentor_id = citra.id
    await ask(driver, participant)
    await driver.received(participant)
    await driver.received(mentor)

    await deactivate_in_chat(driver, coordinator, mentor.phone)

    assert (await ticket(driver, 1)).mentor_id == citra.id
    assert await driver.received(participant) == ["Pertanyaan #1 Anda kini dijawab oleh pendamping Citra Lestari."]
    assert (await driver.received(citra))[0].startswith("📥 Pertanyaan *#1* dari Sari Wulandari")
    assert await driver.received(mentor) == []  # their number may already be someone else's


async def test_without_a_backup_a_coordinator_answers_and_new_questions_follow(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    await ask(driver, participant)
    await deactivate_in_chat(driver, coordinator, mentor.phone)
    await driver.press(participant, "close:1")
    await ask(driver, participant, "kalau izin PIRT gimana kak")

    assert (await ticket(driver, 1)).mentor_id == coordinator.id
    assert (await ticket(driver, 2)).mentor_id == coordinator.id
    assert "Pertanyaan #1 Anda kini dijawab oleh koordinator Rina Dinas." in await driver.received(participant)


async def test_messages_still_owed_to_a_deactivated_person_are_not_sent(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    await ask(driver, participant)
    await deactivate_in_chat(driver, coordinator, mentor.phone)

    owed = list(await driver.outbox(mentor))
    assert owed
    assert {row.status for row in owed} == {OutboxStatus.FAILED}
    assert {row.error for row in owed} == {"not sent: recipient deactivated"}


async def test_deactivated_participants_tickets_leave_the_queue_and_history_stays(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    await ask(driver, participant)
    await deactivate_in_chat(driver, coordinator, participant.phone)
    await driver.say(mentor, "antrian", channel=TG)

    assert (await driver.received(mentor))[-1] == "🎉 Tidak ada pertanyaan yang menunggu jawaban."
    closed = await ticket(driver, 1)
    assert (closed.status, closed.participant_id) == (TicketStatus.CLOSED, participant.id)


async def test_reactivated_person_is_served_again(driver: Driver, participant: Person, coordinator: Person) -> None:
    await deactivate_in_chat(driver, coordinator, participant.phone)
    await driver.say(coordinator, "aktif 0812-0000-0001")
    await driver.say(participant, "menu")

    assert (await driver.received(coordinator))[-1] == "✅ Sari Wulandari (peserta, +6281200000001) aktif kembali."
    assert (await driver.received(participant))[-1].startswith("Halo Sari Wulandari!")
    async with driver.sessions() as session:
        actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars().all()
    assert [a for a in actions if a in ("deactivate", "reactivate")] == ["deactivate", "reactivate"]


async def test_deactivation_needs_a_coordinator_and_a_known_number(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person) -> None:
    await driver.say(mentor, "/nonaktif 0812-0000-0001", channel=TG)
    await driver.say(coordinator, "nonaktif 0899 9999 9999")
    await driver.press(coordinator, f"mbr:off:{coordinator.id}")

    assert (await driver.received(mentor))[-1].startswith("Maaf, perintah ini bukan untuk peran Anda.")
    assert (await driver.received(coordinator))[-2:] == [
        "Nomor 0899 9999 9999 tidak ada di roster.", "Pilihan itu sudah tidak berlaku. Ketik *menu* untuk melihat pilihan."]
    assert (await driver.refresh(coordinator)).is_active


# ---------------------------------------------------------------------- command line


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file the CLI reaches through KLINIK_DATABASE_URL."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("KLINIK_DATABASE_URL", url)
    monkeypatch.setenv("KLINIK_MEDIA_DIR", str(tmp_path / "media"))
    return url


def on_db(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()
    return asyncio.run(run())


def people(url: str) -> dict[str, tuple[str, bool]]:
    async def work(session: AsyncSession) -> dict[str, tuple[str, bool]]:
        return {p.phone: (p.name, p.is_active) for p in (await session.execute(select(Person))).scalars()}
    return on_db(url, work)


HEADER = "role,name,phone,mentor_phone,cohort"
ROWS = ["pendamping,Budi Santoso,0811-0000-0001,,Angkatan 1", "pendamping,Andi Wijaya,0811-0000-0002,,Angkatan 1",
        "peserta,Sari Wulandari,0812-0000-0001,0811-0000-0001,Angkatan 1"]


def roster(tmp_path: Path, *rows: str, name: str = "roster.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_cli_deactivates_reactivates_and_unlinks(cli_db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roster", "import", roster(tmp_path, *ROWS)]) == 0
    capsys.readouterr()

    results = [main(["orang", "nonaktif", "0812-0000-0001"]), main(["orang", "aktif", "+6281200000001"]),
               main(["orang", "lepas", "0812-0000-0001"]), main(["orang", "nonaktif", "0899-0000-0000"])]

    said = capsys.readouterr()
    assert results == [0, 0, 1, 1]
    assert said.out.splitlines() == [
        "Sari Wulandari (peserta) dinonaktifkan; 0 pesan diantrikan (pengalihan pertanyaan).",
        "Sari Wulandari (peserta) aktif kembali."]
    assert said.err.splitlines() == ["Sari Wulandari tidak terhubung ke akun Telegram.",
                                     "Nomor 0899-0000-0000 tidak ada di roster."]


def test_reimport_lists_who_is_missing_and_deactivates_only_with_the_flag(
        cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roster", "import", roster(tmp_path, *ROWS)]) == 0
    smaller = roster(tmp_path, ROWS[0], ROWS[2], name="baru.csv")
    capsys.readouterr()

    assert main(["roster", "import", smaller]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]
    assert people(cli_db)["+6281100000002"] == ("Andi Wijaya", True)
    assert main(["roster", "import", "--nonaktifkan-yang-hilang", smaller]) == 0

    assert listed == ["1 orang aktif tidak ada di berkas ini:", "  Andi Wijaya (pendamping, +6281100000002)",
                      "Mereka tetap aktif. Jika mereka sudah keluar dari program, impor lagi dengan "
                      "--nonaktifkan-yang-hilang."]
    assert capsys.readouterr().out.splitlines()[-1] == "1 orang yang tidak ada di berkas dinonaktifkan."
    assert people(cli_db)["+6281100000002"] == ("Andi Wijaya", False)


async def test_newcomer_on_a_recycled_number_sees_none_of_the_previous_owners_history(
        driver: Driver, participant: Person, mentor: Person, coordinator: Person, tmp_path: Path,
        sqlite_template: Path, monkeypatch: pytest.MonkeyPatch, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    await ask(driver, participant)
    await driver.say(participant, "sudah kak makasih, ini foto produk saya")
    await deactivate_in_chat(driver, coordinator, participant.phone)
    monkeypatch.setenv("KLINIK_DATABASE_URL", db_url)
    rows = [f"pendamping,Budi Santoso,{mentor.phone},,Angkatan 1",
            f"peserta,Joko Susilo,{participant.phone},{mentor.phone},Angkatan 2"]

    assert await asyncio.to_thread(main, ["roster", "import", roster(tmp_path, *rows)]) == 0
    await driver.say(participant.phone, "halo")  # Joko writes from the number Sari used to have

    assert "baris 3: nomor +6281200000001 dulu milik orang yang sudah keluar; Joko Susilo dibuat sebagai orang baru" \
        in capsys.readouterr().out
    async with driver.sessions() as session:
        joko = (await session.execute(select(Person).where(Person.phone == participant.phone))).scalar_one()
        sari = await session.get(Person, participant.id)
        assert sari is not None
        assert (sari.phone, sari.name, sari.is_active) == (f"x-{sari.id}", "Sari Wulandari", False)
        own = await personal_data(session, joko, Config())
        owed = (await session.execute(select(OutboxMessage).where(OutboxMessage.recipient_id == joko.id))).scalars()
        owed_texts = [message_of(row).text for row in owed]
    assert joko.id != participant.id
    assert joko.consent_given is None
    assert (own["questions"], own["consent"]["history"], own["attendance"]) == ([], [], [])
    assert "NIB" not in json.dumps(own)
    assert "Sari" not in json.dumps(own)
    assert len(owed_texts) == 1
    assert owed_texts[0].startswith("Halo Joko Susilo!")
