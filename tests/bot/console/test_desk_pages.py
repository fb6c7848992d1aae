"""The console's pages of programme work for each role: mentors, sessions, tugas, reports, exports, FAQ, izin,
audit log. What each role sees, what each may do, and the refusals; decisions run the chat's functions."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from storage.models import (
    Assignment,
    Attendance,
    AuditEntry,
    FaqEntry,
    FaqStatus,
    LeaveRequest,
    LeaveStatus,
    Meeting,
    MentorAbsence,
    MonthlyReport,
    Person,
    Role,
    Submission,
)
from tests.bot.console.site import Site, csrf_of
from tests.support.driver import Clock, Driver

SQLITE_ONLY = pytest.mark.sqlite_only  # the rest run on PostgreSQL too (--postgres)
READ_PAGES = ("/console/pendamping", "/console/sesi", "/console/tugas", "/console/laporan", "/console/rekap",
              "/console/izin", "/console/faq", "/console/audit")


@pytest.fixture
def site(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Site:
    return Site(sessions, config, clock)


async def other_group(driver: Driver) -> tuple[Person, Person]:
    """Another mentor and their participant, in another cohort."""
    other_mentor = await driver.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000009")
    other = await driver.add_person(role=Role.PESERTA, name="Tono Martono", phone="+6281200000009",
                                    mentor_id=other_mentor.id, cohort="Angkatan 2", business_name="Bakso Tono")
    return other_mentor, other


async def meeting_for(driver: Driver, clock: Clock, cohort: str = "Angkatan 1", *, days: int = -1) -> Meeting:
    """A session of the cohort `days` from now (yesterday by default: check-in closed)."""
    starts = clock.now + timedelta(days=days)
    meeting = Meeting(title="Kelas pemasaran digital", cohort=cohort, starts_at=starts,
                      ends_at=starts + timedelta(hours=2), checkin_code="4821", checkin_opens_at=starts,
                      checkin_closes_at=starts + timedelta(hours=2), late_after_at=starts + timedelta(minutes=15),
                      created_at=starts - timedelta(days=7))
    async with driver.sessions.begin() as session:
        session.add(meeting)
    return meeting


async def test_participants_and_experts_open_none_of_these_pages(site: Site, driver: Driver,
                                                                  participant: Person) -> None:
    expert = await driver.add_person(role=Role.NARASUMBER, name="Hasan Narasumber", phone="+6281100000101")
    answers = {}
    for person in (participant, expert):
        async with site.browser() as browser:
            await site.sign_in(browser, person)
            for path in READ_PAGES:
                answers[person.name, path] = await browser.get(path)

    assert {key: answer.status_code for key, answer in answers.items()} == dict.fromkeys(answers, 403)
    assert all(t("web.refused_role") in answer.text for answer in answers.values())


async def test_a_mentor_is_refused_the_coordinators_pages_and_forms(site: Site, mentor: Person,
                                                                   coordinator: Person) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/sesi")
        faq = await browser.get("/console/faq")
        audit = await browser.get("/console/audit")
        decided = await browser.post("/console/faq/1", data={"csrf": token, "keputusan": "setujui"})

    assert (faq.status_code, audit.status_code, decided.status_code) == (403, 403, 403)
    assert t("web.refused_role") in decided.text


async def test_signed_out_visitors_are_sent_to_sign_in_and_forms_need_the_token(
        site: Site, coordinator: Person) -> None:
    async with site.browser() as browser:
        outside = {path: await browser.get(path) for path in READ_PAGES}
        await site.sign_in(browser, coordinator)
        forged = await browser.post("/console/rekap", data={"bulan": "2026-03", "scope": "programme:"})

    assert {answer.headers["location"] for answer in outside.values()} == {"/console/masuk"}
    assert forged.status_code == 403
    assert t("web.refused_csrf") in forged.text


async def test_the_mentor_table_for_coordinators_and_each_mentor_sees_only_their_own_page(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    await driver.say(participant, "Kak, cara hitung HPP keripik gimana ya biar ga rugi?")
    await driver.press(participant, "tp:keuangan")
    await driver.say(mentor, "jawab 1 Hitung semua bahan per kilo dulu, bagi jumlah bungkus.")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        table = await browser.get("/console/pendamping?bulan=2026-03")
        page = await browser.get(f"/console/pendamping/{mentor.id}?bulan=2026-03")
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        own = await browser.get("/console/pendamping")
        foreign = await browser.get(f"/console/pendamping/{other_mentor.id}")

    assert table.status_code == 200
    assert f'<tr id="mentor-{mentor.id}">' in table.text
    assert f'<tr id="mentor-{other_mentor.id}">' in table.text
    assert t("kin.col_within_pct") in table.text
    assert page.status_code == 200
    assert "Budi Santoso" in page.text
    assert t("desk.mentor_rank", month="Maret 2026", rank=1, count=2) in page.text
    assert own.status_code == 303
    assert own.headers["location"] == f"/console/pendamping/{mentor.id}?bulan=2026-03"
    assert foreign.status_code == 403
    assert t("web.refused_not_yours") in foreign.text


async def test_the_attendance_grid_shows_each_participants_presensi(
        site: Site, driver: Driver, clock: Clock, coordinator: Person, mentor: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    rudi = await driver.add_person(role=Role.PESERTA, name="Rudi Hartono", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 1")
    meeting = await meeting_for(driver, clock)
    async with driver.sessions.begin() as session:
        session.add(Attendance(meeting_id=meeting.id, participant_id=participant.id, status="hadir",
                               created_at=clock.now, updated_at=clock.now))
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        mine = await browser.get("/console/sesi")
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        everyone = await browser.get("/console/sesi")
        second_cohort = await browser.get("/console/sesi?cohort=Angkatan+2")

    assert mine.status_code == 200
    assert f'id="session-{meeting.id}"' in mine.text
    assert f'<tr id="grid-{participant.id}">' in mine.text
    assert '<td class="hadir">hadir</td>' in mine.text
    assert f'<tr id="grid-{rudi.id}">' in mine.text
    assert '<td class="missing">–</td>' in mine.text
    assert "Tono Martono" not in mine.text
    assert f'<tr id="grid-{other.id}"><th scope="row"><a href="/console/peserta/{other.id}">Tono Martono</a></th>\n' \
           '<td class="none"></td>' in everyone.text
    assert f'<tr id="grid-{participant.id}">' in everyone.text
    assert f'<tr id="grid-{other.id}">' in second_cohort.text
    assert "Sari Wulandari" not in second_cohort.text
    assert f'id="session-{meeting.id}"' not in second_cohort.text


async def test_tugas_and_their_submissions_for_the_group(
        site: Site, driver: Driver, clock: Clock, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    async with driver.sessions.begin() as session:
        tugas = Assignment(title="Foto produk 3 sudut", mentor_id=mentor.id, due_at=clock.now + timedelta(days=2),
                           created_at=clock.now)
        session.add(tugas)
        await session.flush()
        session.add(Submission(assignment_id=tugas.id, participant_id=participant.id, text="ini kak fotonya udh 3",
                               attachments=[{"kind": "photo"}], submitted_at=clock.now))
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        listing = await browser.get("/console/tugas")
        detail = await browser.get(f"/console/tugas/{tugas.id}")
    async with site.browser() as browser:
        await site.sign_in(browser, other_mentor)
        foreign = await browser.get(f"/console/tugas/{tugas.id}")
        their_list = await browser.get("/console/tugas")

    assert f'<tr id="tugas-{tugas.id}">' in listing.text
    assert "<td>1 / 1</td>" in listing.text
    assert "ini kak fotonya udh 3" in detail.text
    assert t("desk.files", count=1) in detail.text
    assert t("tgs.status_terkirim") in detail.text
    assert foreign.status_code == 403
    assert "fotonya" not in foreign.text
    assert "Foto produk" not in their_list.text


async def test_monthly_reports_with_who_has_not_reported(
        site: Site, driver: Driver, clock: Clock, coordinator: Person, mentor: Person, participant: Person) -> None:
    _other_mentor, other = await other_group(driver)
    async with driver.sessions.begin() as session:
        for month, omzet in (("2026-01", 3_000_000), ("2026-02", 3_600_000)):
            session.add(MonthlyReport(participant_id=participant.id, month=month, omzet=omzet, workers=2, customers=40,
                                      permits=["nib"], submitted_at=clock.now - timedelta(days=10),
                                      created_at=clock.now, updated_at=clock.now))
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        everyone = await browser.get("/console/laporan")
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        mine = await browser.get("/console/laporan?bulan=2026-02")

    assert everyone.status_code == 200
    assert t("desk.reports_sent", sent=1, due=2) in everyone.text
    assert "Rp 3.600.000" in everyone.text
    assert "20%" in everyone.text
    assert f'<tr id="report-{other.id}">' in everyone.text
    assert t("desk.not_reported") in everyone.text
    assert t("desk.reports_sent", sent=1, due=1) in mine.text
    assert "Tono Martono" not in mine.text


async def test_the_export_is_the_rekap_workbook_and_a_mentor_gets_only_their_group(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    await other_group(driver)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/rekap")
        programme = await browser.post("/console/rekap", data={"csrf": token, "bulan": "2026-03",
                                                               "scope": "programme:"})
        unknown = await browser.post("/console/rekap", data={"csrf": token, "bulan": "2026-03", "scope": "mentor:999"})
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, "/console/rekap")
        group = await browser.post("/console/rekap", data={"csrf": token, "bulan": "2026-03", "scope": "programme:"})

    def register(answer: object) -> list[str]:
        book = load_workbook(io.BytesIO(answer.content), read_only=True)  # type: ignore[attr-defined]
        sheet = book[t("rkp.sheet_register")]
        return sorted(str(row[1]) for row in sheet.iter_rows(min_row=2, values_only=True) if row[1])

    assert programme.status_code == 200
    assert programme.headers["content-disposition"] == 'attachment; filename="rekap-2026-03.xlsx"'
    assert register(programme) == ["Sari Wulandari", "Tono Martono"]
    assert unknown.status_code == 400
    assert t("desk.export_scope") in unknown.text
    assert register(group) == ["Sari Wulandari"]


async def test_the_coordinator_approves_a_faq_and_the_proposing_mentor_is_told(
        site: Site, driver: Driver, clock: Clock, coordinator: Person, mentor: Person) -> None:
    async with driver.sessions.begin() as session:
        entry = FaqEntry(question="Daftar NIB bayar ga?", answer="Gratis, lewat oss.go.id.", proposed_by_id=mentor.id,
                         proposed_at=clock.now)
        session.add(entry)
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        listing = await browser.get("/console/faq")
        approved = await browser.post(f"/console/faq/{entry.id}", data={"csrf": csrf_of(listing.text),
                                                                        "keputusan": "setujui"})
        again = await browser.post(f"/console/faq/{entry.id}", data={"csrf": csrf_of(listing.text),
                                                                     "keputusan": "tolak"})

    assert f'id="faq-{entry.id}"' in listing.text
    assert "Daftar NIB bayar ga?" in listing.text
    assert t("cons.faq_approved", id=entry.id, question="Daftar NIB bayar ga?") in approved.text
    assert f'id="faq-{entry.id}"' not in approved.text
    assert again.status_code == 409
    assert t("desk.faq_decided", id=entry.id) in again.text
    async with driver.sessions() as session:
        stored = await session.get(FaqEntry, entry.id)
        assert stored is not None
        assert (stored.status, stored.reviewed_by_id) == (FaqStatus.APPROVED, coordinator.id)
    assert await driver.received(mentor) == [t("cons.faq_approved_told", id=entry.id, question="Daftar NIB bayar ga?")]


async def test_izin_requests_are_decided_by_their_mentor_only(
        site: Site, driver: Driver, clock: Clock, mentor: Person, participant: Person) -> None:
    other_mentor, _other = await other_group(driver)
    meeting = await meeting_for(driver, clock, days=1)
    async with driver.sessions.begin() as session:
        request = LeaveRequest(meeting_id=meeting.id, participant_id=participant.id, kind="sakit",
                               reason="anak saya demam kak, ga bisa ninggal", created_at=clock.now)
        session.add(request)
    async with site.browser() as browser:
        await site.sign_in(browser, other_mentor)
        theirs = await browser.get("/console/izin")
        meddled = await browser.post(f"/console/izin/{request.id}", data={"csrf": csrf_of(theirs.text),
                                                                          "keputusan": "setujui"})
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        mine = await browser.get("/console/izin")
        rejected = await browser.post(f"/console/izin/{request.id}", data={
            "csrf": csrf_of(mine.text), "keputusan": "tolak", "alasan": "Sesi ini wajib, nanti ada rekaman"})

    assert t("desk.leave_none") in theirs.text
    assert meddled.status_code == 403
    assert t("web.refused_not_yours") in meddled.text
    assert f'id="leave-{request.id}"' in mine.text
    assert "anak saya demam" in mine.text
    assert f'id="leave-{request.id}"' not in rejected.text
    async with driver.sessions() as session:
        stored = await session.get(LeaveRequest, request.id)
        assert stored is not None
        assert (stored.status, stored.decided_by_id) == (LeaveStatus.REJECTED, mentor.id)
    (told,) = await driver.received(participant)
    assert "Sesi ini wajib, nanti ada rekaman" in told


@SQLITE_ONLY
async def test_the_audit_log_is_filtered_and_paginated(site: Site, driver: Driver, clock: Clock,
                                                       coordinator: Person, mentor: Person) -> None:
    async with driver.sessions.begin() as session:
        session.add_all(AuditEntry(at=clock.now - timedelta(minutes=n), actor_id=mentor.id, action="faq_edited",
                                   subject=f"faq:{n}", detail={"field": "answer"}) for n in range(55))
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        first = await browser.get("/console/audit?aksi=faq_edited")
        second = await browser.get("/console/audit?aksi=faq_edited&halaman=2")
        sign_ins = await browser.get("/console/audit?aksi=console_sign_in")

    assert first.text.count('<tr id="audit-') == 50
    assert 'id="page-next"' in first.text
    assert second.text.count('<tr id="audit-') == 5
    assert "faq:54" in second.text
    assert sign_ins.text.count('<tr id="audit-') == 1
    assert "Rina Dinas" in sign_ins.text


async def test_a_mentor_reviews_tugas_in_the_page_and_the_participant_is_told(
        site: Site, driver: Driver, clock: Clock, mentor: Person, participant: Person) -> None:
    rudi = await driver.add_person(role=Role.PESERTA, name="Rudi Hartono", phone="+6281200000002",
                                   mentor_id=mentor.id, cohort="Angkatan 1")
    async with driver.sessions.begin() as session:
        tugas = Assignment(title="Hitung HPP", mentor_id=mentor.id, due_at=clock.now + timedelta(days=2),
                           created_at=clock.now)
        session.add(tugas)
        await session.flush()
        sari_sent = Submission(assignment_id=tugas.id, participant_id=participant.id, text="HPP 8rb/bungkus kak",
                               submitted_at=clock.now)
        rudi_sent = Submission(assignment_id=tugas.id, participant_id=rudi.id, text="blm ngitung listrik",
                               submitted_at=clock.now)
        session.add_all([sari_sent, rudi_sent])
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        token = await site.form_token(browser, f"/console/tugas/{tugas.id}")
        path = f"/console/tugas/{tugas.id}/nilai"
        accepted = await browser.post(path, data={"csrf": token, "submission": str(sari_sent.id),
                                                  "keputusan": "terima"})
        empty = await browser.post(path, data={"csrf": token, "submission": str(rudi_sent.id), "keputusan": "revisi"})
        returned = await browser.post(path, data={"csrf": token, "submission": str(rudi_sent.id),
                                                  "keputusan": "revisi", "catatan": "Listrik & gas masuk HPP ya"})

    assert t("tgs.accepted", participant="Sari Wulandari", title="Hitung HPP") in accepted.text
    assert t("tgs.comment_hint") in empty.text
    assert t("tgs.returned", participant="Rudi Hartono", title="Hitung HPP") in returned.text
    async with driver.sessions() as session:
        statuses = {s.participant_id: (s.status, s.review_comment) for s in
                    (await session.execute(select(Submission))).scalars()}
    assert statuses == {participant.id: ("diterima", ""), rudi.id: ("perlu_revisi", "Listrik & gas masuk HPP ya")}
    assert len(await driver.received(participant)) == 1
    (told,) = await driver.received(rudi)
    assert "Listrik & gas masuk HPP ya" in told


async def test_the_coordinator_records_and_cancels_a_mentors_leave(
        site: Site, driver: Driver, coordinator: Person, mentor: Person, participant: Person) -> None:
    backup, _other = await other_group(driver)
    leave = {"mentor": str(mentor.id), "backup": str(backup.id), "mulai": "2026-03-09", "sampai": "2026-03-13"}
    async with site.browser() as browser:
        await site.sign_in(browser, coordinator)
        token = await site.form_token(browser, "/console/cuti")
        backwards = await browser.post("/console/cuti", data={"csrf": token, **leave, "sampai": "2026-03-01"})
        recorded = await browser.post("/console/cuti", data={"csrf": token, **leave, "pindah": "1"})
        async with driver.sessions() as session:
            (absence,) = (await session.execute(select(MentorAbsence))).scalars()
        cancelled = await browser.post(f"/console/cuti/{absence.id}/batal", data={"csrf": token})
    async with site.browser() as browser:
        await site.sign_in(browser, mentor)
        refused = await browser.get("/console/cuti")

    assert backwards.status_code == 400
    assert t("cons.cover_bad_range") in backwards.text
    assert "dicatat: Budi Santoso 9–13 Mar 2026, diganti Dewi Lestari." in recorded.text
    assert (absence.mentor_id, absence.backup_id, absence.move_open) == (mentor.id, backup.id, True)
    assert any("Dewi Lestari" in text for text in await driver.received(mentor))
    assert any("Budi Santoso cuti" in text for text in await driver.received(backup))
    assert t("cons.cuti_cancelled", id=absence.id) in cancelled.text
    async with driver.sessions() as session:
        stored = await session.get(MentorAbsence, absence.id)
        assert stored is not None
        assert stored.cancelled_at is not None
    assert refused.status_code == 403
