"""The audit log for coordinators: newest first, filtered by action, one page at a time."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import aliased
from starlette.responses import Response

from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Visit
from handlers.kernel.dates import format_stamp
from handlers.kernel.roles import COORDINATORS
from storage.models import AuditEntry, Person

ACTIONS_OFFERED = 200  # distinct actions in the filter
DETAIL_CHARS = 300


class AuditPages:
    """GET /console/audit."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/audit", self.audit, COORDINATORS)]

    async def audit(self, visit: Visit) -> Response:
        """Who did what, when: the rows every feature writes (sign-ins, roster, mentor changes, data rights…)."""
        action = visit.request.query_params.get("aksi", "")[:50]
        where: list[ColumnElement[bool]] = [AuditEntry.action == action] if action else []
        total = int((await visit.db.execute(select(func.count()).select_from(AuditEntry).where(*where))).scalar_one())
        paging = Paging(page_number(visit), total)
        actor = aliased(Person)
        query = (select(AuditEntry, actor.name).outerjoin(actor, actor.id == AuditEntry.actor_id).where(*where)
                 .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(paging.size).offset(paging.offset))
        rows = [(entry, name or "-", self._detail(entry)) for entry, name in await visit.db.execute(query)]
        actions = list((await visit.db.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)
                                               .limit(ACTIONS_OFFERED))).scalars())
        return self.pages.render(
            visit, "audit.html", rows=rows, total=total, actions=actions, action=action, page=paging.page,
            pages=paging.pages, stamp=lambda moment: format_stamp(moment, visit.config.timezone, visit.lang),
            link=lambda page: f"{PREFIX}/audit?" + urlencode({"aksi": action, "halaman": page}))

    @staticmethod
    def _detail(entry: AuditEntry) -> str:
        text = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True, default=str) if entry.detail else ""
        return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
