"""Omzet as people type it becomes whole rupiah, or a reason why it cannot."""

import pytest

from handlers.activities.money import AmountError, format_rupiah, parse_rupiah


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
])
def test_unusable_text_says_why(text: str, reason: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_rupiah(text)

    assert caught.value.reason == reason


def test_format_uses_indonesian_grouping() -> None:
    assert format_rupiah(3_500_000) == "Rp 3.500.000"
