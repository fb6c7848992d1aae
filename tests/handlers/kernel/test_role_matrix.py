"""Every command and every button, tried by every role, generated from the registries.

A new command or button is covered without editing this file. Each cell asserts one of:
refused ("not for your role", and nothing changes), or allowed but unable to touch another
person's ticket (ticket #1 belongs to another participant and another mentor). Inactive
people are unknown numbers and people without consent are asked for it, whatever they send.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import handlers.router  # noqa: F401  (registers every command and button)
from handlers.kernel.i18n import t
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.kernel.registry import ACTIONS, COMMANDS, Command
from storage.models import AuditEntry, Person, Role, Ticket, TicketMessage
from tests.support.driver import Driver

pytestmark = pytest.mark.sqlite_only  # authorisation does not depend on the database; keep the suite short

OTHER_QUESTION = "Rahasia usaha saya: resep sambal nenek"
ROLES = (Role.PESERTA, Role.PENDAMPING, Role.NARASUMBER, Role.KOORDINATOR)
COMMAND_ENTRIES = sorted({id(c): c for c in COMMANDS.values()}.values(), key=lambda c: c.name)
SAMPLE_ARGS = {  # the command's own argument shape, aimed at the other participant's ticket #1
    r"#?\d+": "1", r"#?\d+(\s+.+)?": "1 coba", r"#?\d+\s+.+": "1 pemasaran", r".+": "1",
    r"\d{3,8}": "1234", r"bulanan": "bulanan", r"(saya|sy|aku|ku|pribadi)": "saya",
}


def command_text(entry: Command) -> str:
    """A slash command (so it is never read as a question) with arguments in its own shape."""
    args = SAMPLE_ARGS.get(entry.args or "", "+6281200000002") if entry.args else ""
    return f"/{entry.name} {args}".strip()


async def world(driver: Driver) -> dict[Role, Person]:
    """One person per role; ticket #1 belongs to another participant and another mentor."""
    other_mentor = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lain", phone="+6281100000009")
    other = await driver.add_person(role=Role.PESERTA, name="Tono Lain", phone="+6281200000002",
                                    mentor_id=other_mentor.id)
    await driver.say(other, OTHER_QUESTION)
    await driver.press(other, "tp:lainnya")
    mentor = await driver.add_person(role=Role.PENDAMPING, name="Budi", phone="+6281100000001")
    return {
        Role.PESERTA: await driver.add_person(role=Role.PESERTA, name="Sari", phone="+6281200000001",
                                              mentor_id=mentor.id),
        Role.PENDAMPING: mentor,
        Role.NARASUMBER: await driver.add_person(role=Role.NARASUMBER, name="Hasan", phone="+6281100000101",
                                                 topics="legalitas"),
        Role.KOORDINATOR: await driver.add_person(role=Role.KOORDINATOR, name="Rina", phone="+6281300000001"),
    }


async def snapshot(driver: Driver) -> dict[str, Any]:
    """What a refused or foreign request must leave as it was."""
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, 1)
        assert ticket is not None
        thread = (await session.execute(select(TicketMessage.kind, TicketMessage.text)
                                        .where(TicketMessage.ticket_id == 1))).all()
        people = (await session.execute(select(Person.id, Person.role, Person.is_active, Person.consent_given,
                                               Person.mentor_id).order_by(Person.id))).all()
        audits = (await session.execute(select(AuditEntry.action))).scalars().all()
    return {"ticket": (ticket.status, ticket.mentor_id, ticket.expert_id, ticket.participant_id),
            "thread": sorted(map(tuple, thread)), "people": list(map(tuple, people)), "audits": sorted(audits)}


def leaked(texts: list[str]) -> bool:
    """True when another participant's question reached this person."""
    return any("Rahasia usaha" in text for text in texts)


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("entry", COMMAND_ENTRIES, ids=lambda c: c.name)
async def test_every_command_for_every_role(driver: Driver, entry: Command, role: Role) -> None:
    people = await world(driver)
    person = people[role]
    before = await snapshot(driver)

    await driver.say(person, command_text(entry))
    replies = await driver.received(person)

    if role not in entry.roles:
        assert replies == [t("core.not_allowed")]
        assert await snapshot(driver) == before
    else:
        assert replies
        assert t("core.not_allowed") not in replies
    if role != Role.KOORDINATOR:
        assert not leaked(replies)
        assert (await snapshot(driver))["ticket"] == before["ticket"]


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("prefix", sorted(ACTIONS), ids=str)
async def test_every_button_for_every_role_forged_at_another_persons_ticket(
        driver: Driver, prefix: str, role: Role) -> None:
    people = await world(driver)
    person = people[role]
    before = await snapshot(driver)

    await driver.press(person, f"{prefix}:1:1")
    replies = await driver.received(person)

    if role not in ACTIONS[prefix].roles:
        assert replies == [t("core.not_allowed")]
        assert await snapshot(driver) == before
    if role != Role.KOORDINATOR:
        assert not leaked(replies)
        after = await snapshot(driver)
        assert (after["ticket"], after["thread"]) == (before["ticket"], before["thread"])


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_inactive_people_are_unknown_numbers_whatever_they_send(driver: Driver, role: Role) -> None:
    people = await world(driver)
    person = people[role]
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.is_active = False
    before = await snapshot(driver)

    for entry in COMMAND_ENTRIES:
        await driver.say(person.phone, command_text(entry), channel=Channel.WHATSAPP)

    replies = {message_of(row).text for row in await driver.outbox() if row.address == person.phone}
    assert len(replies) == 1
    assert next(iter(replies)).startswith("Maaf, nomor Anda belum terdaftar")
    assert await snapshot(driver) == before


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_people_without_consent_are_asked_for_it_whatever_they_send(driver: Driver, role: Role) -> None:
    people = await world(driver)
    person = people[role]
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.consent_given, stored.consent_at = False, None
    before = await snapshot(driver)

    for entry in COMMAND_ENTRIES:
        if entry.name not in ("data",):  # "data saya" is a right that works without consent
            await driver.say(person, command_text(entry))

    assert not leaked(await driver.received(person))
    assert await snapshot(driver) == before


# ---------------------------------------------------------------------- the web console's routes


def console_form(path: str, people: dict[Role, Person]) -> dict[str, str]:
    """Plausible fields for a console form (a mentor to move to, a message, an answer)."""
    return {"text": "Halo kak, ini dari konsol", "mentor": str(people[Role.PENDAMPING].id),
            "answer": "Coba jawab dari konsol"} if "/roster" not in path else {}


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_every_console_route_for_every_role_aimed_at_another_persons_records(
        driver: Driver, role: Role) -> None:
    from bot.console.web import PREFIX
    from tests.bot.console.foreign import foreign_records
    from tests.bot.console.site import Site, csrf_of

    people = await world(driver)
    person = people[role]
    async with driver.sessions() as session:
        other = (await session.execute(select(Person).where(Person.name == "Tono Lain"))).scalar_one()
    ids = await foreign_records(driver, other)  # the desk pages' paths: another group's tugas, izin, FAQ, mentor
    site = Site(driver.sessions, driver.config, driver.clock)
    routes = [(method, path, roles) for method, path, _page, roles in site.console.table()
              if roles is not None and path != "/keluar"]  # public sign-in pages and sign-out have their own tests
    async with site.browser() as browser:
        await site.sign_in(browser, person)
        token = csrf_of((await browser.get(f"{PREFIX}/masuk", follow_redirects=True)).text)
        for method, path, roles in routes:
            before = await snapshot(driver)
            url = PREFIX + path.format(person_id=other.id, ticket_id=1, **ids)
            answer = (await browser.get(url) if method == "GET" else
                      await browser.post(url, data={"csrf": token, **console_form(path, people)}))

            where = f"{method} {path} as {role}"
            assert answer.status_code < 500, where
            if role not in roles:
                assert answer.status_code == 403, where
                assert t("web.refused_role") in answer.text, where
                assert await snapshot(driver) == before, where
            elif role != Role.KOORDINATOR:
                if "{" in path:  # another participant's record or another mentor's ticket
                    assert answer.status_code == 403, where
                    assert await snapshot(driver) == before, where
                assert OTHER_QUESTION not in answer.text, where
                after = await snapshot(driver)
                assert (after["ticket"], after["thread"]) == (before["ticket"], before["thread"]), where
