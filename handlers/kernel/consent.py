"""Consent under UU PDP (Law 27/2022): which text was agreed to, when, on which channel, and whether it still holds.

The version of the consent text is derived from the text itself (every language of
`core.consent_question`), so changing the wording asks everyone again: a consent given to another
version no longer counts for the conversation, and the person is asked once more when they write.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import catalog
from storage.models import AuditEntry, ConsentRecord, Person

AGREED, DECLINED, WITHDRAWN = "agreed", "declined", "withdrawn"


def consent_version() -> str:
    """A short fingerprint of the consent text in every language ("v-3f9c0a1b2d")."""
    texts = catalog()
    return _fingerprint("\n".join(texts[language].get("core.consent_question", "") for language in sorted(texts)))


@lru_cache(maxsize=8)
def _fingerprint(basis: str) -> str:
    return "v-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:10]


def has_consent(person: Person) -> bool:
    """Agreed to the current text (a consent stored without a version, e.g. by hand, counts as current)."""
    return person.consent_given is True and person.consent_version in (None, consent_version())


def consent_outdated(person: Person) -> bool:
    """Agreed once, but to a text that has changed since."""
    return person.consent_given is True and not has_consent(person)


def record_consent(session: AsyncSession, person: Person, *, given: bool, action: str, channel: str,
                   now: datetime, actor_id: int | None = None) -> None:
    """Store a decision on the person, in the consent history, and in the audit log."""
    version = consent_version()
    person.consent_given = given
    person.consent_at = now
    person.consent_version = version
    person.consent_channel = channel[:16]
    session.add(ConsentRecord(person_id=person.id, at=now, given=given, action=action, version=version,
                              channel=channel[:16]))
    session.add(AuditEntry(at=now, actor_id=actor_id if actor_id is not None else person.id,
                           action="consent" if action != WITHDRAWN else "consent_withdrawn",
                           subject=f"person:{person.id}",
                           detail={"given": given, "version": version, "channel": channel}))
