"""`klinik pendamping pindah --dari PHONE --ke PHONE [--peserta …] [--berkas map.csv] [--ya]`: mentor changes."""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.people import in_transaction
from bot.commands.texts import help_text
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.outbox import enqueue_all
from handlers.reports.mentor_change import (
    MappingRow,
    Plan,
    apply_moves,
    mapping_rows,
    plan_mapping,
    plan_moves,
    preview,
    read_mapping,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik pendamping pindah`."""
    mentors = subparsers.add_parser("pendamping", help=help_text("mtr.cli_help_pendamping"))
    sub = mentors.add_subparsers(dest="pendamping_command", required=True)
    move = sub.add_parser("pindah", help=help_text("mtr.cli_help_pindah"))
    move.add_argument("--dari", help=help_text("mtr.cli_help_dari"))
    move.add_argument("--ke", help=help_text("mtr.cli_help_ke"))
    move.add_argument("--peserta", help=help_text("mtr.cli_help_peserta"))
    move.add_argument("--berkas", type=Path, help=help_text("mtr.cli_help_berkas"))
    move.add_argument("--ya", action="store_true", help=help_text("mtr.cli_help_ya"))
    move.set_defaults(func=cmd_move)


def read_file(path: Path) -> list[MappingRow]:
    """A mapping file: the first sheet of an .xlsx, else CSV text."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            return mapping_rows(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    return read_mapping(path.read_text(encoding="utf-8-sig"))


def cmd_move(args: argparse.Namespace) -> int:
    """Show who would move where; with --ya move them and queue the messages (nothing moves if any row is bad)."""
    try:
        mapping = read_file(args.berkas) if args.berkas else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, zipfile.BadZipFile):
        print(t("mtr.cli_unreadable", os.environ.get("KLINIK_LANGUAGE", "id"), file=str(args.berkas)),
              file=sys.stderr)
        return 1
    if mapping is None and not (args.dari and args.ke):
        print(help_text("mtr.cli_usage"), file=sys.stderr)
        return 2

    async def work(session: AsyncSession, config: Config) -> tuple[int, str]:
        language = config.language
        if mapping is not None:
            plan: Plan = await plan_mapping(session, mapping)
        else:
            phones = [phone.strip() for phone in (args.peserta or "").split(",") if phone.strip()]
            plan = await plan_moves(session, args.dari, args.ke, phones)
        lines = preview(plan, language)
        if plan.problems or not plan.moves:
            return 1, "\n".join(filter(None, [lines, t("mtr.cli_refused", language)]))
        if not args.ya:
            return 0, "\n".join([lines, t("mtr.cli_preview", language, count=len(plan.moves))])
        now = datetime.now(UTC)
        messages = await apply_moves(session, plan.moves, now, config, actor_id=None, source="cli")
        await enqueue_all(session, messages, now, config)
        return 0, "\n".join([lines, t("mtr.cli_moved", language, count=len(plan.moves), messages=len(messages))])

    code, text = in_transaction(work)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code
