"""A streaming XLSX writer for the weekly digest: rows straight to sheet XML.

openpyxl spends about 20 µs on each cell it writes; the digest of a 100,000-participant programme has
a few hundred thousand, and must be ready in a second. Strings are written inline (no shared-string
table to build), numbers as numbers, nothing else. Text that a spreadsheet could read as a formula is a
text cell with the quote-prefix style, as handlers/kernel/spreadsheet.xlsx_row writes it with openpyxl.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from handlers.kernel.spreadsheet import is_formula_like

ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0: dropped
SHEET_NAME_LIMIT = 31
ROWS_PER_CHUNK = 2_000
TEXTS_KEPT = 4_096  # text cells kept for reuse while rows are written ahead (then forgotten)
COPY_BYTES = 1 << 20  # rows written ahead are copied in a MiB at a time

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>")
SHEET_TYPE = ('<Override PartName="/xl/worksheets/sheet{n}.xml" '
              'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets>'
    "</workbook>")
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheets}'
    '<Relationship Id="rIdStyles" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>")
SHEET_REL = ('<Relationship Id="rId{n}" '
             'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
             'Target="worksheets/sheet{n}.xml"/>')
STYLES = (  # style 0: plain; style 1: quote prefix (the cell stays text when edited)
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")
SHEET_START = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_END = "</sheetData></worksheet>"


def column_letters(count: int) -> list[str]:
    """"A", "B", …, "Z", "AA", … for the first `count` columns."""
    letters = []
    for index in range(1, count + 1):
        name = ""
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


# A text cell's start after its reference, by (quote-prefixed, whitespace kept as written): the marker only
# where spaces could be lost (leading, trailing or doubled, line breaks; a fifth of a long sheet's bytes).
QUOTED, KEPT = ' s="1"', ' xml:space="preserve"'
TEXT_STARTS = {(quoted, keep): f' t="inlineStr"{QUOTED if quoted else ""}><is><t{KEPT if keep else ""}>'
               for quoted in (False, True) for keep in (False, True)}
TEXT_END = "</t></is></c>"


def cell_xml(reference: str, value: Any) -> str:
    """One cell; "" for an empty one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{reference}"><v>{value!r}</v></c>' if value == value and abs(value) != float("inf") else ""
    return f'<c r="{reference}"{text_xml(str(value))}'


class RowsXml:
    """A sheet's rows written ahead as its XML, from row `start` on, into a temporary file (unlinked at once):
    a long part made as its rows stream from the database, copied in when the workbook is written (write_xlsx,
    as one item of the sheet's rows). close() when done with it."""

    def __init__(self, start: int = 2) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (held until close())
        self.start = self.next = start
        self.letters: list[str] = []
        self.texts: dict[str, str] = {}

    def add(self, rows: Iterable[list[Any]]) -> None:
        """Write the next rows (blocking: from a worker thread)."""
        chunk = []
        for row in rows:
            if len(row) > len(self.letters):
                self.letters = column_letters(len(row))
            chunk.append(row_xml(self.next, self.letters, row, self.texts))
            self.next += 1
        self.file.write("".join(chunk).encode("utf-8"))

    def copy_to(self, out: IO[bytes]) -> None:
        """The XML written so far, into `out`."""
        self.file.flush()
        self.file.seek(0)
        shutil.copyfileobj(self.file, out, COPY_BYTES)
        self.file.seek(0, 2)

    def close(self) -> None:
        self.file.close()


def row_xml(number: int, letters: list[str], row: list[Any], texts: dict[str, str] | None = None) -> str:
    """One row's XML (letters: the columns' names, at least as many as the row's cells); cell_xml's cells,
    text made on a shorter path (a large digest writes a few hundred thousand) and, given `texts`, kept there
    for the next rows (cohorts, mentors, dates and reasons repeat)."""
    cells = []
    for letter, value in zip(letters, row, strict=False):
        if value.__class__ is str:
            if texts is None:
                cells.append(f'<c r="{letter}{number}"{text_xml(value)}')
                continue
            known = texts.get(value)
            if known is None:
                if len(texts) >= TEXTS_KEPT:
                    texts.clear()
                known = texts[value] = text_xml(value)
            cells.append(f'<c r="{letter}{number}"{known}')
        elif value is not None:
            cells.append(cell_xml(f"{letter}{number}", value))
    return f'<row r="{number}">{"".join(cells)}</row>'


def text_xml(text: str) -> str:
    """A text cell after its reference: characters XML refuses dropped, formula-like text quote-prefixed."""
    if text.isprintable():  # a cheap test first: the characters dropped, tabs and line breaks are unprintable
        keep = text[:1] == " " or text[-1:] == " " or "  " in text
    else:
        text, keep = ILLEGAL.sub("", text), True
    start = TEXT_STARTS[is_formula_like(text), keep]
    if "&" in text or "<" in text or ">" in text:
        text = escape(text)
    return f"{start}{text}{TEXT_END}"


def sheet_chunks(rows: Iterable[list[Any] | RowsXml]) -> Iterator[str | RowsXml]:
    """The sheet's XML in chunks of rows (rows written ahead passed on as they are)."""
    letters: list[str] = []
    chunk = [SHEET_START]
    number = 0
    for row in rows:
        if isinstance(row, RowsXml):
            if number + 1 != row.start:
                raise ValueError(f"rows written ahead from row {row.start} come after row {number}")
            yield "".join(chunk)
            yield row
            chunk, number = [], row.next - 1
            continue
        number += 1
        if len(row) > len(letters):
            letters = column_letters(len(row))
        chunk.append(row_xml(number, letters, row))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    chunk.append(SHEET_END)
    yield "".join(chunk)


def write_xlsx(path: Path, sheets: list[tuple[str, Iterable[list[Any] | RowsXml]]]) -> None:
    """A workbook with one sheet per (name, rows); the first row of each is its header. A RowsXml among the
    rows stands for the rows it holds (numbered as they follow)."""
    names = [ILLEGAL.sub("", re.sub(r"[\[\]:*?/\\]", " ", name))[:SHEET_NAME_LIMIT] for name, _ in sheets]
    numbers = range(1, len(sheets) + 1)
    # Fast compression: the files are small next to the time it takes to squeeze them.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(sheets="".join(SHEET_TYPE.format(n=n)
                                                                                     for n in numbers)))
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK.format(sheets="".join(
            f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>' for n, name in zip(numbers, names,
                                                                                               strict=True))))
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(sheets="".join(
            SHEET_REL.format(n=n) for n in numbers)))
        archive.writestr("xl/styles.xml", STYLES)
        for n, (_, rows) in zip(numbers, sheets, strict=True):
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w") as out:
                for chunk in sheet_chunks(rows):
                    if isinstance(chunk, RowsXml):
                        chunk.copy_to(out)
                    else:
                        out.write(chunk.encode("utf-8"))
