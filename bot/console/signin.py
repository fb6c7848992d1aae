"""Sign-in pages: phone → a one-time code in one's own chat → a session cookie; sign-out."""

from __future__ import annotations

import secrets

from starlette.responses import RedirectResponse, Response

from bot.console.web import (
    FORM_COOKIE,
    LANGUAGE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    TICKET_COOKIE,
    Pages,
    Refused,
    Visit,
)
from handlers.console.rules import ConsoleRules
from handlers.console.signin import check_code, end_session, request_code, start_session
from handlers.kernel.roles import COORDINATORS, STAFF
from storage.models import Person

PHONE_MAX_CHARS = 40


def home_of(person: Person) -> str:
    """Where a person lands after signing in: coordinators the overview, staff their queue."""
    if person.role in COORDINATORS:
        return PREFIX
    return f"{PREFIX}/antrian" if person.role in STAFF else PREFIX


class SignIn:
    """GET/POST /console/masuk, POST /console/masuk/kode, POST /console/keluar."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def _form_token(self, visit: Visit) -> tuple[str, bool]:
        existing = visit.request.cookies.get(FORM_COOKIE, "")
        return (existing, False) if len(existing) >= 32 else (secrets.token_urlsafe(32), True)

    def _page(self, visit: Visit, name: str, status: int = 200, **values: object) -> Response:
        token, fresh = self._form_token(visit)
        response = self.pages.render(visit, name, status=status, form_csrf=token, **values)
        if fresh:
            self.pages.cookie(response, FORM_COOKIE, token, max_age=24 * 3600)
        return response

    async def show(self, visit: Visit) -> Response:
        """The phone form (or home, when already signed in)."""
        if visit.person is not None:
            return RedirectResponse(home_of(visit.person), status_code=303)
        response = self._page(visit, "masuk.html")
        if visit.request.query_params.get("lang") == visit.lang:  # chosen on the page: kept for the next ones
            self.pages.cookie(response, LANGUAGE_COOKIE, visit.lang, max_age=365 * 24 * 3600)
        return response

    async def send_code(self, visit: Visit) -> Response:
        """Send a code if the number may sign in; the same page either way (no enumeration)."""
        phone = visit.field("phone")[:PHONE_MAX_CHARS]
        if not phone:
            return self._page(visit, "masuk.html", status=400, error=visit.text("web.phone_missing"))
        asked = await request_code(visit.db, phone, visit.now, visit.config)
        await visit.send(asked.messages)
        minutes = visit.config.rules(ConsoleRules).code_minutes
        response = self._page(visit, "kode.html", phone=phone, minutes=minutes)
        self.pages.cookie(response, TICKET_COOKIE, asked.ticket, max_age=minutes * 60)
        return response

    async def verify(self, visit: Visit) -> Response:
        """The right code starts a session; any other answer reads the same and is counted."""
        ticket = visit.request.cookies.get(TICKET_COOKIE, "")
        code = visit.field("code")[:20]
        person = await check_code(visit.db, ticket, code, visit.now, visit.config) if ticket and code else None
        if person is None:
            minutes = visit.config.rules(ConsoleRules).code_minutes
            return self._page(visit, "kode.html", status=400, minutes=minutes, error=visit.text("web.code_wrong"))
        client = visit.request.client
        token = await start_session(visit.db, person, visit.now, visit.config, address=client.host if client else "")
        response = RedirectResponse(home_of(person), status_code=303)
        hours = visit.config.rules(ConsoleRules).session_hours
        self.pages.cookie(response, SESSION_COOKIE, token, max_age=hours * 3600)
        self.pages.forget(response, TICKET_COOKIE)
        return response

    async def sign_out(self, visit: Visit) -> Response:
        """End the session now (audit-logged) and forget the cookie."""
        if visit.person is None:
            raise Refused("web.refused_role")
        await end_session(visit.db, visit.request.cookies.get(SESSION_COOKIE, ""), visit.now)
        response = RedirectResponse(f"{PREFIX}/masuk", status_code=303)
        self.pages.forget(response, SESSION_COOKIE)
        return response
