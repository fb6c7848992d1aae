"""Omzet and counts as people type them become numbers, or a reason why they cannot."""

import pytest

from handlers.activities.money import AmountError, format_rupiah, parse_rupiah
from handlers.activities.monthly_reports import parse_count


@pytest.mark.parametrize(("text", "rupiah"), [
    ("3,5 juta", 3_500_000),
    ("3.500.000", 3_500_000),
    ("3500rb", 3_500_000),
    ("3.5jt", 3_500_000),
    ("3 jt", 3_000_000),
    ("750 ribu", 750_000),
    ("Rp 1.250.000", 1_250_000),
    ("Rp1.250.000,00", 1_250_000),
    ("Rp. 2.000.000,-", 2_000_000),
    ("1,2M", 1_200_000_000),
    ("2,5 miliar", 2_500_000_000),
    ("3 juta 500 ribu", 3_500_000),
    ("500k", 500_000),
    ("1,250,000", 1_250_000),
    ("3500000", 3_500_000),
    ("3.500", 3_500),
    ("0", 0),
    ("IDR 4.000.000", 4_000_000),
    # in a sentence, as people answer: the one amount in it
    ("omzet bln ini 3,5jt", 3_500_000),
    ("alhamdulillah dapet 750rb bulan ini kak", 750_000),
    ("bln 11 kira2 3,5 juta", 3_500_000),
    ("jual 120 porsi, dapat 2,4jt", 2_400_000),
    ("omzetnya 4.250.000 kak", 4_250_000),
    ("total Rp 3.500.000,- kak", 3_500_000),
    ("omzet bulan ini 0 kak", 0),
])
def test_common_spellings_parse_to_rupiah(text: str, rupiah: int) -> None:
    assert parse_rupiah(text) == rupiah


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("Rp", "empty"),
    ("lumayan", "not_a_number"),
    ("3 apel", "not_a_number"),
    ("1.25.000", "not_a_number"),
    ("3,5", "needs_unit"),
    ("-500 ribu", "negative"),
    ("5000 miliar", "too_large"),
    ("laba 2jt omzet 5jt", "not_a_number"),  # two amounts: not guessed between
    ("jual 120 porsi", "not_a_number"),  # a count, not rupiah
    ("omzet 3,5 kak", "needs_unit"),
])
def test_unusable_text_says_why(text: str, reason: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_rupiah(text)

    assert caught.value.reason == reason


def test_format_uses_indonesian_grouping() -> None:
    assert format_rupiah(3_500_000) == "Rp 3.500.000"


@pytest.mark.parametrize(("text", "count"), [
    ("3", 3), ("3 orang", 3), ("ada 3 org kak", 3), ("pelanggan kira2 40an", 40), ("±40", 40), ("1.200", 1_200),
    ("2 org (saya sm istri)", 2), ("3org", 3), ("ga ada kak", 0), ("blm ada", 0), ("tdk ada pekerja", 0),
    ("saya sendiri aja", 0), ("sendirian", 0), ("tidak", 0),
    ("1-2 orang", None), ("lumayan banyak", None), ("ga tau", None), ("dua", None),
])
def test_counts_people_write_are_read(text: str, count: int | None) -> None:
    assert parse_count(text) == count
