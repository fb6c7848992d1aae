"""Roster import: CSV and XLSX in, every bad row reported by line, all or nothing, idempotent."""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.commands.roster import TEMPLATE_CSV, TEMPLATE_XLSX
from handlers.people.roster import (
    ImportSummary,
    RosterFileError,
    RosterInvalid,
    apply_roster,
    read_roster,
    validate_roster,
)
from storage.models import AuditEntry, Person, Role, UnknownContact
from tests.support.driver import Clock, Driver

Sessions = async_sessionmaker[AsyncSession]
HEADER = "role,name,phone,mentor_phone,cohort,business_name,sector,district,topics"
MENTOR = "pendamping,Budi Santoso,0811-0000-0001,,Angkatan 1,,,Beji,pemasaran; digital"
START_UTC = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
PESERTA = "peserta,Sari Wulandari,0812-0000-0001,0811-0000-0001,Angkatan 1,Keripik Sari,makanan,Beji,"


def write(tmp_path: Path, *lines: str, name: str = "roster.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


async def run_import(sessions: Sessions, path: Path, clock: Clock) -> ImportSummary:
    async with sessions.begin() as session:
        return await apply_roster(session, read_roster(path), clock.now, source=path.name)


async def problems_of(sessions: Sessions, path: Path) -> list[str]:
    async with sessions() as session:
        return [str(problem) for problem in await validate_roster(session, read_roster(path))]


async def people(sessions: Sessions) -> dict[str, Person]:
    async with sessions() as session:
        return {person.phone: person for person in await session.scalars(select(Person))}


async def test_csv_import_creates_people_with_mentor(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, MENTOR, PESERTA)

    summary = await run_import(sessions, path, clock)

    stored = await people(sessions)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)
    assert stored["+6281200000001"].mentor_id == stored["+6281100000001"].id
    assert stored["+6281100000001"].topic_list == ["pemasaran", "digital"]
    assert stored["+6281200000001"].business_name == "Keripik Sari"


async def test_xlsx_import_reads_text_and_numeric_phones(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Role", "Name", "Phone", "Mentor Phone", "Cohort"])
    sheet.append(["pendamping", "Budi Santoso", "0811-0000-0001", None, "Angkatan 1"])
    sheet.append(["peserta", "Sari Wulandari", 81200000001, 6281100000001, "Angkatan 1"])
    workbook.save(tmp_path / "roster.xlsx")

    summary = await run_import(sessions, tmp_path / "roster.xlsx", clock)

    stored = await people(sessions)
    assert summary.created == 2
    assert stored["+6281200000001"].mentor_id == stored["+6281100000001"].id


async def test_xlsx_problem_lines_are_sheet_rows(sessions: Sessions, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A2"], sheet["B2"], sheet["C2"] = "role", "name", "phone"
    sheet["A5"], sheet["B5"], sheet["C5"] = "koordinator", "Rina", "abc"
    workbook.save(tmp_path / "roster.xlsx")

    assert await problems_of(sessions, tmp_path / "roster.xlsx") == ["baris 5: nomor telepon tidak terbaca: 'abc'"]


async def test_phone_spellings_are_stored_as_e164(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, "role,name,phone", "koordinator,A,0812-0000-0001", "koordinator,B,62812 0000 0002",
                 "koordinator,C,+62 812-0000-0003", "koordinator,D,whatsapp:+6281200000004")

    await run_import(sessions, path, clock)

    assert sorted(await people(sessions)) == ["+6281200000001", "+6281200000002", "+6281200000003",
                                              "+6281200000004"]


async def test_semicolon_delimiter_bom_and_any_header_case(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, " PHONE ;Catatan Dinas;Role;NAME", "0812-0000-0001;Warung, Sari;koordinator;Sari",
                 bom=True)

    await run_import(sessions, path, clock)

    person = (await people(sessions))["+6281200000001"]
    assert (person.name, person.role, person.extra) == ("Sari", "koordinator", {"catatan_dinas": "Warung, Sari"})


async def test_extra_columns_are_kept(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",agency,NIB", MENTOR + ",Diskop UKM,", PESERTA + ",Disperindag,1234567890123")

    await run_import(sessions, path, clock)

    assert (await people(sessions))["+6281200000001"].extra == {"agency": "Disperindag", "nib": "1234567890123"}


async def test_channel_and_language_are_stored(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, "role,name,phone,channel,language", "koordinator,Rina,0813-0000-0001,Telegram,EN")

    await run_import(sessions, path, clock)

    person = (await people(sessions))["+6281300000001"]
    assert (person.preferred_channel, person.language) == ("telegram", "en")


@pytest.mark.parametrize(("line", "expected"), [
    ("dosen,Budi,0813-0000-0009,,,,,,",
     "baris 4: peran tidak dikenal: 'dosen' (pilih peserta, pendamping, narasumber atau koordinator)"),
    ("koordinator, ,0813-0000-0009,,,,,,", "baris 4: nama kosong"),
    ("koordinator,Rina,abc,,,,,,", "baris 4: nomor telepon tidak terbaca: 'abc'"),
    ("koordinator,Rina,0812,,,,,,", "baris 4: nomor telepon tidak terbaca: '0812'"),
    ("koordinator,Rina,,,,,,,", "baris 4: nomor telepon kosong"),
    ("koordinator,Rina,+62 812 0000 0001,,,,,,", "baris 4: nomor telepon '+62 812 0000 0001' sudah dipakai di baris 3"),
    ("peserta,Joko,0812-0000-0002,,,,,,", "baris 4: peserta tanpa mentor_phone (nomor pendampingnya)"),
    ("peserta,Joko,0812-0000-0002,xyz,,,,,", "baris 4: mentor_phone tidak terbaca: 'xyz'"),
    ("peserta,Joko,0812-0000-0002,0811-0000-0099,,,,,",
     "baris 4: pendamping dengan nomor '0811-0000-0099' tidak ada di berkas ini maupun di database"),
    ("peserta,Joko,0812-0000-0002,0812-0000-0001,,,,,",
     "baris 4: mentor_phone '0812-0000-0001' milik Sari Wulandari, seorang peserta, bukan pendamping"),
    ("narasumber,Hasan,0811-0000-0101,0811-0000-0001,,,,,",
     "baris 4: mentor_phone hanya diisi untuk peserta; kosongkan untuk narasumber"),
    ("koordinator," + "R" * 201 + ",0813-0000-0009,,,,,,", "baris 4: name terlalu panjang (201 karakter; paling banyak 200)"),
])
async def test_bad_row_is_reported_and_nothing_written(sessions: Sessions, clock: Clock, tmp_path: Path,
                                                       line: str, expected: str) -> None:
    path = write(tmp_path, HEADER, MENTOR, PESERTA, line)

    problems = await problems_of(sessions, path)
    with pytest.raises(RosterInvalid):
        await run_import(sessions, path, clock)

    assert problems == [expected]
    assert await people(sessions) == {}


async def test_several_problems_all_reported_in_line_order(sessions: Sessions, tmp_path: Path) -> None:
    path = write(tmp_path, "role,name,phone,channel", "koordinator,A,abc,", "guru,B,0813-0000-0002,sms")

    assert await problems_of(sessions, path) == [
        "baris 2: nomor telepon tidak terbaca: 'abc'",
        "baris 3: peran tidak dikenal: 'guru' (pilih peserta, pendamping, narasumber atau koordinator)",
        "baris 3: channel tidak dikenal: 'sms' (pilih whatsapp atau telegram, atau kosongkan)"]


async def test_mentor_already_in_database_is_accepted(sessions: Sessions, clock: Clock, driver: Driver,
                                                      tmp_path: Path) -> None:
    mentor = await driver.add_person(role=Role.PENDAMPING, name="Budi", phone="+6281100000001")
    path = write(tmp_path, HEADER, PESERTA)

    await run_import(sessions, path, clock)

    assert (await people(sessions))["+6281200000001"].mentor_id == mentor.id


async def test_mentor_in_database_with_other_role_is_rejected(sessions: Sessions, driver: Driver,
                                                              tmp_path: Path) -> None:
    await driver.add_person(role=Role.NARASUMBER, name="Hasan", phone="+6281100000001")

    assert await problems_of(sessions, write(tmp_path, HEADER, PESERTA)) == [
        "baris 2: mentor_phone '0811-0000-0001' milik Hasan, seorang narasumber, bukan pendamping"]


async def test_mentor_with_participants_cannot_change_role(sessions: Sessions, driver: Driver,
                                                           mentor: Person, participant: Person,
                                                           tmp_path: Path) -> None:
    path = write(tmp_path, "role,name,phone", "narasumber,Budi Santoso,0811-0000-0001")

    assert await problems_of(sessions, path) == [
        "baris 2: Budi Santoso masih pendamping bagi 1 peserta di database; pindahkan peserta itu ke pendamping lain dulu"]


@pytest.mark.parametrize(("content", "expected"), [
    ("role,name\nkoordinator,Rina\n",
     "Kolom wajib tidak ada: phone. Kolom yang ditemukan: role, name. Lihat templat: klinik roster template"),
    ("", "Berkas roster.csv kosong: tidak ada baris judul kolom."),
    ("\n ; \n", "Berkas roster.csv kosong: tidak ada baris judul kolom."),
    ("role,name,phone,Phone\n", "Kolom 'phone' muncul dua kali di baris judul."),
])
def test_unreadable_structure_is_one_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "roster.csv").write_text(content, encoding="utf-8")

    with pytest.raises(RosterFileError) as error:
        read_roster(tmp_path / "roster.csv")

    assert str(error.value) == expected


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("roster.xlsx", b"PK\x03\x04 not really a zip", "roster.xlsx bukan berkas CSV atau XLSX yang bisa dibaca."),
    ("roster.pdf", b"%PDF-1.4\x00\x01\x02", "roster.pdf bukan berkas CSV atau XLSX yang bisa dibaca."),
    ("roster.xls", b"\xd0\xcf\x11\xe0\xa1\xb1", "roster.xls berformat Excel lama (.xls). Simpan ulang sebagai .xlsx atau CSV, lalu impor lagi."),
    ("roster.csv", "role,name,phone\nkoordinator,Rénå,0812\n".encode("latin-1"),
     "roster.csv bukan teks UTF-8. Di Excel pilih Simpan Sebagai → CSV UTF-8, lalu impor lagi."),
])
def test_corrupt_file_is_refused(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(content)

    with pytest.raises(RosterFileError) as error:
        read_roster(tmp_path / name)

    assert str(error.value) == expected


async def test_header_only_file_is_a_problem(sessions: Sessions, tmp_path: Path) -> None:
    assert await problems_of(sessions, write(tmp_path, HEADER)) == ["Berkas hanya berisi baris judul, tanpa data."]


async def test_reimport_changes_nothing(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",agency", MENTOR + ",Diskop", PESERTA + ",Diskop")
    await run_import(sessions, path, clock)
    before = {phone: person.updated_at for phone, person in (await people(sessions)).items()}

    clock.advance(hours=1)
    summary = await run_import(sessions, path, clock)

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 2)
    assert {phone: person.updated_at for phone, person in (await people(sessions)).items()} == before


async def test_edited_row_updates_that_person(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    await run_import(sessions, write(tmp_path, HEADER, MENTOR, PESERTA), clock)
    edited = PESERTA.replace("Beji", "Sukmajaya").replace("0812-0000-0001", "62812-0000-0001")

    summary = await run_import(sessions, write(tmp_path, HEADER, MENTOR, edited), clock)

    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    assert [(c.line, c.name, c.columns) for c in summary.changes] == [(3, "Sari Wulandari", ("district",))]
    assert (await people(sessions))["+6281200000001"].district == "Sukmajaya"


OTHER_MENTOR = "pendamping,Andi Wijaya,0811-0000-0002,,Angkatan 1,,,Beji,keuangan"
# Sari's phone with one digit wrong would be someone else's: another name and another mentor at once.
TYPO_ROW = "peserta,Siti Aminah,0812-0000-0001,0811-0000-0002,Angkatan 1,Warung Siti,makanan,Beji,"
SIDE_BY_SIDE = ("baris 4: nomor +6281200000001 sudah terdaftar; baris ini mengganti nama dan pendampingnya sekaligus:\n"
                "    nama:       Sari Wulandari → Siti Aminah\n"
                "    pendamping: Budi Santoso → Andi Wijaya")


async def test_row_changing_name_and_mentor_at_once_is_shown_and_refused(sessions: Sessions, clock: Clock,
                                                                       tmp_path: Path) -> None:
    await run_import(sessions, write(tmp_path, HEADER, MENTOR, PESERTA), clock)
    path = write(tmp_path, HEADER, MENTOR, OTHER_MENTOR, TYPO_ROW)

    problems = await problems_of(sessions, path)
    with pytest.raises(RosterInvalid):
        await run_import(sessions, path, clock)

    assert problems == [SIDE_BY_SIDE]
    assert (await people(sessions))["+6281200000001"].name == "Sari Wulandari"


async def test_name_and_mentor_change_applies_when_allowed(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    await run_import(sessions, write(tmp_path, HEADER, MENTOR, PESERTA), clock)
    path = write(tmp_path, HEADER, MENTOR, OTHER_MENTOR, TYPO_ROW)

    async with sessions.begin() as session:
        summary = await apply_roster(session, read_roster(path), clock.now, allow_renames=True)

    stored = await people(sessions)
    assert [str(rename) for rename in summary.renames] == [SIDE_BY_SIDE.removeprefix("baris 4: ")]
    assert [(c.old_name, c.name) for c in summary.changes] == [("Sari Wulandari", "Siti Aminah")]
    assert stored["+6281200000001"].mentor_id == stored["+6281100000002"].id


async def test_name_change_alone_is_an_ordinary_update(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    await run_import(sessions, write(tmp_path, HEADER, MENTOR, PESERTA), clock)
    married = PESERTA.replace("Sari Wulandari", "Sari Wulandari Putri")

    summary = await run_import(sessions, write(tmp_path, HEADER, MENTOR, married), clock)

    assert [(c.old_name, c.name, c.columns) for c in summary.changes] == [
        ("Sari Wulandari", "Sari Wulandari Putri", ("name",))]


async def test_people_not_in_file_and_learned_channel_are_left_alone(
        sessions: Sessions, clock: Clock, driver: Driver, mentor: Person, tmp_path: Path) -> None:
    other = await driver.add_person(role=Role.KOORDINATOR, name="Rina", phone="+6281300000001")
    path = write(tmp_path, "role,name,phone,topics,channel", "pendamping,Budi Santoso,0811-0000-0001,pemasaran;digital,")

    summary = await run_import(sessions, path, clock)

    stored = await people(sessions)
    assert summary.unchanged == 1
    assert stored["+6281100000001"].preferred_channel == "telegram"
    assert stored[other.phone].name == "Rina"


async def test_import_writes_audit_entry(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    await run_import(sessions, write(tmp_path, HEADER, MENTOR, PESERTA), clock)

    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.action, entry.subject) == ("roster_import", "roster.csv")
    assert entry.detail == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}


@pytest.mark.parametrize("template", [TEMPLATE_CSV, TEMPLATE_XLSX])
async def test_templates_import_cleanly(sessions: Sessions, clock: Clock, template: Path) -> None:
    summary = await run_import(sessions, template, clock)

    assert (summary.created, len(read_roster(template))) == (3, 3)


async def test_5000_rows_import_quickly(sessions: Sessions, clock: Clock, tmp_path: Path) -> None:
    mentors = [f"pendamping,Pendamping {i},0811-{i:04d}-0000,,,,,," for i in range(1, 51)]
    participants = [f"peserta,Peserta {i},0812-{i // 10000:04d}-{i % 10000:04d},0811-{i % 50 + 1:04d}-0000,A1,,,,"
                    for i in range(1, 4951)]
    path = write(tmp_path, HEADER, *mentors, *participants)
    seen: list[int] = []

    started = time.perf_counter()
    async with sessions.begin() as session:
        summary = await apply_roster(session, read_roster(path), clock.now, seen.append)
    print(f"\n5000 roster rows imported in {time.perf_counter() - started:.2f} s")

    assert (summary.created, seen[-1]) == (5000, 5000)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 5000


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite file the CLI reaches through KLINIK_DATABASE_URL; no stray .env is read."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def test_cli_import_succeeds_then_reports_unchanged(cli_db: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HEADER, MENTOR, PESERTA)

    assert main(["roster", "import", str(path)]) == 0
    assert main(["roster", "import", str(path)]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "Impor roster selesai (2 baris): dibuat 2, diperbarui 0, tidak berubah 0.",
        "Impor roster selesai (2 baris): dibuat 0, diperbarui 0, tidak berubah 2."]


def test_cli_bad_rows_exit_1(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "role,name,phone", "koordinator,Rina,0813-0000-0001", "", "koordinator,Budi,abc")

    assert main(["roster", "import", str(path)]) == 1

    assert capsys.readouterr().err.splitlines() == [
        "baris 4: nomor telepon tidak terbaca: 'abc'",
        "1 masalah ditemukan; tidak ada yang disimpan. Perbaiki berkasnya lalu impor lagi."]
    assert main(["roster", "import", "--dry-run", str(path.with_name("missing.csv"))]) == 1


def test_cli_dry_run_saves_nothing(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HEADER, MENTOR, PESERTA)

    assert main(["roster", "import", "--dry-run", str(path)]) == 0
    assert main(["roster", "import", "--dry-run", str(path)]) == 0

    assert capsys.readouterr().out.splitlines()[-1] == (
        "Uji coba (2 baris), tidak ada yang disimpan: dibuat 2, diperbarui 0, tidak berubah 0.")


def test_cli_rename_needs_the_flag_and_shows_old_and_new(cli_db: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roster", "import", str(write(tmp_path, HEADER, MENTOR, PESERTA))]) == 0
    path = write(tmp_path, HEADER, MENTOR, OTHER_MENTOR, TYPO_ROW, name="baru.csv")
    capsys.readouterr()

    refused = [main(["roster", "import", "--dry-run", str(path)]), main(["roster", "import", str(path)])]
    told = capsys.readouterr().err
    allowed = main(["roster", "import", "--izinkan-ganti-nama", str(path)])

    assert refused == [1, 1]
    assert told.count(SIDE_BY_SIDE) == 2
    assert told.splitlines()[-1] == ("Salah ketik nomor? Perbaiki berkasnya. Jika memang orang yang sama berganti "
                                     "nama dan pendamping, impor lagi dengan --izinkan-ganti-nama.")
    assert allowed == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Ganti nama dan pendamping (diizinkan dengan --izinkan-ganti-nama):",
        *("  " + SIDE_BY_SIDE).splitlines(),
        "Diperbarui:",
        "  baris 4: Sari Wulandari → Siti Aminah (name, business_name, mentor_phone)"]


def test_cli_template_writes_csv_and_xlsx(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roster", "template"]) == 0
    assert main(["roster", "template", "--xlsx", "--out", "contoh.xlsx"]) == 0
    assert main(["roster", "template"]) == 1

    assert [row.name for row in read_roster(tmp_path / "contoh.xlsx")] == [
        row.name for row in read_roster(tmp_path / "roster_template.csv")]
    assert capsys.readouterr().err == "roster_template.csv sudah ada; pilih nama lain dengan --out.\n"


async def test_cli_unknown_lists_masked_numbers(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(f"sqlite+aiosqlite:///{cli_db}")
    async with make_sessionmaker(engine).begin() as session:
        session.add(UnknownContact(channel="whatsapp", address="+6281299998888", phone="+6281299998888",
                                   display_name="Tamu", message_count=3, first_seen_at=START_UTC,
                                   last_seen_at=START_UTC))
    await engine.dispose()

    exit_code = await asyncio.to_thread(main, ["roster", "unknown"])

    assert exit_code == 0
    assert capsys.readouterr().out.splitlines() == [
        "Nomor tak dikenal yang menghubungi bot (terbaru dulu):",
        "  whatsapp  +62812****8888      3 pesan  terakhir 4 Mar, 09.00 WIB  Tamu"]


def test_indonesian_headers_are_understood() -> None:
    from handlers.people.roster_file import normalize_header

    headers = ["Peran", "Nama", "No. HP", "No HP Pendamping", "Angkatan", "Nama Usaha", "Kecamatan", "Keahlian"]

    assert [normalize_header(h) for h in headers] == [
        "role", "name", "phone", "mentor_phone", "cohort", "business_name", "district", "topics"]
