"""Files in the console: a ticket message's, a tugas submission's or an izin request's attachment, served to
the signed-in staff member who may see the page that lists it (never under a public URL).

The bytes come from the same MediaStore that serves media to Twilio: Telegram files through the Bot API,
Twilio media with Basic auth, the bot's own files from disk. The answer carries the stored type, a
Content-Disposition (inline only for raster images) and nosniff; nothing is cached.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.responses import Response

from bot.console.web import Page, Pages, Refused, Visit
from bot.media import media_headers
from handlers.activities.audience import oversees
from handlers.consultation.ticketing import ticket_for_staff
from handlers.kernel.messages import Attachment
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import MANAGERS, STAFF
from storage.models import LeaveRequest, Person, Role, Submission, TicketMessage

log = logging.getLogger(__name__)
KINDS = ("tiket", "tugas", "izin")


class FilePages:
    """GET /console/berkas/{kind}/{owner_id}/{index}: kind tiket (a thread message), tugas, izin."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/berkas/{kind}/{owner_id}/{index}", self.serve, STAFF)]

    async def serve(self, visit: Visit) -> Response:
        """The file, after the same check as the page listing it; 404 for what does not exist."""
        params = visit.request.path_params
        kind, owner_id, position = str(params["kind"]), record_id(str(params["owner_id"])), str(params["index"])
        index = int(position) if position.isascii() and position.isdigit() and len(position) <= 3 else None
        if kind not in KINDS or owner_id is None or index is None:
            raise Refused("web.not_found", status=404)
        attachments = await self._attachments(visit, kind, owner_id)
        data = attachments[index] if index < len(attachments) else None
        if not isinstance(data, dict):
            raise Refused("web.not_found", status=404)
        if self.pages.media is None:
            raise Refused("files.unavailable", status=503)
        try:
            found = await self.pages.media.fetch(Attachment.from_json(data))
        except (OperationalError, InterfaceError):
            raise
        except Exception:  # the channel no longer has it, or cannot be reached now
            log.exception("console file fetch failed (%s %s #%s)", kind, owner_id, index)
            raise Refused("files.unavailable", status=502) from None
        media_type, headers = media_headers(found.mime, found.filename)
        return Response(found.content, media_type=media_type, headers=headers)

    async def _attachments(self, visit: Visit, kind: str, owner_id: int) -> list[object]:
        """The owner's stored attachments, if the viewer may see the page that lists them."""
        if kind == "tiket":
            message = await visit.db.get(TicketMessage, owner_id)
            if message is None:
                raise Refused("web.not_found", status=404)
            ctx = visit.chat_context()
            if await ticket_for_staff(ctx, str(message.ticket_id)) is None:  # the ticket page's own check
                raise Refused("web.refused_ticket")
            return list(message.attachments or [])
        if visit.me.role not in MANAGERS:  # tugas and izin pages are for mentors and coordinators
            raise Refused("web.refused_role")
        owner: Submission | LeaveRequest | None = (await visit.db.get(Submission, owner_id) if kind == "tugas"
                                                   else await visit.db.get(LeaveRequest, owner_id))
        participant = await visit.db.get(Person, owner.participant_id) if owner is not None else None
        if owner is None or participant is None or participant.role != Role.PESERTA or participant.erased_at:
            raise Refused("web.not_found", status=404)
        if not oversees(visit.me, participant):  # a mentor: only their own participants
            raise Refused("web.refused_not_yours")
        return list(owner.attachments or [])
