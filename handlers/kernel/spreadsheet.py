"""Cells of the spreadsheets the bot writes: text that looks like a formula stays text (no formula injection).

Names, cohorts and answers come from rosters and chats. A cohort named `=1+1` or a name like
`=HYPERLINK("http://…","klik")` must reach the Dinas as the text it is, never as a live formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    """Text that Excel or LibreOffice could read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A row for ``sheet.append``: formula-like text becomes a quote-prefixed text cell; other values stay."""
    from openpyxl.cell import WriteOnlyCell

    row: list[Any] = []
    for value in values:
        if is_formula_like(value):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
            cell.quotePrefix = True  # and the spreadsheet keeps it text when the cell is edited
            row.append(cell)
        else:
            row.append(value)
    return row


def csv_field(value: object) -> object:
    """A CSV value: formula-like text gets a leading apostrophe (CSV has no cell types)."""
    return f"'{value}" if is_formula_like(value) else value
