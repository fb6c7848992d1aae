"""The roster pages beyond the upload: everyone on the roster with deactivate/reactivate (the chat's `nonaktif` and
`aktif`), the numbers that wrote without being on it (the chat's `asing`); coordinators only, CSRF on each form."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from storage.models import AuditEntry, Person
from tests.bot.console.site import Site
from tests.support.driver import Clock, Driver


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def fresh(driver: Driver, person: Person) -> Person:
    async with driver.sessions() as session:
        found = await session.get(Person, person.id)
        assert found is not None
        return found


async def test_the_coordinator_finds_someone_deactivates_and_reactivates_them_from_the_list(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        listed = await browser.get("/console/roster/orang")
        found = await browser.get("/console/roster/orang", params={"q": "sari"})
        token = await site.form_token(browser, "/console/roster/orang")
        off = await browser.post(f"/console/roster/orang/{participant.id}/nonaktif", data={"csrf": token, "q": "sari"})
        after_off = await fresh(driver, participant)
        inactive = await browser.get("/console/roster/orang", params={"status": "nonaktif"})
        on = await browser.post(f"/console/roster/orang/{participant.id}/aktif", data={"csrf": token})
        again = await browser.post(f"/console/roster/orang/{participant.id}/aktif", data={"csrf": token})

    assert listed.status_code == 200
    assert all(f'id="member-{person.id}"' in listed.text for person in (coordinator, mentor, participant))
    assert f'id="deactivate-{participant.id}"' in listed.text
    assert f'id="deactivate-{coordinator.id}"' not in listed.text  # not oneself
    assert f'id="member-{participant.id}"' in found.text
    assert f'id="member-{mentor.id}"' not in found.text
    assert off.status_code == 200
    assert after_off.is_active is False
    role = t("core.role_peserta")
    assert t("people.deactivated", name="Sari Wulandari", role=role, phone=participant.phone) in off.text
    assert f'id="reactivate-{participant.id}"' in inactive.text
    assert f'id="member-{mentor.id}"' not in inactive.text
    assert on.status_code == 200
    assert t("people.reactivated", name="Sari Wulandari", role=role, phone=participant.phone) in on.text
    assert (await fresh(driver, participant)).is_active is True
    assert again.status_code == 409
    assert t("people.already_active", name="Sari Wulandari", role=role, phone=participant.phone) in again.text
    async with driver.sessions() as session:
        actions = list((await session.execute(select(AuditEntry.action).where(
            AuditEntry.actor_id == coordinator.id, AuditEntry.subject == f"person:{participant.id}")
            .order_by(AuditEntry.id))).scalars())
    assert actions == ["deactivate", "reactivate"]


async def test_not_oneself_not_without_the_token_and_not_for_mentors(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/roster/orang")
        myself = await browser.post(f"/console/roster/orang/{coordinator.id}/nonaktif", data={"csrf": token})
        forged = await browser.post(f"/console/roster/orang/{participant.id}/nonaktif", data={"csrf": "palsu"})
        bare = await browser.post(f"/console/roster/orang/{participant.id}/nonaktif")
        nobody = await browser.post("/console/roster/orang/999999/nonaktif", data={"csrf": token})
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/antrian")
        pages = [await browser.get("/console/roster/orang"), await browser.get("/console/roster/asing")]
        by_mentor = await browser.post(f"/console/roster/orang/{participant.id}/nonaktif", data={"csrf": token})

    assert myself.status_code == 400
    assert t("people.not_yourself") in myself.text
    assert (forged.status_code, bare.status_code) == (403, 403)
    assert t("web.refused_csrf") in forged.text
    assert nobody.status_code == 404
    assert [page.status_code for page in pages] == [403, 403]
    assert by_mentor.status_code == 403
    assert t("web.refused_role") in by_mentor.text
    assert (await fresh(driver, coordinator)).is_active is True
    assert (await fresh(driver, participant)).is_active is True


async def test_unknown_numbers_are_listed_and_a_deactivated_persons_number_can_be_reactivated(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    await driver.say("+6285700000077", "halo kak, saya mau daftar klinik bisnis bisa?")
    async with driver.sessions.begin() as session:
        sari = await session.get(Person, participant.id)
        assert sari is not None
        sari.is_active = False
    await driver.say("+6281200000001", "kak kok saya ga bisa tanya lagi ya")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        page = await browser.get("/console/roster/asing")
        token = await site.form_token(browser, "/console/roster/asing")
        back = await browser.post(f"/console/roster/orang/{participant.id}/aktif", data={"csrf": token})
        later = await browser.get("/console/roster/asing")

    assert page.status_code == 200
    assert "+6285700000077" in page.text
    assert "mau daftar klinik bisnis" in page.text
    assert t("members.add_by_upload") in page.text
    assert t("members.was", name="Sari Wulandari", role=t("core.role_peserta")) in page.text
    assert back.status_code == 200
    assert (await fresh(driver, participant)).is_active is True
    assert t("members.now_on_roster", name="Sari Wulandari") in later.text
    assert "unknown-reactivate-" not in later.text


async def test_a_number_given_up_to_someone_else_is_not_reactivated(
        site: Site, driver: Driver, coordinator: Person, participant: Person) -> None:
    async with driver.sessions.begin() as session:
        sari = await session.get(Person, participant.id)
        assert sari is not None
        sari.is_active, sari.phone = False, f"x-{sari.id}"
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/roster/orang")
        answer = await browser.post(f"/console/roster/orang/{participant.id}/aktif", data={"csrf": token})

    assert answer.status_code == 409
    assert t("members.cannot_reactivate", name="Sari Wulandari") in answer.text
    assert (await fresh(driver, participant)).is_active is False
