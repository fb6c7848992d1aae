"""The coordinator's console tools per role: a ticket's reassignment and escalation, the score band filter and
trend, and broadcasts (compose, preview, send, schedule, cancel, report) through the chat's own functions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.broadcasts.rules import BroadcastsRules
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from storage.models import (
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    OutboxMessage,
    ParticipationScore,
    Person,
    Role,
    Ticket,
    TicketEscalation,
)
from tests.bot.console.site import Site, csrf_of
from tests.bot.console.test_pages import ask, other_group
from tests.support.driver import Clock, Driver

SQLITE_ONLY = pytest.mark.sqlite_only
NEWS = "Halo teman-teman UMKM, Kamis besok ada kelas foto produk pakai HP ya, jam 9 di aula Dinas 🙏"


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


@pytest.fixture
async def expert(driver: Driver) -> Person:
    return await driver.add_person(role=Role.NARASUMBER, name="Dr. Hana", phone="+6281400000001",
                                   topics="legalitas;halal", preferred_channel="whatsapp")


async def count(driver: Driver, model: type) -> int:
    async with driver.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# ---------------------------------------------------------------------- a ticket: reassign, escalate


async def test_the_coordinator_hands_a_ticket_to_another_mentor_from_its_page(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    number = await ask(driver, participant)
    await driver.received(participant)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        page = await browser.get(f"/console/tiket/{number}")
        assert 'id="reassign-mentor"' in page.text
        moved = await browser.post(f"/console/tiket/{number}/alihkan",
                                   data={"csrf": csrf_of(page.text), "mentor": str(other_mentor.id)})

    assert moved.status_code == 200
    assert t("cons.moved", number=number, mentor="Dewi Lestari") in moved.text
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        assert (ticket.mentor_id, ticket.reassignments) == (other_mentor.id, 1)
        audit = (await session.execute(select(AuditEntry.action, AuditEntry.actor_id))).all()
    assert ("ticket_reassigned", coordinator.id) in audit
    assert any("masuk minimarket" in text for text in await site.texts_to(other_mentor))
    assert any("Dewi Lestari" in text for text in await driver.received(participant))


@SQLITE_ONLY
async def test_a_mentor_may_not_hand_a_ticket_away_and_a_form_without_csrf_changes_nothing(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    number = await ask(driver, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, f"/console/tiket/{number}")
        page = await browser.get(f"/console/tiket/{number}")
        by_mentor = await browser.post(f"/console/tiket/{number}/alihkan",
                                       data={"csrf": token, "mentor": str(other_mentor.id)})
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        forged = await browser.post(f"/console/tiket/{number}/alihkan", data={"mentor": str(other_mentor.id)})
        token = await site.form_token(browser, f"/console/tiket/{number}")
        not_a_mentor = await browser.post(f"/console/tiket/{number}/alihkan",
                                          data={"csrf": token, "mentor": str(participant.id)})

    assert 'id="reassign-mentor"' not in page.text  # handing over is the coordinator's
    assert by_mentor.status_code == 403
    assert t("web.refused_role") in by_mentor.text
    assert forged.status_code == 403
    assert t("web.refused_csrf") in forged.text
    assert not_a_mentor.status_code == 400
    assert t("web.move_pick") in not_a_mentor.text
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        assert (ticket.mentor_id, ticket.reassignments) == (mentor.id, 0)


async def test_a_mentor_escalates_to_an_expert_with_a_note(
        site: Site, driver: Driver, mentor: Person, participant: Person, expert: Person) -> None:
    number = await ask(driver, participant, "Kak, sertifikat halal buat keripik gimana caranya?")
    await driver.received(participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        page = await browser.get(f"/console/tiket/{number}")
        assert 'id="escalate-expert"' in page.text
        passed = await browser.post(f"/console/tiket/{number}/eskalasi", data={
            "csrf": csrf_of(page.text), "expert": str(expert.id), "note": "Sudah punya P-IRT, tanya alur SiHalal"})

    assert passed.status_code == 200
    assert t("cons.esc_done", number=number, expert="Dr. Hana") in passed.text
    async with driver.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        assert (ticket.expert_id, ticket.escalations) == (expert.id, 1)
        notes = list((await session.execute(select(TicketEscalation.note))).scalars())
    assert notes == ["Sudah punya P-IRT, tanya alur SiHalal"]
    brief = await site.texts_to(expert)
    assert any("alur SiHalal" in text and "sertifikat halal" in text for text in brief)
    assert any("Dr. Hana" in text for text in await driver.received(participant))


@SQLITE_ONLY
async def test_escalating_to_someone_who_is_no_expert_changes_nothing(
        site: Site, driver: Driver, mentor: Person, participant: Person, coordinator: Person) -> None:
    number = await ask(driver, participant)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, f"/console/tiket/{number}")
        wrong = await browser.post(f"/console/tiket/{number}/eskalasi",
                                   data={"csrf": token, "expert": str(coordinator.id), "note": ""})
        empty = await browser.post(f"/console/tiket/{number}/eskalasi", data={"csrf": token, "expert": "abc"})

    assert wrong.status_code == 400
    assert empty.status_code == 400
    assert t("tools.escalate_pick") in empty.text
    assert await count(driver, TicketEscalation) == 0


@SQLITE_ONLY
async def test_a_mentor_may_not_escalate_another_mentors_ticket(
        site: Site, driver: Driver, mentor: Person, participant: Person, expert: Person) -> None:
    _other_mentor, other = await other_group(driver)
    theirs = await ask(driver, other, "Bang, modal usaha bakso dari KUR syaratnya apa?")
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/antrian")
        answer = await browser.post(f"/console/tiket/{theirs}/eskalasi", data={"csrf": token, "expert": str(expert.id)})

    assert answer.status_code == 403
    assert t("web.refused_ticket") in answer.text
    assert await count(driver, TicketEscalation) == 0


# ---------------------------------------------------------------------- score band and trend


async def scores(driver: Driver, rows: list[tuple[str, Person, float]]) -> None:
    async with driver.sessions.begin() as session:
        for week, person, value in rows:
            session.add(ParticipationScore(week=week, participant_id=person.id, mentor_id=person.mentor_id,
                                           cohort=person.cohort, score=value, computed_at=driver.clock.now))


async def test_the_list_filters_by_the_latest_weeks_score_band_and_the_overview_shows_the_trend(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    await scores(driver, [("2026-W08", participant, 20.0), ("2026-W08", other, 60.0),
                          ("2026-W09", participant, 85.0), ("2026-W09", other, 25.0)])
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        low = (await browser.get("/console/peserta?skor=rendah")).text
        high = (await browser.get("/console/peserta?skor=tinggi")).text
        unknown = await browser.get("/console/peserta?skor=ngawur")
        overview = (await browser.get("/console/")).text

    assert "Tono Martono" in low
    assert "Sari Wulandari" not in low
    assert "Sari Wulandari" in high
    assert "Tono Martono" not in high
    assert unknown.status_code == 200
    assert "Sari Wulandari" in unknown.text
    assert "Tono Martono" in unknown.text
    assert 'id="trend-line"' in overview
    assert "<tr><td>2026-W08</td><td>40.0</td><td>2</td></tr>" in overview
    assert "<tr><td>2026-W09</td><td>55.0</td><td>2</td></tr>" in overview


@SQLITE_ONLY
async def test_a_mentor_filters_only_their_own_group_by_score(
        site: Site, driver: Driver, mentor: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    await scores(driver, [("2026-W09", participant, 30.0), ("2026-W09", other, 30.0)])
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        low = (await browser.get("/console/peserta?skor=rendah")).text

    assert "Sari Wulandari" in low
    assert "Tono Martono" not in low


# ---------------------------------------------------------------------- broadcasts


async def test_the_coordinator_previews_then_sends_a_broadcast_to_a_cohort(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    draft = {"scope": "cohort", "value": "Angkatan 2", "text": NEWS, "when": ""}
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/siaran")
        preview = await browser.post("/console/siaran/pratinjau", data={"csrf": token, **draft})
        stored_after_preview = await count(driver, Broadcast)
        sent = await browser.post("/console/siaran/kirim", data={"csrf": csrf_of(preview.text), **draft})
        async with driver.sessions() as session:
            number = int((await session.execute(select(Broadcast.id))).scalar_one())
        report = await browser.get(f"/console/siaran?laporan={number}")

    assert preview.status_code == 200
    assert t("tools.preview_line", count=1, scope="angkatan Angkatan 2").split("(")[0] in preview.text
    assert "kelas foto produk" in preview.text
    assert stored_after_preview == 0
    assert sent.status_code == 200
    assert f'id="broadcast-{number}"' in sent.text
    received = await driver.received(other)
    assert any("kelas foto produk" in text for text in received)
    assert not any("kelas foto produk" in text for text in await driver.received(participant))
    async with driver.sessions() as session:
        broadcast = await session.get(Broadcast, number)
        assert broadcast is not None
        assert (broadcast.status, broadcast.recipients, broadcast.source) == (BroadcastStatus.SENDING, 1, "console")
    assert report.status_code == 200
    assert 'id="broadcast-report"' in report.text
    assert f"#{number}" in report.text


@SQLITE_ONLY
async def test_a_scheduled_broadcast_can_be_cancelled_before_it_goes(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    draft = {"scope": "all", "value": "", "text": NEWS, "when": "besok jam 9"}
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/siaran")
        preview = await browser.post("/console/siaran/pratinjau", data={"csrf": token, **draft})
        scheduled = await browser.post("/console/siaran/kirim", data={"csrf": token, **draft})
        async with driver.sessions() as session:
            broadcast = (await session.execute(select(Broadcast))).scalar_one()
        assert broadcast.status == BroadcastStatus.SCHEDULED
        assert broadcast.send_at > driver.clock.now + timedelta(hours=12)
        cancelled = await browser.post("/console/siaran/batal", data={"csrf": token, "broadcast": str(broadcast.id)})

    assert 'id="preview-when"' in preview.text
    assert scheduled.status_code == 200
    assert t("bc.cancelled", number=broadcast.id, count=0) in cancelled.text
    async with driver.sessions() as session:
        stored = await session.get(Broadcast, broadcast.id)
        assert stored is not None
        assert stored.status == BroadcastStatus.CANCELLED
    assert await count(driver, OutboxMessage) == 1  # the sign-in code only


@SQLITE_ONLY
async def test_bad_broadcast_drafts_get_a_clear_answer_and_store_nothing(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/siaran")
        empty = await browser.post("/console/siaran/kirim", data={"csrf": token, "scope": "all", "text": "  "})
        no_cohort = await browser.post("/console/siaran/pratinjau",
                                       data={"csrf": token, "scope": "cohort", "value": "", "text": NEWS})
        past = await browser.post("/console/siaran/kirim",
                                  data={"csrf": token, "scope": "all", "text": NEWS, "when": "kemarin jam 9"})
        unclear = await browser.post("/console/siaran/kirim",
                                     data={"csrf": token, "scope": "all", "text": NEWS, "when": "kapan-kapan aja"})
        nobody = await browser.post("/console/siaran/kirim",
                                    data={"csrf": token, "scope": "cohort", "value": "Angkatan 99", "text": NEWS})
        forged = await browser.post("/console/siaran/kirim", data={"scope": "all", "text": NEWS})
        missing = await browser.post("/console/siaran/batal", data={"csrf": token, "broadcast": "999"})

    assert (empty.status_code, no_cohort.status_code, past.status_code, unclear.status_code) == (400, 400, 400, 400)
    assert t("bc.need_text") in empty.text
    assert t("tools.scope_pick") in no_cohort.text
    assert t("tools.when_unclear") in unclear.text
    assert nobody.status_code == 400
    assert forged.status_code == 403
    assert missing.status_code == 404
    assert await count(driver, Broadcast) == 0
    assert not any("kelas foto" in text for text in await driver.received(participant))


@SQLITE_ONLY
async def test_a_mentor_broadcasts_to_their_own_group_only_and_not_when_the_rule_says_no(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/siaran")
        sent = await browser.post("/console/siaran/kirim", data={"csrf": token, "scope": "all", "text": NEWS})
    assert sent.status_code == 200
    assert any("kelas foto produk" in text for text in await driver.received(participant))
    assert not any("kelas foto produk" in text for text in await driver.received(other))

    async with site.browser() as browser:  # the coordinator's broadcast is not the mentor's to cancel
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/siaran")
        await browser.post("/console/siaran/kirim", data={"csrf": token, "scope": "all", "text": "Info dari Dinas",
                                                          "when": "besok jam 9"})
    async with driver.sessions() as session:
        theirs = (await session.execute(select(Broadcast.id).where(Broadcast.sender_id == coordinator.id))).scalar_one()
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/siaran")
        refused = await browser.post("/console/siaran/batal", data={"csrf": token, "broadcast": str(theirs)})
        listing = await browser.get("/console/siaran")
    assert refused.status_code == 404
    assert f'id="broadcast-{theirs}"' not in listing.text

    strict = Site(site.sessions, site.config.with_rules(BroadcastsRules(mentors_may_send=False)), site.clock)
    async with strict.browser() as browser:
        await strict.sign_in(browser, mentor)
        closed = await browser.get("/console/siaran")
    assert closed.status_code == 403
    assert t("bc.mentors_off") in closed.text


@SQLITE_ONLY
async def test_participants_and_experts_have_no_broadcast_page(
        site: Site, participant: Person, expert: Person) -> None:
    for person in (participant, expert):
        async with site.browser() as browser:
            await site.sign_in(browser, person)
            answer = await browser.get("/console/siaran")
        assert answer.status_code == 403
        assert t("web.refused_role") in answer.text


# ---------------------------------------------------------------------- the list's search; figures in the background


async def test_the_search_finds_a_name_a_business_or_a_typed_phone_number_by_its_start(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        found = {q: (await browser.get("/console/peserta", params={"q": q})).text
                 for q in ("sari wul", "KERIPIK", "0812-0000-0001", "62812000", "wulandari")}

    for q in ("sari wul", "KERIPIK", "0812-0000-0001", "62812000"):
        assert f'id="participant-{participant.id}"' in found[q], q
    assert f'id="participant-{participant.id}"' not in found["wulandari"]  # the start of a name, not its middle


async def test_in_klinik_run_an_old_overview_figure_shows_while_a_fresh_one_is_computed(
        sessions: async_sessionmaker[AsyncSession], driver: Driver, config: Config, clock: Clock,
        coordinator: Person, participant: Person, mentor: Person) -> None:
    site = Site(sessions, config, clock)
    site.console.background = True  # as bot/app.py builds it
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        await asyncio.gather(*site.console.refreshing.values())  # the sign-in page started the figures
        first = (await browser.get("/console/")).text
        await driver.add_person(role=Role.PESERTA, name="Wati Keripik", phone="+6281277700001", mentor_id=mentor.id)
        clock.advance(minutes=2)
        stale = (await browser.get("/console/")).text
        await asyncio.gather(*site.console.refreshing.values())
        fresh = (await browser.get("/console/")).text

    assert 'id="count-participants">1<' in first
    assert 'id="count-participants">1<' in stale
    assert 'id="count-participants">2<' in fresh
