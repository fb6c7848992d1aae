"""The workbooks the bot writes (rekap, weekly digest, kinerja, roster template) open in LibreOffice headless:
one soffice run converts every sheet of every file to CSV, and each text cell reads back as openpyxl wrote it
(a repaired or unreadable file fails the conversion or loses cells). Skipped only off CI when soffice is absent."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from storage.db import make_engine, make_sessionmaker
from storage.models import Person, Role
from tests.support.programme import Programme

SOFFICE = shutil.which("soffice")
# Every sheet to its own UTF-8 CSV (the last token, -1, asks for all sheets: "<file>-<sheet>.csv").
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
ROSTER = ("role,name,phone,mentor_phone,cohort,business_name\n"
          "pendamping,Budi Santoso,0811-0000-0001,,Angkatan 1,\n"
          "peserta,Sari Wulandari,0812-0000-0001,0811-0000-0001,Angkatan 1,Keripik Sari\n"
          "peserta,Joko Susilo,0812-0000-0002,0811-0000-0001,Angkatan 1,\"=HYPERLINK(\"\"http://x\"\",\"\"klik\"\")\"\n")


async def some_activity(url: str, now: datetime) -> None:
    """A session, two questions (one answered) and a monthly report, all earlier today."""
    engine = make_engine(url)
    try:
        programme = Programme(make_sessionmaker(engine))
        async with programme.sessions() as session:
            people = {p.name: p for p in (await session.execute(select(Person).where(Person.role == Role.PESERTA)))
                      .scalars()}
        sari, joko = people["Sari Wulandari"], people["Joko Susilo"]
        start = now - timedelta(hours=3)
        await programme.meeting(start, cohort="Angkatan 1", present={sari: "hadir"})
        await programme.ticket(sari, start, answered_at=start + timedelta(hours=1), rating=5)
        await programme.ticket(joko, start + timedelta(minutes=30))
        await programme.report(sari, now.strftime("%Y-%m"), start)
    finally:
        await engine.dispose()


@pytest.mark.skipif(SOFFICE is None and not os.environ.get("CI"),
                    reason="soffice is not installed (scripts/test.sh installs libreoffice-calc-nogui)")
def test_every_workbook_opens_in_libreoffice_without_repair(tmp_path: Path, sqlite_template: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert SOFFICE is not None, "soffice missing under CI: scripts/test.sh must install libreoffice-calc-nogui"
    shutil.copy(sqlite_template, tmp_path / "lo.db")
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path}/lo.db"
    monkeypatch.setenv("KLINIK_DATABASE_URL", url)
    monkeypatch.setenv("KLINIK_MEDIA_DIR", str(tmp_path / "media"))
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    assert main(["roster", "import", str(tmp_path / "roster.csv")]) == 0
    now = datetime.now(UTC)
    asyncio.run(some_activity(url, now))
    books = tmp_path / "books"
    books.mkdir()
    month = now.strftime("%Y-%m")
    assert main(["rekap", "--bulan", month, "-o", str(books / "rekap.xlsx")]) == 0
    assert main(["kinerja", "--bulan", month, "-o", str(books / "kinerja.xlsx")]) == 0
    assert main(["digest", "--out", str(tmp_path / "digest")]) == 0
    assert main(["roster", "template", "--xlsx", "--out", str(books / "roster.xlsx")]) == 0
    capsys.readouterr()
    digest = next((tmp_path / "digest").glob("ringkasan-*.xlsx"))
    shutil.copy(digest, books / "ringkasan.xlsx")
    shutil.copy(Path(__file__).parents[2] / "bot" / "templates" / "roster_template.xlsx", books / "template.xlsx")
    files = sorted(books.glob("*.xlsx"))

    done = subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/profile",
                           "--convert-to", CSV_FILTER, "--outdir", str(tmp_path / "csv"), *map(str, files)],
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    checked = 0
    for path in files:
        book = load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            out = tmp_path / "csv" / f"{path.stem}-{sheet.title}.csv"
            assert out.exists(), f"{out.name} missing: {done.stdout} {done.stderr}"
            with out.open(encoding="utf-8", newline="") as handle:
                read = list(csv.reader(handle))
            for r, row in enumerate(sheet.iter_rows(values_only=True)):
                for c, value in enumerate(row):
                    if isinstance(value, str) and value:
                        assert read[r][c] == value, (path.name, sheet.title, r, c)
                        checked += 1
                    elif isinstance(value, int) and not isinstance(value, bool):
                        assert read[r][c] == str(value), (path.name, sheet.title, r, c)
                        checked += 1
        book.close()
    rekap = (tmp_path / "csv" / "rekap-Peserta.csv").read_text(encoding="utf-8")
    assert '=HYPERLINK(""http://x"",""klik"")' in rekap  # formula-like text stays text
    assert checked > 100, checked
