"""Server-side pages of a list: `?halaman=N`, a fixed size, LIMIT/OFFSET for the query."""

from __future__ import annotations

from dataclasses import dataclass

from bot.console.web import Visit
from handlers.kernel.numbers import record_id

PAGE_SIZE = 50
LAST_PAGE = 100_000  # a typed ?halaman=99999999 is the same empty last page, not a huge OFFSET


def page_number(visit: Visit) -> int:
    """The page asked for (1 when missing or not a number)."""
    return min(record_id(visit.request.query_params.get("halaman", "1")[:12]) or 1, LAST_PAGE)


@dataclass(frozen=True)
class Paging:
    """Which slice of `total` rows one page shows."""

    page: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size
