"""`klinik siaran kirim|list|batal|laporan`: announcements from the command line (the Dinas's own text file)."""

from __future__ import annotations

import argparse
import mimetypes
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.people import in_transaction
from bot.commands.texts import help_text
from handlers.broadcasts.audience import (
    Scope,
    find_audience,
    parse_scope,
    scope_label,
    skipped_text,
)
from handlers.broadcasts.report import STATUS_KEYS, report_text, tally
from handlers.broadcasts.sending import cancel, create, outcome, read_moment
from handlers.kernel.config import Config
from handlers.kernel.dates import format_moment, format_stamp
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment
from handlers.kernel.numbers import record_id
from handlers.reports.digest import save_media
from storage.models import Broadcast, BroadcastStatus, Person

LIST_SIZE = 20


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik siaran` and its subcommands."""
    parser = subparsers.add_parser("siaran", help=help_text("cli.help_siaran"))
    sub = parser.add_subparsers(dest="siaran_command", required=True)
    send = sub.add_parser("kirim", help=help_text("cli.help_siaran_kirim"))
    send.add_argument("--ke", required=True, help=help_text("cli.help_siaran_ke"))
    send.add_argument("--file", "--berkas", dest="file", type=Path, required=True, help=help_text("cli.help_siaran_file"))
    send.add_argument("--media", type=Path, help=help_text("cli.help_siaran_media"))
    send.add_argument("--jadwal", help=help_text("cli.help_siaran_jadwal"))
    send.add_argument("--coba", action="store_true", help=help_text("cli.help_siaran_coba"))
    send.set_defaults(func=cmd_send)
    sub.add_parser("list", aliases=["daftar"], help=help_text("cli.help_siaran_list")).set_defaults(func=cmd_list)
    for name, func, key in (("batal", cmd_cancel, "cli.help_siaran_batal"),
                            ("laporan", cmd_report, "cli.help_siaran_laporan")):
        one = sub.add_parser(name, help=help_text(key))
        one.add_argument("nomor", help=help_text("cli.help_siaran_nomor"))
        one.set_defaults(func=func)


def cmd_send(args: argparse.Namespace) -> int:
    """Send (or schedule) the text file to the scope; --coba only counts the recipients."""
    language = "id"
    scope = parse_scope(args.ke)
    try:
        text = args.file.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    problem = (t("bc.cli_bad_scope", language, scope=args.ke) if scope is None
               else t("bc.cli_no_text", language, path=args.file) if not text
               else t("bc.cli_no_media", language, path=args.media) if args.media and not args.media.is_file()
               else None)
    if problem is not None or scope is None:
        print(problem, file=sys.stderr)
        return 2

    async def work(session: AsyncSession, config: Config) -> tuple[int, str]:
        lang = config.language
        now = datetime.now(UTC)
        wanted = read_moment(args.jadwal, now, config.timezone) if args.jadwal else None
        if args.jadwal and (wanted is None or wanted <= now):
            return 2, t("bc.cli_bad_time", lang, text=args.jadwal)
        label = scope_label(scope, lang, own_group=False)
        audience = await find_audience(session, scope, None, config)
        skipped = skipped_text(audience.skipped, lang)
        if not audience.recipients:
            return 1, t("bc.cli_nobody", lang, scope=label,
                        skipped=t("bc.preview_skipped", lang, reasons=skipped) if skipped else "")
        if args.coba:
            return 0, t("bc.cli_preview", lang, scope=label, count=len(audience.recipients),
                        skipped=t("bc.preview_skipped", lang, reasons=skipped) if skipped else "")
        attachments = [await _media(session, args.media, now, config)] if args.media else []
        broadcast, sent = await create(session, scope, text, attachments, sender=None, wanted=wanted, now=now,
                                       config=config, source="cli")
        return 0, t(outcome(broadcast, sent, wanted, now), lang, number=broadcast.id,
                    when=format_moment(broadcast.send_at, config.timezone, lang),
                    count=len(sent.recipients) if sent else 0)

    return _print(*in_transaction(work))


async def _media(session: AsyncSession, path: Path, now: datetime, config: Config) -> Attachment:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return await save_media(session, kind="photo" if mime.startswith("image/") else "document", suffix=path.suffix,
                            mime=mime, name=path.name, now=now, config=config,
                            write=lambda target: _copy(path, target))


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def cmd_list(args: argparse.Namespace) -> int:
    """The latest broadcasts, newest first."""
    async def work(session: AsyncSession, config: Config) -> tuple[int, str]:
        lang = config.language
        found = (await session.execute(select(Broadcast).order_by(Broadcast.id.desc()).limit(LIST_SIZE))).scalars()
        lines = [t("bc.cli_line", lang, number=b.id, status=t(STATUS_KEYS[BroadcastStatus(b.status)], lang),
                   when=format_stamp(b.send_at, config.timezone, lang), count=b.recipients,
                   scope=scope_label(_scope_of(b), lang, own_group=False)) for b in found]
        return 0, "\n".join(lines) or t("bc.list_empty", lang)
    return _print(*in_transaction(work))


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a scheduled broadcast, or stop the messages of one being sent."""
    async def work(session: AsyncSession, config: Config) -> tuple[int, str]:
        lang = config.language
        broadcast = await _broadcast(session, args.nomor)
        if broadcast is None:
            return 1, t("bc.not_found", lang, number=args.nomor)
        stopped = await cancel(session, broadcast, datetime.now(UTC))
        if stopped is None:
            return 1, t("bc.cannot_cancel", lang, number=broadcast.id)
        return 0, t("bc.cancelled", lang, number=broadcast.id, count=stopped)
    return _print(*in_transaction(work))


def cmd_report(args: argparse.Namespace) -> int:
    """Print one broadcast's delivery report as it stands."""
    async def work(session: AsyncSession, config: Config) -> tuple[int, str]:
        broadcast = await _broadcast(session, args.nomor)
        if broadcast is None:
            return 1, t("bc.not_found", config.language, number=args.nomor)
        sender = await session.get(Person, broadcast.sender_id) if broadcast.sender_id else None
        return 0, report_text(broadcast, await tally(session, broadcast), sender, config, config.language)
    return _print(*in_transaction(work))


def _scope_of(broadcast: Broadcast) -> Scope:
    return Scope(broadcast.scope, broadcast.scope_value)


async def _broadcast(session: AsyncSession, number: str) -> Broadcast | None:
    found = record_id(number.lstrip("#"))
    return await session.get(Broadcast, found, with_for_update=True) if found is not None else None


def _print(code: int, text: str) -> int:
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code
