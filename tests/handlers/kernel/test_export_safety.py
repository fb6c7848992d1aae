"""Exports keep roster text as text: a cohort `=1+1` or a mentor `=HYPERLINK(…)` is never a live formula."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.kernel.spreadsheet import csv_field, is_formula_like, xlsx_row
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import MediaLink, Person, Role
from tests.support.driver import Driver

JAKARTA = ZoneInfo("Asia/Jakarta")
COHORT = "=1+1"
MENTOR = '=HYPERLINK("http://x","y")'
PARTICIPANTS = ("+62 Joko", "-Wati", "@Sari", "\tTono")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


async def test_the_digest_workbook_writes_formula_like_roster_text_as_text(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver) -> None:
    start = datetime(2026, 2, 1, 9, tzinfo=JAKARTA)
    mentor = await driver.add_person(role=Role.PENDAMPING, name=MENTOR, phone="+6281100000009",
                                     telegram_chat_id="5009", preferred_channel=Channel.TELEGRAM.value)
    for number, name in enumerate(PARTICIPANTS):
        await driver.add_person(role=Role.PESERTA, name=name, phone=f"+62812000000{number + 10}", mentor_id=mentor.id,
                                cohort=COHORT, created_at=start, last_inbound_at=start)
    coordinator = await driver.add_person(role=Role.KOORDINATOR, name="Rina Dinas", phone="+6281300000001",
                                          preferred_channel=Channel.WHATSAPP.value)

    await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config,
                  datetime(2026, 3, 9, 7, tzinfo=JAKARTA))

    book = load_workbook(await workbook_of(driver, sessions, coordinator))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    risky = [cell for cell in cells if is_formula_like(cell.value)]
    assert {cell.value for cell in risky} >= {COHORT, MENTOR, *PARTICIPANTS}
    assert {(cell.data_type, cell.quotePrefix) for cell in risky} == {("s", True)}
    assert not [cell for cell in cells if cell.data_type == "f"]


async def workbook_of(driver: Driver, sessions: async_sessionmaker[AsyncSession], person: Person) -> Path:
    attachments = [a for row in await driver.outbox(person) for a in message_of(row).attachments
                   if a.name.endswith(".xlsx")]
    assert attachments, "the digest sent no workbook"
    async with sessions() as session:
        link = await session.get(MediaLink, attachments[0].ref.removeprefix("media:"))
    assert link is not None
    return Path(link.ref)


def test_rows_keep_numbers_and_plain_text_and_quote_formula_like_text(tmp_path: Path) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("x")
    sheet.append(xlsx_row(sheet, [-5, 2.5, None, "Angkatan 1", "=SUM(A1:A2)", "-", "@x", "\r=1"]))
    book.save(tmp_path / "x.xlsx")

    (row,) = load_workbook(tmp_path / "x.xlsx")["x"].iter_rows()
    assert [(c.value, c.data_type, c.quotePrefix) for c in row] == [
        (-5, "n", False), (2.5, "n", False), (None, "n", False), ("Angkatan 1", "s", False),
        ("=SUM(A1:A2)", "s", True), ("-", "s", True), ("@x", "s", True), ("\n=1", "s", True)]  # XML reads CR as LF


def test_csv_fields_that_look_like_formulas_get_an_apostrophe() -> None:
    out = io.StringIO()
    csv.writer(out).writerow([csv_field(v) for v in ("=1+1", "+62812", "Budi", 3, "-2", "@SUM(1)")])

    assert out.getvalue().strip() == "'=1+1,'+62812,Budi,3,'-2,'@SUM(1)"
