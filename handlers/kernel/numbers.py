"""Numbers people type or buttons carry: record ids and option numbers, ASCII digits within bounds."""

from __future__ import annotations

import re

# str.isdigit() accepts "²" and "٣", and int() of twenty digits overflows a database integer: neither may
# reach a query. Ids are ASCII digits, at most the largest PostgreSQL integer.
ID = re.compile(r"#?([0-9]{1,10})")
MAX_ID = 2_147_483_647


def record_id(text: str | None) -> int | None:
    """The id in "12" or "#12"; None for anything else ("²", "٣", "99999999999999999999", "-1", "")."""
    match = ID.fullmatch((text or "").strip())
    if match is None:
        return None
    value = int(match[1])
    return value if 1 <= value <= MAX_ID else None


def option_number(text: str | None, count: int) -> int | None:
    """The option "1"…"count" chosen from a numbered list; None for anything else."""
    value = record_id(text)
    return value if value is not None and value <= count else None
