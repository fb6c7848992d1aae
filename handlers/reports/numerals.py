"""Figures as people read them: "72,5%", "8.200", "3,5" (comma decimals and dot thousands in Indonesian)."""

from __future__ import annotations


def pct(value: float | None, language: str) -> str:
    """"72%", "72,5%" or "–"."""
    return "–" if value is None else f"{number(value, language)}%"


def number(value: float, language: str) -> str:
    """A figure with at most one decimal, comma-decimal in Indonesian."""
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language == "id" else text


def count(value: int, language: str) -> str:
    """"8.200" in Indonesian, "8,200" in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text
