"""The console's pages of programme work: mentors, sessions, tugas, reports, exports, FAQ, izin, cuti, audit log,
the files those pages list, and the roster's people and unknown numbers."""

from __future__ import annotations

from bot.console.activities import ActivityPages
from bot.console.audit import AuditPages
from bot.console.cover import CoverPages
from bot.console.files import FilePages
from bot.console.members import MemberPages
from bot.console.mentors import MentorPages, Renew
from bot.console.reports import Cached, ReportPages
from bot.console.reviews import ReviewPages
from bot.console.web import Page, Pages


def desk_table(pages: Pages, renew: Renew, cached: Cached) -> list[tuple[str, str, Page, frozenset[str] | None]]:
    """(method, path, page, roles) of each of these pages, for the console's route table (`renew`: the
    console's refresh of stored figures; `cached`: its figures kept a minute)."""
    return [*MentorPages(pages, renew).table(), *ActivityPages(pages).table(), *ReportPages(pages, cached).table(),
            *ReviewPages(pages).table(), *CoverPages(pages).table(), *AuditPages(pages).table(),
            *FilePages(pages).table(), *MemberPages(pages).table()]
