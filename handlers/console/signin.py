"""Signing in to the web console without a password: a one-time code through the bot, then a session.

The browser gets a random ticket when it asks for a code; the code row is found by the ticket's hash,
so a phone number that is not on the roster gets the same page and a ticket that matches nothing.
Every refusal of a code reads the same (wrong, expired, locked or never sent), so neither the page nor
its answers tell whether a number is registered. Sign-in and sign-out are audit-logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.console.rules import ConsoleRules
from handlers.kernel.config import Config
from handlers.kernel.consent import has_consent
from handlers.kernel.i18n import t
from handlers.kernel.messages import Outgoing
from handlers.kernel.phones import normalize_phone
from storage.models import AuditEntry, ConsoleCode, ConsoleSession, Person

CODE_DIGITS = 6
# WhatsApp outside the 24-hour window: an approved authentication template under this key in
# KLINIK_TWILIO__TEMPLATES carries the code ({{1}}) at once; without one the code is held like any message.
CODE_TEMPLATE = "console_code"


def digest(secret: str) -> str:
    """The stored form of a browser secret (ticket or session token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _code_hash(ticket: str, code: str) -> str:
    return hmac.new(ticket.encode(), code.encode(), hashlib.sha256).hexdigest()


def may_sign_in(person: Person) -> bool:
    """Only people on the roster who are active, not erased, and agreed to the current consent text."""
    return person.is_active and person.erased_at is None and has_consent(person)


async def _person(session: AsyncSession, raw: str) -> Person | None:
    try:
        phone = normalize_phone(raw)
    except ValueError:
        return None
    return (await session.execute(select(Person).where(Person.phone == phone))).scalar_one_or_none()


@dataclass(frozen=True)
class CodeRequest:
    """What asking for a code gives back: the browser's ticket, and the message to send (if any)."""

    ticket: str
    messages: list[Outgoing]


async def request_code(session: AsyncSession, raw_phone: str, now: datetime, config: Config) -> CodeRequest:
    """A ticket for the browser always; a code in the person's own chat only if they may sign in."""
    rules = config.rules(ConsoleRules)
    ticket = secrets.token_urlsafe(32)
    person = await _person(session, raw_phone)
    if person is None or not may_sign_in(person):
        return CodeRequest(ticket, [])
    sent = select(func.count()).where(ConsoleCode.person_id == person.id,
                                      ConsoleCode.created_at > now - timedelta(hours=1))
    if int((await session.execute(sent)).scalar_one()) >= rules.codes_per_hour:
        session.add(AuditEntry(at=now, actor_id=person.id, action="console_code_refused", subject=f"person:{person.id}",
                               detail={"reason": "codes_per_hour"}))
        return CodeRequest(ticket, [])
    await session.execute(update(ConsoleCode).where(ConsoleCode.person_id == person.id, ConsoleCode.used_at.is_(None))
                          .values(used_at=now))  # one live code per person: the newest
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    session.add(ConsoleCode(ticket_hash=digest(ticket), person_id=person.id, code_hash=_code_hash(ticket, code),
                            created_at=now, expires_at=now + timedelta(minutes=rules.code_minutes), wrong_tries=0))
    session.add(AuditEntry(at=now, actor_id=person.id, action="console_code_sent", subject=f"person:{person.id}",
                           detail={}))
    lang = person.language or config.language
    text = t("web.code_message", lang, code=code, minutes=rules.code_minutes, programme=config.programme_name)
    return CodeRequest(ticket, [Outgoing(text=text, person_id=person.id, template=CODE_TEMPLATE,
                                         template_vars={"1": code})])


async def check_code(session: AsyncSession, ticket: str, code: str, now: datetime, config: Config) -> Person | None:
    """The person signing in when the code is right and still valid; None for any refusal, counted."""
    rules = config.rules(ConsoleRules)
    row = (await session.execute(select(ConsoleCode).where(ConsoleCode.ticket_hash == digest(ticket))
                                 )).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    if not hmac.compare_digest(row.code_hash, _code_hash(ticket, code.strip())):
        row.wrong_tries += 1
        if row.wrong_tries >= rules.code_tries:
            row.used_at = now
            session.add(AuditEntry(at=now, actor_id=row.person_id, action="console_code_locked",
                                   subject=f"person:{row.person_id}", detail={"tries": row.wrong_tries}))
        return None
    person = await session.get(Person, row.person_id)
    row.used_at = now
    if person is None or not may_sign_in(person):
        return None
    return person


async def start_session(session: AsyncSession, person: Person, now: datetime, config: Config, *,
                        address: str = "") -> str:
    """A new signed-in session; the token for the cookie (only its hash is stored). Audit-logged."""
    token = secrets.token_urlsafe(32)
    hours = config.rules(ConsoleRules).session_hours
    session.add(ConsoleSession(token_hash=digest(token), person_id=person.id, csrf=secrets.token_urlsafe(32),
                               created_at=now, expires_at=now + timedelta(hours=hours)))
    session.add(AuditEntry(at=now, actor_id=person.id, action="console_sign_in", subject=f"person:{person.id}",
                           detail={"address": address[:64]}))
    return token


async def find_session(session: AsyncSession, token: str, now: datetime) -> tuple[ConsoleSession, Person] | None:
    """The live session of a cookie token and its person, if they may still sign in."""
    row = await session.get(ConsoleSession, digest(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    person = await session.get(Person, row.person_id)
    if person is None or not may_sign_in(person):
        return None
    return row, person


async def end_session(session: AsyncSession, token: str, now: datetime) -> None:
    """Sign out: the session ends at once. Audit-logged."""
    row = await session.get(ConsoleSession, digest(token))
    if row is None or row.ended_at is not None:
        return
    row.ended_at = now
    session.add(AuditEntry(at=now, actor_id=row.person_id, action="console_sign_out", subject=f"person:{row.person_id}",
                           detail={}))
