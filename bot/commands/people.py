"""`klinik orang nonaktif|aktif|lepas PHONE` and `klinik pdp export|erase PHONE`: people and their data rights."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.texts import help_text
from bot.settings import load_settings
from handlers import features  # noqa: F401  (registers what features do when someone leaves)
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.outbox import enqueue_all
from handlers.people.membership import (
    ROLE_KEYS,
    deactivate_person,
    person_by_phone,
    reactivate_person,
)
from handlers.people.onboarding import unlink_telegram
from handlers.privacy.erasure import erase_person
from handlers.privacy.export import as_json, personal_data
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Person

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `klinik orang` and `klinik pdp`."""
    people = subparsers.add_parser("orang", help=help_text("people.cli_help_orang"))
    sub = people.add_subparsers(dest="orang_command", required=True)
    for name, help_key, func in (("nonaktif", "people.cli_help_deactivate", cmd_deactivate),
                                 ("aktif", "people.cli_help_reactivate", cmd_reactivate),
                                 ("lepas", "people.cli_help_unlink", cmd_unlink)):
        command = sub.add_parser(name, help=help_text(help_key))
        command.add_argument("phone", help=help_text("people.cli_help_phone"))
        command.set_defaults(func=func)
    pdp = subparsers.add_parser("pdp", help=help_text("pdp.cli_help_pdp"))
    rights = pdp.add_subparsers(dest="pdp_command", required=True)
    export = rights.add_parser("export", help=help_text("pdp.cli_help_export"))
    export.add_argument("phone", help=help_text("pdp.cli_help_phone"))
    export.add_argument("--out", type=Path, help=help_text("pdp.cli_help_out"))
    export.set_defaults(func=cmd_export)
    erase = rights.add_parser("erase", help=help_text("pdp.cli_help_erase"))
    erase.add_argument("phone", help=help_text("pdp.cli_help_phone"))
    erase.add_argument("--yes", action="store_true", help=help_text("pdp.cli_help_yes"))
    erase.set_defaults(func=cmd_erase)


def in_transaction(work: Callable[[AsyncSession, Config], Awaitable[T]]) -> T:
    """Run work in one transaction on the configured database."""
    settings = load_settings()

    async def main() -> T:
        await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session, settings.handler_config())
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _role(person: Person, language: str) -> str:
    return t(ROLE_KEYS[person.role], language)


def _on_person(phone: str, act: Callable[[AsyncSession, Person, Config, datetime], Awaitable[tuple[bool, str]]],
               unknown_key: str = "people.cli_unknown") -> int:
    """Find the person by phone and act in one transaction; print the outcome; the exit code."""
    async def work(session: AsyncSession, config: Config) -> tuple[bool, str]:
        person = await person_by_phone(session, phone)
        if person is None or person.erased_at is not None:
            return False, t(unknown_key, config.language, phone=phone)
        return await act(session, person, config, datetime.now(UTC))

    done, text = in_transaction(work)
    print(text, file=sys.stdout if done else sys.stderr)
    return 0 if done else 1


def cmd_deactivate(args: argparse.Namespace) -> int:
    """Deactivate someone; their open questions are handed on and the messages queued."""
    async def act(session: AsyncSession, person: Person, config: Config, now: datetime) -> tuple[bool, str]:
        language = config.language
        if not person.is_active:
            return True, t("people.already_inactive", language, name=person.name, role=_role(person, language),
                           phone=person.phone)
        messages = await deactivate_person(session, person, now, config, actor_id=None, source="cli")
        await enqueue_all(session, messages, now, config)
        return True, t("people.cli_deactivated", language, name=person.name, role=_role(person, language),
                       messages=len(messages))

    return _on_person(args.phone, act)


def cmd_reactivate(args: argparse.Namespace) -> int:
    """Reactivate someone who left."""
    async def act(session: AsyncSession, person: Person, config: Config, now: datetime) -> tuple[bool, str]:
        language = config.language
        done = reactivate_person(session, person, now, actor_id=None, source="cli")
        return done, t("people.cli_reactivated" if done else "people.cli_not_reactivated", language,
                       name=person.name, role=_role(person, language))

    return _on_person(args.phone, act)


def cmd_unlink(args: argparse.Namespace) -> int:
    """Forget someone's Telegram account: they link again by sharing their own number."""
    async def act(session: AsyncSession, person: Person, config: Config, now: datetime) -> tuple[bool, str]:
        account = await unlink_telegram(session, person, now, actor_id=None, source="cli")
        if account is None:
            return False, t("people.cli_not_linked", config.language, name=person.name)
        return True, t("people.cli_unlinked", config.language, name=person.name, account=account)

    return _on_person(args.phone, act)


def cmd_export(args: argparse.Namespace) -> int:
    """Write everything held about someone to a JSON file for the Dinas to hand over."""
    async def act(session: AsyncSession, person: Person, config: Config, now: datetime) -> tuple[bool, str]:
        out: Path = args.out or Path(f"data-{person.phone.lstrip('+')}.json")
        content = as_json(await personal_data(session, person, config))
        await asyncio.to_thread(out.write_bytes, content)
        return True, t("pdp.cli_exported", config.language, name=person.name, path=out)

    return _on_person(args.phone, act, "pdp.cli_unknown")


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase someone's personal data after the coordinator confirms (or --yes)."""
    async def act(session: AsyncSession, person: Person, config: Config, now: datetime) -> tuple[bool, str]:
        language = config.language
        if not args.yes:
            answer = await asyncio.to_thread(input, t("pdp.cli_confirm", language, name=person.name,
                                                      phone=person.phone))
            if answer.strip().upper() != t("pdp.cli_confirm_word", language):
                return False, t("pdp.cli_not_erased", language)
        erasure = await erase_person(session, person, now, config, actor_id=None, source="cli")
        await enqueue_all(session, erasure.messages, now, config)
        counts = ", ".join(f"{name} {count}" for name, count in sorted(erasure.counts.items())) or "-"
        return True, t("pdp.cli_erased", language, counts=counts, messages=len(erasure.messages))

    return _on_person(args.phone, act, "pdp.cli_unknown")
