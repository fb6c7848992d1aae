"""Command and button arguments are bounded: huge or non-ASCII numbers get "not found" or the usage, never an error.

str.isdigit() accepts "²" (int() then fails) and twenty digits overflow a database integer (an error on
both SQLite and PostgreSQL); every id goes through handlers.kernel.numbers.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.kernel.numbers import option_number, record_id
from storage.models import InboxItem, Person
from tests.support.driver import Driver

HUGE = "99999999999999999999"
NOT_FOUND = "Pertanyaan #{} tidak ditemukan di daftar Anda."


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("#12", 12), (" 7 ", 7), ("2147483647", 2147483647),
    ("0", None), ("-1", None), ("2147483648", None), (HUGE, None), ("²", None), ("٣", None), ("１", None),
    ("1²", None), ("", None), (None, None), ("1.0", None), ("0x10", None), ("1e3", None),
])
def test_record_ids_are_ascii_digits_within_an_integer_column(text: str | None, expected: int | None) -> None:
    assert record_id(text) == expected


def test_option_numbers_are_within_the_options() -> None:
    assert [option_number(text, 3) for text in ("1", "3", "4", "0", "²", HUGE)] == [1, 3, None, None, None, None]


@pytest.mark.parametrize(("text", "reply"), [
    (f"buka {HUGE}", NOT_FOUND.format(HUGE)),
    (f"tutup {HUGE}", NOT_FOUND.format(HUGE)),
    ("/tutup ²", NOT_FOUND.format("²")),
    ("/buka ٣", NOT_FOUND.format("٣")),
    ("tutup 2147483648", NOT_FOUND.format("2147483648")),
    (f"jawab {HUGE} sudah saya jawab", NOT_FOUND.format(HUGE)),
    ("/jawab ² halo", "Cara menjawab: *jawab 12 isi jawaban*, atau pilih *Jawab* pada notifikasi."),
    (f"catatan {HUGE} cek lagi", NOT_FOUND.format(HUGE)),
    (f"eskalasi {HUGE}", NOT_FOUND.format(HUGE)),
    (f"dijawab {HUGE}", NOT_FOUND.format(HUGE)),
    (f"bukalagi {HUGE}", NOT_FOUND.format(HUGE)),
    (f"faq {HUGE}", NOT_FOUND.format(HUGE)),
    (f"setujui {HUGE}", "Pengajuan itu tidak ditemukan di daftar Anda."),
    (f"tolak {HUGE} tidak", "Pengajuan itu tidak ditemukan di daftar Anda."),
])
async def test_staff_commands_with_unbounded_numbers_get_a_clear_reply(
        driver: Driver, mentor: Person, text: str, reply: str) -> None:
    await driver.say(mentor, text)

    assert await driver.received(mentor) == [reply]
    await no_failed_inbound(driver)


@pytest.mark.parametrize("payload", [f"close:{HUGE}", "close:²", f"rate:{HUGE}:5", "rate:²:5", f"att:in:{HUGE}",
                                     f"draft:send:{HUGE}", f"tgs:open:{HUGE}", f"tgs:part:{HUGE}", f"fqy:{HUGE}"])
async def test_forged_buttons_with_unbounded_numbers_get_a_clear_reply(
        driver: Driver, participant: Person, payload: str) -> None:
    await driver.press(participant, payload)

    assert len(await driver.received(participant)) <= 1
    await no_failed_inbound(driver)


@pytest.mark.parametrize("payload", [f"ses:show:{HUGE}", f"ses:who:1:{HUGE}", f"lv:ok:{HUGE}", f"rvw:s:{HUGE}",
                                     f"ans:{HUGE}", f"esc:{HUGE}:1", f"fqm:{HUGE}"])
async def test_forged_staff_buttons_with_unbounded_numbers_get_a_clear_reply(
        driver: Driver, mentor: Person, payload: str) -> None:
    await driver.press(mentor, payload)

    assert len(await driver.received(mentor)) == 1
    await no_failed_inbound(driver)


@pytest.mark.parametrize("payload", [f"mbr:off:{HUGE}", f"rkp:2026-03|mentor|{HUGE}", "rkp:2026-03|mentor|²",
                                     f"pst:{HUGE}", f"close:{HUGE}", f"hand:{HUGE}:{HUGE}"])
async def test_forged_coordinator_buttons_with_unbounded_numbers_get_a_clear_reply(
        driver: Driver, coordinator: Person, payload: str) -> None:
    await driver.press(coordinator, payload)

    assert len(await driver.received(coordinator)) == 1
    await no_failed_inbound(driver)


@pytest.mark.parametrize("text", ["²", "1²", "٣", HUGE, f"cuti batal {HUGE}", "cuti batal ²"])
async def test_bare_numbers_never_fail(driver: Driver, participant: Person, coordinator: Person, text: str) -> None:
    await driver.say(participant, text)
    await driver.say(coordinator, text)

    assert await driver.received(participant)
    assert await driver.received(coordinator)
    await no_failed_inbound(driver)


async def no_failed_inbound(driver: Driver) -> None:
    async with driver.sessions() as session:
        errors = (await session.execute(select(InboxItem.error).where(InboxItem.error.is_not(None)))).scalars()
        assert list(errors) == []
