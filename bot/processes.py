"""Process roles of `klinik run`: one process does everything, or several share the work on PostgreSQL.

web        the HTTP server: Telegram and Twilio webhooks, /media, /healthz
worker     the inbox processor, outbox delivery, and Telegram polling (under its lease, in one process)
scheduler  the scheduled jobs (under the scheduler lease: each job runs in one process at a time)

Several processes on one SQLite file would queue behind its single writer and could not see each
other's locks (no SKIP LOCKED), so `--only` is refused there: SQLite is the one-process engine.
"""

from __future__ import annotations

from enum import StrEnum

from handlers.kernel.i18n import t


class ProcessRole(StrEnum):
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


ALL_ROLES: frozenset[ProcessRole] = frozenset(ProcessRole)

# Which role each background loop belongs to (the names their pulses carry in /healthz and `klinik status`).
ROLE_OF_LOOP = {"http": ProcessRole.WEB, "inbox": ProcessRole.WORKER, "delivery": ProcessRole.WORKER,
                "telegram": ProcessRole.WORKER, "scheduler": ProcessRole.SCHEDULER}


class RolesError(ValueError):
    """A --only value that names no role, already worded for the operator."""


def parse_roles(text: str, language: str = "id") -> frozenset[ProcessRole]:
    """"web", "worker,scheduler" (spaces and case ignored) → the roles; an unknown or empty name raises RolesError."""
    names = [name.strip().lower() for name in text.split(",")]
    unknown = [name for name in names if name not in ProcessRole.__members__.values()]
    if unknown or not any(names):
        raise RolesError(t("cli.roles_unknown", language, given=text, known=", ".join(ProcessRole)))
    return frozenset(ProcessRole(name) for name in names)


def roles_text(roles: frozenset[ProcessRole]) -> str:
    """"web, worker, scheduler" in that fixed order."""
    return ", ".join(role.value for role in ProcessRole if role in roles)


def refusal(roles: frozenset[ProcessRole], database_url: str, language: str = "id") -> str | None:
    """Why these roles cannot run on this database (None: they can). Splitting needs PostgreSQL."""
    if roles == ALL_ROLES or database_url.startswith("postgresql"):
        return None
    return t("cli.roles_need_postgres", language, roles=roles_text(roles).replace(", ", ","))  # as typed
