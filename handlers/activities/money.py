"""Rupiah amounts as people type them: "3,5 juta", "3.500.000", "3500rb", "Rp 1.250.000", "1,2M".

Units: rb/ribu/k = thousand, jt/juta = million, M/miliar/milyar = billion (Indonesian usage:
"M" is miliar, never million). Parts add up: "3 juta 500 ribu" = 3.500.000. A lone separator
followed by exactly three digits groups thousands ("3.500" = 3500); otherwise it is a decimal
point ("3.5jt", "3,5 juta"). Decimals are only accepted with a unit or when they are zero
("Rp 1.250.000,00"), because "3,5" alone is almost certainly a missing "juta".

People also answer in a sentence: "omzet bln ini 3,5jt kak", "alhamdulillah dapet 750rb". When the
whole text is not an amount, the one amount inside it counts: the only span that is a number, or
the only one written with a unit or "Rp" when there are several ("bln 11 kira2 3,5jt"). A bare
number in a sentence counts only when it is money-sized (0 or at least 1.000): "3 apel" is not an
amount, and two amounts ("laba 2jt omzet 5jt") are not guessed between.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

UNITS = {
    "": 1, "rp": 1, "k": 1_000, "rb": 1_000, "ribu": 1_000, "rbu": 1_000,
    "jt": 1_000_000, "juta": 1_000_000, "jta": 1_000_000,
    "m": 1_000_000_000, "miliar": 1_000_000_000, "milyar": 1_000_000_000, "mlyr": 1_000_000_000,
}
PART = re.compile(r"(\d[\d.,]*)\s*([a-z]*)")
MAX_AMOUNT = 1_000_000_000_000  # a micro business reporting a trillion is a typo
PREFIX = re.compile(r"^(rp\.?|idr)\s*")
# "kira2 3,5 jt", "sekitar 750rb", "± 3,5 jt": an estimate is still the amount.
HEDGES = re.compile(r"^(kira[\s-]*kira|kira2|kira|sekitar|kurang lebih|kurleb|kl|±|\+-|approx|rata[\s-]*rata|rata2)\s*")
_UNIT_WORDS = "|".join(sorted((unit for unit in UNITS if unit and unit != "rp"), key=len, reverse=True))
_NUMBER = r"\d[\d.,]*"
_WITH_UNIT = rf"{_NUMBER}\s*(?:{_UNIT_WORDS})(?:[\s-]*an)?(?![a-z\d])"
# One amount written inside a sentence: "Rp 3.500.000", "3,5jt-an", "3 juta 500 ribu", "3 jt 500";
# further parts only follow a part with a unit, so "bln 11 3,5jt" holds two spans, "11" and "3,5jt".
SPAN = re.compile(rf"(?<![\w.,])(?:(?:rp\.?|idr)\s*)?(?:{_WITH_UNIT}(?:\s*{_NUMBER}\s*(?:(?:{_UNIT_WORDS})(?:[\s-]*an)?)?(?![a-z\d]))*|{_NUMBER}(?:[\s-]*an)?(?![a-z\d]))")
HAS_UNIT = re.compile(rf"^(?:rp|idr)|\d\s*(?:{_UNIT_WORDS})(?![a-z])")
NEXT_UNIT = {"jt": "rb", "juta": "rb", "jta": "rb", "m": "jt", "miliar": "jt", "milyar": "jt", "mlyr": "jt"}


class AmountError(ValueError):
    """Why a text is not an amount: "empty", "not_a_number", "needs_unit", "negative", "too_large"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_rupiah(text: str) -> int:
    """The whole-rupiah amount a person meant, alone or inside a sentence, or AmountError saying why
    it is not one."""
    try:
        return _parse_whole(text)
    except AmountError as error:
        if error.reason != "not_a_number":
            raise
        span = _one_amount_in(text.lower())
        if span is None:
            raise
    amount = _parse_whole(span)
    if 0 < amount < 1_000 and not HAS_UNIT.search(span):
        raise AmountError("not_a_number")  # "3 apel": a count of something, not rupiah
    return amount


def _one_amount_in(text: str) -> str | None:
    """The single amount written in a sentence, or None when there is none or it is ambiguous."""
    spans = [match.group().strip() for match in SPAN.finditer(text)]
    if len(spans) > 1:
        spans = [span for span in spans if HAS_UNIT.search(span)]
    return spans[0] if len(spans) == 1 else None


def _parse_whole(text: str) -> int:
    """The amount when the whole text is one."""
    cleaned = HEDGES.sub("", text.strip().lower())
    cleaned = PREFIX.sub("", cleaned).replace("rupiah", "").strip().rstrip(".-,")
    cleaned = re.sub(r"(?<=[a-z])[\s-]*an\b", "", cleaned)  # "3,5jt-an", "3,5 jutaan": about that much
    cleaned = PREFIX.sub("", cleaned).strip().rstrip(".-,")
    if not cleaned:
        raise AmountError("empty")
    if cleaned.startswith("-"):
        raise AmountError("negative")
    parts = PART.findall(cleaned)
    if not parts or PART.sub("", cleaned).strip():
        raise AmountError("not_a_number")
    # "3 jt 500" is 3.500.000: a bare number after a unit counts in the next smaller unit.
    parts = [(number, NEXT_UNIT.get(parts[i - 1][1], "") if i and not unit and parts[i - 1][1] else unit)
             for i, (number, unit) in enumerate(parts)]
    total = sum((_part_value(number, unit) for number, unit in parts), Decimal(0))
    if total > MAX_AMOUNT:
        raise AmountError("too_large")
    return int(total.to_integral_value())


def _part_value(number: str, unit: str) -> Decimal:
    if unit not in UNITS:
        raise AmountError("not_a_number")
    value = _number(number.rstrip(".,"))
    if value != value.to_integral_value() and UNITS[unit] == 1:
        raise AmountError("needs_unit")
    return value * UNITS[unit]


def _number(text: str) -> Decimal:
    """A number with Indonesian or English separators as a Decimal."""
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        return _decimal(_ungroup(whole, grouping) + "." + fraction)
    mark = "." if dots else "," if commas else ""
    if not mark:
        return _decimal(text)
    if text.count(mark) > 1:
        return _decimal(_ungroup(text, mark))
    whole, _, fraction = text.partition(mark)
    if len(fraction) == 3:
        return _decimal(whole + fraction)
    return _decimal(whole + "." + fraction)


def _ungroup(text: str, mark: str) -> str:
    groups = text.split(mark)
    if not groups[0] or any(len(group) != 3 for group in groups[1:]):
        raise AmountError("not_a_number")
    return "".join(groups)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise AmountError("not_a_number") from None


def format_rupiah(amount: int) -> str:
    """Rp 3.500.000 — the way amounts are written in Indonesia."""
    return "Rp " + f"{amount:,}".replace(",", ".")
