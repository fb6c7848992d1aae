"""`klinik roster import|template|unknown`: the coordinator's roster tools."""

from __future__ import annotations

import argparse
import asyncio
import csv
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.texts import help_text
from bot.settings import Settings, load_settings
from handlers import features  # noqa: F401  (registers what features do when someone leaves)
from handlers.kernel.config import Config
from handlers.kernel.dates import format_stamp
from handlers.kernel.i18n import t
from handlers.kernel.outbox import enqueue_all
from handlers.kernel.phones import mask_phone
from handlers.people.membership import (
    ROLE_KEYS,
    RecycledNumber,
    absent_from_roster,
    deactivate_person,
    release_recycled_numbers,
)
from handlers.people.roster import (
    ImportSummary,
    RosterFileError,
    RosterInvalid,
    RosterProblem,
    RosterRow,
    apply_roster,
    list_unknown_contacts,
    read_roster,
)
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Person

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_CSV = TEMPLATES / "roster_template.csv"
TEMPLATE_XLSX = TEMPLATES / "roster_template.xlsx"
LARGE_FILE_ROWS = 1000  # below this an import takes a moment: no progress bar
MAX_LINES_SHOWN = 200


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik roster` and its subcommands."""
    roster = subparsers.add_parser("roster", help=help_text("cli.help_roster"))
    sub = roster.add_subparsers(dest="roster_command", required=True)
    do_import = sub.add_parser("import", help=help_text("cli.help_roster_import"))
    do_import.add_argument("file", type=Path, help=help_text("cli.help_roster_file"))
    do_import.add_argument("--dry-run", action="store_true", help=help_text("cli.help_roster_dry_run"))
    do_import.add_argument("--izinkan-ganti-nama", "--allow-renames", dest="allow_renames", action="store_true",
                           help=help_text("cli.help_roster_allow_renames"))
    do_import.add_argument("--nonaktifkan-yang-hilang", "--deactivate-missing", dest="deactivate_missing",
                           action="store_true", help=help_text("people.cli_help_deactivate_missing"))
    do_import.set_defaults(func=cmd_import)
    template = sub.add_parser("template", help=help_text("cli.help_roster_template"))
    template.add_argument("--xlsx", action="store_true", help=help_text("cli.help_roster_xlsx"))
    template.add_argument("--out", type=Path, help=help_text("cli.help_roster_out"))
    template.set_defaults(func=cmd_template)
    unknown = sub.add_parser("unknown", help=help_text("cli.help_roster_unknown"))
    unknown.set_defaults(func=cmd_unknown)


def cmd_import(args: argparse.Namespace) -> int:
    """Check the whole file, then import it in one transaction; exit 1 on any problem."""
    settings = load_settings()
    try:
        rows = read_roster(args.file)
    except RosterFileError as error:
        print(error, file=sys.stderr)  # the roster module's text
        return 1
    return asyncio.run(import_rows(settings, rows, dry_run=args.dry_run, source=args.file.name,
                                   allow_renames=args.allow_renames, deactivate_missing=args.deactivate_missing))


async def import_rows(settings: Settings, rows: list[RosterRow], *, dry_run: bool, source: str,
                      allow_renames: bool = False, deactivate_missing: bool = False) -> int:
    """Apply the rows to the configured database (rolled back on a dry run); the exit code."""
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    bar = TextProgress(len(rows)) if len(rows) >= LARGE_FILE_ROWS else None
    now = datetime.now(UTC)
    try:
        async with make_sessionmaker(engine)() as session:
            recycled = await release_recycled_numbers(session, rows, now)
            summary = await apply_roster(session, rows, now, bar.update if bar else None,
                                         source=source, allow_renames=allow_renames)
            absent = await absent_from_roster(session, rows)
            if deactivate_missing:
                await deactivate_absent(session, absent, now, settings.handler_config())
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    except RosterInvalid as invalid:
        print_problems(invalid.problems, settings.language)
        return 1
    finally:
        await engine.dispose()
    print_summary(summary, len(rows), settings.language, dry_run=dry_run)
    print_leavers(recycled, absent, settings.language, deactivated=deactivate_missing)
    return 0


async def deactivate_absent(session: AsyncSession, absent: list[Person], now: datetime, config: Config) -> None:
    """Deactivate everyone missing from the file; their open questions are handed on (messages queued)."""
    messages = []
    for person in absent:
        messages += await deactivate_person(session, person, now, config, actor_id=None, source="roster")
    await enqueue_all(session, messages, now, config)


def print_leavers(recycled: list[RecycledNumber], absent: list[Person], language: str, *, deactivated: bool) -> None:
    """Numbers given to someone new, then who is not in the file (and whether they were deactivated)."""
    for number in recycled[:MAX_LINES_SHOWN]:
        print(t("people.cli_recycled", language, line=number.line, phone=number.phone, name=number.new_name))
    if not absent:
        return
    print(t("people.cli_absent_header", language, count=len(absent)))
    for person in absent[:MAX_LINES_SHOWN]:
        print(t("people.cli_absent_row", language, name=person.name, role=t(ROLE_KEYS[person.role], language),
                phone=person.phone))
    if len(absent) > MAX_LINES_SHOWN:
        print(t("roster.cli_more_updated", language, count=len(absent) - MAX_LINES_SHOWN))
    print(t("people.cli_absent_deactivated" if deactivated else "people.cli_absent_hint", language,
            count=len(absent)))


def print_problems(problems: list[RosterProblem], language: str) -> None:
    """Each problem on its own line on stderr ("baris 7: …"), then what to do."""
    stream = sys.stderr
    for problem in problems[:MAX_LINES_SHOWN]:
        print(problem, file=stream)  # the roster module's text
    if len(problems) > MAX_LINES_SHOWN:
        print(t("roster.cli_more", language, count=len(problems) - MAX_LINES_SHOWN), file=stream)
    print(t("roster.cli_problems", language, count=len(problems)), file=stream)
    if any(problem.is_rename for problem in problems):
        print(t("roster.cli_rename_hint", language), file=stream)


def summary_text(summary: ImportSummary, language: str) -> str:
    """"dibuat 3, diperbarui 1, tidak berubah 20"."""
    return t("roster.summary", language, created=summary.created, updated=summary.updated,
             unchanged=summary.unchanged)


def print_summary(summary: ImportSummary, rows: int, language: str, *, dry_run: bool) -> None:
    """Counts, allowed renames side by side, then who was updated and in which columns."""
    print(t("roster.cli_dry_run" if dry_run else "roster.cli_done", language, rows=rows,
            summary=summary_text(summary, language)))
    if summary.renames:
        print(t("roster.cli_renames", language))
    for rename in summary.renames[:MAX_LINES_SHOWN]:
        print(f"  {RosterProblem(rename.line, str(rename))}")  # the roster module's text
    if summary.changes:
        print(t("roster.cli_updated", language))
    for change in summary.changes[:MAX_LINES_SHOWN]:
        name = t("roster.cli_renamed", language, old=change.old_name, new=change.name) if change.old_name else change.name
        print(t("roster.cli_updated_row", language, line=change.line, name=name, fields=", ".join(change.columns)))
    if len(summary.changes) > MAX_LINES_SHOWN:
        print(t("roster.cli_more_updated", language, count=len(summary.changes) - MAX_LINES_SHOWN))


class TextProgress:
    """A one-line progress bar on stderr, redrawn when the percentage changes."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.stream, self.width = max(total, 1), stream or sys.stderr, width
        self._shown = -1

    def update(self, done: int) -> None:
        """Show that `done` rows of the total are stored."""
        percent = done * 100 // self.total
        if percent == self._shown:
            return
        self._shown = percent
        filled = self.width * done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= self.total else ""
        self.stream.write(f"\r[{bar}] {percent:3d}% {done}/{self.total}{end}")
        self.stream.flush()


def cmd_template(args: argparse.Namespace) -> int:
    """Write the roster template (CSV, or XLSX with --xlsx or an .xlsx --out) without overwriting."""
    language = load_settings().language
    as_xlsx = args.xlsx or (args.out is not None and args.out.suffix.lower() == ".xlsx")
    out: Path = args.out or Path("roster_template.xlsx" if as_xlsx else "roster_template.csv")
    if out.exists():
        print(t("roster.cli_exists", language, path=out), file=sys.stderr)
        return 1
    if as_xlsx:
        write_template_xlsx(out)
    else:
        shutil.copyfile(TEMPLATE_CSV, out)
    print(t("roster.cli_template_written", language, path=out))
    return 0


def write_template_xlsx(out: Path) -> None:
    """The CSV template as a workbook; phone columns are text so Excel keeps the leading 0.

    The committed bot/templates/roster_template.xlsx is this function's output
    (`klinik roster template --xlsx --out bot/templates/roster_template.xlsx` after deleting it).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    with TEMPLATE_CSV.open(encoding="utf-8", newline="") as source:
        lines = list(csv.reader(source))
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "roster"
    for line in lines:
        sheet.append(line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        column = sheet.column_dimensions[cell.column_letter]
        column.width = max(14, len(str(cell.value)) + 4)
        if str(cell.value).endswith("phone"):
            column.number_format = "@"
    sheet.freeze_panes = "A2"
    workbook.save(out)


def cmd_unknown(_args: argparse.Namespace) -> int:
    """List unknown numbers for the coordinator: channel, masked number, messages, last seen."""
    settings = load_settings()
    for line in asyncio.run(unknown_lines(settings)):
        print(line)
    return 0


async def unknown_lines(settings: Settings) -> list[str]:
    """The lines `klinik roster unknown` prints."""
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            contacts = await list_unknown_contacts(session)
    finally:
        await engine.dispose()
    language = settings.language
    if not contacts:
        return [t("roster.cli_no_unknown", language)]
    zone = ZoneInfo(settings.timezone)
    return [t("roster.cli_unknown_header", language)] + [
        t("roster.cli_unknown_row", language, channel=c.channel,
          number=mask_phone(c.phone) if c.phone else t("roster.cli_no_phone", language), count=c.message_count,
          last_seen=format_stamp(c.last_seen_at, zone, language), name=c.display_name)
        for c in contacts]

