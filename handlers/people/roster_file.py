"""Read a roster file (CSV or XLSX) into rows with their line numbers, and check each row on its own."""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from handlers.kernel.i18n import t
from handlers.kernel.phones import normalize_phone
from storage.models import Person, Role

REQUIRED_COLUMNS = ("role", "name", "phone")
OPTIONAL_COLUMNS = ("mentor_phone", "cohort", "business_name", "sector", "district", "topics",
                    "channel", "language")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_TEXT_FIELDS = ("cohort", "business_name", "sector", "district", "topics")
_CHANNELS = ("whatsapp", "telegram")
_LANGUAGES = ("id", "en")
COLUMN_OF = {"preferred_channel": "channel", "mentor_id": "mentor_phone"}  # attribute → file column

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the binary Excel 97–2003 format (.xls)
_DELIMITERS = (",", ";", "\t")


class RosterFileError(Exception):
    """A roster file that cannot be read at all; the message is Indonesian, for the coordinator."""


@dataclass(frozen=True)
class RosterRow:
    """One data row as written in the file; an optional field is None when its column is absent."""

    line: int
    role: str
    name: str
    phone: str
    mentor_phone: str | None = None
    cohort: str | None = None
    business_name: str | None = None
    sector: str | None = None
    district: str | None = None
    topics: str | None = None
    channel: str | None = None
    language: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RosterProblem:
    """Why a row (or the whole file, line None) cannot be imported, in Indonesian."""

    line: int | None
    reason: str
    is_rename: bool = False  # allowed with the import's allow_renames (`--izinkan-ganti-nama`)

    def __str__(self) -> str:
        return self.reason if self.line is None else t("roster.line", line=self.line, reason=self.reason)


@dataclass
class RowEntry:
    """A row with its phones normalised and the person attributes it sets."""

    row: RosterRow
    role: Role | None
    phone: str
    mentor_phone: str | None
    values: dict[str, Any]


def read_roster(path: Path) -> list[RosterRow]:
    """Rows of a CSV (`,` or `;`, UTF-8 with or without BOM) or XLSX roster; RosterFileError if unreadable."""
    if not path.is_file():
        raise RosterFileError(t("roster.file_missing", name=str(path)))
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as error:
        raise RosterFileError(t("roster.file_unreadable", name=path.name)) from error
    if head.startswith(_OLE_MAGIC):
        raise RosterFileError(t("roster.file_xls", name=path.name))
    lines = _xlsx_lines(path) if head.startswith(_ZIP_MAGIC) else _csv_lines(path)
    return _rows_from_lines(lines, path.name)


# Dinas spreadsheets are often headed in Indonesian; these names mean our columns.
INDONESIAN_HEADERS = {
    "peran": "role", "nama": "name", "nama_lengkap": "name", "telepon": "phone", "no_hp": "phone",
    "nomor_hp": "phone", "hp": "phone", "no_wa": "phone", "nomor_wa": "phone", "whatsapp": "phone",
    "telepon_pendamping": "mentor_phone", "hp_pendamping": "mentor_phone", "no_hp_pendamping": "mentor_phone",
    "angkatan": "cohort", "nama_usaha": "business_name", "usaha": "business_name", "sektor": "sector",
    "bidang_usaha": "sector", "kecamatan": "district", "keahlian": "topics", "topik": "topics",
    "kanal": "channel", "bahasa": "language",
}


def normalize_header(text: str) -> str:
    """`Mentor Phone`, ` mentor-phone `, `MENTOR_PHONE` and `No HP Pendamping` all become `mentor_phone`."""
    key = re.sub(r"[\s\-.]+", "_", text.strip().lower()).strip("_")
    return INDONESIAN_HEADERS.get(key, key)


def _csv_lines(path: Path) -> list[tuple[int, list[str]]]:
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise RosterFileError(t("roster.file_not_roster", name=path.name))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterFileError(t("roster.file_not_utf8", name=path.name)) from error
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        return list(enumerate(reader, start=1))
    except csv.Error as error:
        raise RosterFileError(t("roster.file_not_roster", name=path.name)) from error


def _sniff_delimiter(text: str) -> str:
    """Indonesian Excel writes `;` (the decimal mark is a comma): count in the header line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return max(_DELIMITERS, key=first.count)


def _xlsx_lines(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not read
            workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            return [(number, [_cell_text(value) for value in row]) for number, row in enumerate(rows, 1)]
        finally:
            workbook.close()
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, IndexError) as error:
        raise RosterFileError(t("roster.file_not_roster", name=path.name)) from error


def _cell_text(value: Any) -> str:
    """A cell as text; whole numbers lose Excel's `.0` (phone numbers typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _rows_from_lines(lines: Sequence[tuple[int, list[str]]], name: str) -> list[RosterRow]:
    filled = (item for item in lines if any(cell.strip() for cell in item[1]))
    header_line = next(filled, None)
    if header_line is None:
        raise RosterFileError(t("roster.file_empty", name=name))
    columns = _columns(header_line[1])
    return [_row(number, cells, columns) for number, cells in filled]


def _columns(header: Iterable[str]) -> dict[int, str]:
    """Column index → normalised name; blank headers are skipped."""
    columns: dict[int, str] = {}
    for index, text in enumerate(header):
        key = normalize_header(text)
        if not key:
            continue
        if key in columns.values():
            raise RosterFileError(t("roster.file_duplicate_column", column=key))
        columns[index] = key
    missing = [column for column in REQUIRED_COLUMNS if column not in columns.values()]
    if missing:
        raise RosterFileError(t("roster.file_missing_columns", columns=", ".join(missing),
                                found=", ".join(columns.values()) or "-"))
    return columns


def _row(number: int, cells: list[str], columns: dict[int, str]) -> RosterRow:
    values = dict(_cells(cells, columns))
    known = {key: values.pop(key) for key in KNOWN_COLUMNS if key in values}
    return RosterRow(line=number, extra=values, **known)


def _cells(cells: list[str], columns: dict[int, str]) -> Iterator[tuple[str, str]]:
    for index, key in columns.items():
        yield key, cells[index].strip() if index < len(cells) else ""


def parse_rows(rows: Iterable[RosterRow]) -> tuple[list[RowEntry], list[RosterProblem]]:
    """Check each row on its own, and phones for duplicates across the file (no database)."""
    entries: list[RowEntry] = []
    problems: list[RosterProblem] = []
    first_line: dict[str, int] = {}
    phones: dict[str, str | None] = {}  # many rows share a mentor_phone: parse each spelling once
    for row in rows:
        reasons: list[str] = []
        entry = _parse_row(row, reasons, phones)
        if entry is not None and entry.phone in first_line:
            reasons.append(t("roster.duplicate_phone", phone=row.phone, first=first_line[entry.phone]))
        elif entry is not None:
            first_line[entry.phone] = row.line
            entries.append(entry)
        problems += [RosterProblem(row.line, reason) for reason in reasons]
    return entries, problems


def _parse_row(row: RosterRow, reasons: list[str], phones: dict[str, str | None]) -> RowEntry | None:
    """The row as an entry (None without a readable phone); each problem goes into reasons."""
    role = next((role for role in Role if role.value == row.role.lower()), None)
    if role is None:
        reasons.append(t("roster.unknown_role", role=row.role))
    name = " ".join(row.name.split())
    if not name:
        reasons.append(t("roster.empty_name"))
    phone = _phone(row.phone, "roster.bad_phone", reasons, phones)
    mentor_phone = None
    if row.mentor_phone and role is not None and role != Role.PESERTA:
        reasons.append(t("roster.mentor_phone_not_peserta", role=role.value))
    elif row.mentor_phone:
        mentor_phone = _phone(row.mentor_phone, "roster.bad_mentor_phone", reasons, phones)
    elif role == Role.PESERTA:
        reasons.append(t("roster.no_mentor_phone"))
    values = _values(row, name, role, reasons)
    return None if phone is None else RowEntry(row, role, phone, mentor_phone, values)


def _phone(raw: str, bad_key: str, reasons: list[str], phones: dict[str, str | None]) -> str | None:
    if not raw:
        reasons.append(t("roster.empty_phone"))
        return None
    if raw not in phones:
        try:
            phones[raw] = normalize_phone(raw)
        except ValueError:
            phones[raw] = None
    if phones[raw] is None:
        reasons.append(t(bad_key, phone=raw))
    return phones[raw]


def _values(row: RosterRow, name: str, role: Role | None, reasons: list[str]) -> dict[str, Any]:
    """The person attributes this row sets; lengths and choices are checked on the way."""
    values: dict[str, Any] = {"role": role.value if role else "", "name": name}
    for column in _TEXT_FIELDS:
        text = getattr(row, column)
        if text is not None:
            values[column] = ";".join(p.strip() for p in text.split(";") if p.strip()) \
                if column == "topics" else " ".join(text.split())
    if row.channel:
        _choose(values, "preferred_channel", row.channel, _CHANNELS, "roster.bad_channel", reasons)
    if row.language:
        _choose(values, "language", row.language, _LANGUAGES, "roster.bad_language", reasons)
    for attr, value in values.items():
        limit = getattr(Person.__table__.c[attr].type, "length", None)
        if isinstance(value, str) and limit and len(value) > limit:
            reasons.append(t("roster.too_long", column=COLUMN_OF.get(attr, attr), length=len(value),
                             limit=limit))
    return values


def _choose(values: dict[str, Any], attr: str, raw: str, choices: tuple[str, ...], bad_key: str,
            reasons: list[str]) -> None:
    if raw.lower() in choices:
        values[attr] = raw.lower()
    else:
        reasons.append(t(bad_key, **{COLUMN_OF.get(attr, attr): raw}))
