"""Signing in to the console: a code in one's own chat, sessions, CSRF, brute force, no enumeration."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import AuditEntry, OutboxMessage, Person, Role
from tests.bot.console.site import Site, csrf_of
from tests.support.driver import Clock, Driver

SQLITE_ONLY = pytest.mark.sqlite_only  # the rest run on PostgreSQL too (--postgres)


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def audits(site: Site) -> list[str]:
    async with site.sessions() as session:
        return list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def outbox_rows(site: Site) -> list[OutboxMessage]:
    async with site.sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


def without_tokens(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html)


async def test_a_coordinator_signs_in_with_the_code_sent_to_their_own_chat_and_out_again(
        site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        page = await browser.get("/console/masuk")
        assert 'id="phone"' in page.text
        assert 'id="send-code"' in page.text
        sent, token = await site.ask_code(browser, "0813 0000 0001")  # typed the local way
        assert 'id="code"' in sent.text
        assert 'id="verify"' in sent.text

        rows = await outbox_rows(site)
        assert [(row.channel, row.address, row.recipient_id) for row in rows] == [
            (Channel.WHATSAPP.value, coordinator.phone, coordinator.id)]
        part = message_of(rows[0])  # outside the 24-hour window: the authentication template carries the code
        assert (part.template, dict(part.template_vars)) == ("console_code", {"1": await site.last_code(coordinator)})
        assert site.wakes  # the delivery worker is woken after the commit
        code = await site.last_code(coordinator)
        signed = await browser.post("/console/masuk/kode", data={"code": code, "csrf": token})

        assert signed.status_code == 303
        assert signed.headers["location"] == "/console"
        cookie = signed.headers["set-cookie"]
        assert "klinik_sesi=" in cookie
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/console" in cookie
        overview = await browser.get("/console/")
        assert overview.status_code == 200
        assert "Rina Dinas" in overview.text

        out = await browser.post("/console/keluar", data={"csrf": csrf_of(overview.text)})
        assert out.status_code == 303
        assert out.headers["location"] == "/console/masuk"
        again = await browser.get("/console/")
        assert again.status_code == 303
        assert again.headers["location"] == "/console/masuk"
    assert await audits(site) == ["console_code_sent", "console_sign_in", "console_sign_out"]


@SQLITE_ONLY
async def test_a_mentor_on_telegram_gets_the_code_on_telegram_and_lands_on_their_queue(
        site: Site, mentor: Person) -> None:
    async with site.browser() as browser:
        response = await site.sign_in(browser, mentor)

    assert response.headers["location"] == "/console/antrian"
    rows = await outbox_rows(site)
    assert [(row.channel, row.address) for row in rows] == [(Channel.TELEGRAM.value, "5001")]


@SQLITE_ONLY
async def test_the_same_answer_whether_or_not_the_number_may_sign_in(site: Site, driver: Driver,
                                                                    coordinator: Person) -> None:
    await driver.add_person(role=Role.PENDAMPING, name="Sudah Keluar", phone="+6281100000077", is_active=False)
    await driver.add_person(role=Role.PENDAMPING, name="Belum Setuju", phone="+6281100000078", consent_given=None)
    pages = []
    for phone in ("+6281300000001", "+6281999999999", "+6281100000077", "+6281100000078", "bukan nomor"):
        async with site.browser() as browser:
            answer, _token = await site.ask_code(browser, phone)
            pages.append((answer.status_code, without_tokens(answer.text).replace(phone, "…")))

    assert len(set(pages)) == 1
    assert len(await outbox_rows(site)) == 1  # only the coordinator on the roster got a code


async def test_wrong_codes_lock_the_code_after_five_tries(site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        _answer, token = await site.ask_code(browser, coordinator.phone)
        code = await site.last_code(coordinator)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [await browser.post("/console/masuk/kode", data={"code": wrong, "csrf": token}) for _ in range(5)]
        right = await browser.post("/console/masuk/kode", data={"code": code, "csrf": token})

    assert {answer.status_code for answer in answers} == {400}
    assert t("web.code_wrong") in answers[-1].text
    assert right.status_code == 400
    assert "klinik_sesi" not in right.headers.get("set-cookie", "")
    assert "console_code_locked" in await audits(site)
    assert "console_sign_in" not in await audits(site)


@SQLITE_ONLY
async def test_a_code_expires_after_the_rule_minutes(site: Site, clock: Clock, coordinator: Person) -> None:
    async with site.browser() as browser:
        _answer, token = await site.ask_code(browser, coordinator.phone)
        code = await site.last_code(coordinator)
        clock.advance(minutes=11)
        late = await browser.post("/console/masuk/kode", data={"code": code, "csrf": token})

    assert late.status_code == 400
    assert t("web.code_wrong") in late.text


@SQLITE_ONLY
async def test_codes_per_hour_are_capped_and_the_page_reads_the_same(site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        for _ in range(7):
            answer, _token = await site.ask_code(browser, coordinator.phone)

    assert answer.status_code == 200
    assert 'id="code"' in answer.text
    assert len(await outbox_rows(site)) == 5
    assert (await audits(site)).count("console_code_refused") == 2


@SQLITE_ONLY
async def test_a_session_ends_after_its_hours_and_when_the_person_is_deactivated(
        site: Site, clock: Clock, driver: Driver, coordinator: Person, mentor: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        clock.advance(hours=11, minutes=59)
        assert (await browser.get("/console/")).status_code == 200
        clock.advance(minutes=2)
        expired = await browser.get("/console/")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/console/masuk"

    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        assert (await browser.get("/console/antrian")).status_code == 200
        async with driver.sessions.begin() as session:
            stored = await session.get(Person, mentor.id)
            assert stored is not None
            stored.is_active = False
        assert (await browser.get("/console/antrian")).status_code == 303


@SQLITE_ONLY
async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
        site: Site, coordinator: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        missing = await browser.post(f"/console/peserta/{participant.id}/nonaktif", data={})
        forged = await browser.post(f"/console/peserta/{participant.id}/nonaktif", data={"csrf": "x" * 43})

    for answer in (missing, forged):
        assert answer.status_code == 403
        assert t("web.refused_csrf") in answer.text
    async with site.sessions() as session:
        stored = await session.get(Person, participant.id)
        assert stored is not None
        assert stored.is_active


@SQLITE_ONLY
async def test_the_sign_in_form_needs_its_own_token_too(site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:  # never opened the page: no form cookie
        answer = await browser.post("/console/masuk", data={"phone": coordinator.phone, "csrf": "tebak"})

    assert answer.status_code == 403
    assert t("web.refused_csrf") in answer.text
    assert await outbox_rows(site) == []


@SQLITE_ONLY
async def test_every_console_answer_carries_the_security_headers(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.get("/console/masuk")
        css = await browser.get("/console/static/console.css")

    for answer in (page, css):
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert "unsafe-inline" not in answer.headers["content-security-policy"]
    assert "<script" not in page.text
    assert 'style="' not in page.text
    form_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in form_cookie
    assert "Secure" in form_cookie


@SQLITE_ONLY
async def test_english_speakers_read_the_console_in_english(site: Site, driver: Driver) -> None:
    person = await driver.add_person(role=Role.KOORDINATOR, name="Anna Staff", phone="+6281300000005", language="en")
    async with site.browser() as browser:
        await site.sign_in(browser, person)
        overview = await browser.get("/console/")

    assert t("web.overview_title", "en") in overview.text
    assert 'lang="en"' in overview.text
    assert "Kode masuk" not in (await site.texts_to(person))[0]


@SQLITE_ONLY
async def test_the_sign_in_pages_can_be_read_in_english_before_signing_in(site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        first = await browser.get("/console/masuk")
        english = await browser.get("/console/masuk?lang=en")
        code_page = await browser.post("/console/masuk", data={"phone": coordinator.phone,
                                                               "csrf": csrf_of(english.text)})

    assert t("web.signin_title") in first.text
    assert 'id="lang-en"' in first.text
    assert t("web.signin_title", "en") in english.text
    assert t("web.code_title", "en") in code_page.text
