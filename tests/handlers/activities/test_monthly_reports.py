"""Laporan bulanan: the form, re-asks, leaving and resuming, editing, comparison, mentors' view, prompts."""

from datetime import datetime

from sqlalchemy import select

from handlers.activities.report_views import prompt_monthly_reports
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import MonthlyReport, Person, Role, TicketMessage
from tests.conftest import JAKARTA
from tests.support.driver import Driver

# The fixed clock is 4 March 2026: the February report is open until 5 March 23.59 WIB.


async def add_sent_report(driver: Driver, person: Person, month: str, *, omzet: int,
                          permits: list[str] | None = None) -> None:
    now = driver.clock.now
    async with driver.sessions.begin() as session:
        session.add(MonthlyReport(participant_id=person.id, month=month, omzet=omzet, workers=1, customers=30,
                                  permits=permits or [], main_problem="Modal", draft={}, form_step="",
                                  submitted_at=now, created_at=now, updated_at=now))


async def stored_reports(driver: Driver) -> list[tuple[str, int | None, int | None, int | None, list[str], str]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(MonthlyReport).order_by(MonthlyReport.id))).scalars()
        return [(r.month, r.omzet, r.workers, r.customers, r.permits, r.main_problem) for r in rows]


async def fill_report(driver: Driver, person: Person, *answers: str) -> None:
    await driver.say(person, "laporan")
    for answer in answers:
        await driver.say(person, answer)


async def test_report_with_comparison_to_last_month(driver: Driver, participant: Person) -> None:
    await add_sent_report(driver, participant, "2026-01", omzet=3_125_000, permits=["nib"])

    await fill_report(driver, participant, "3,5 juta", "2", "40 orang", "1,3", "selesai", "Bahan baku mahal")
    await driver.press(participant, "rep:ok")

    assert (await driver.received(participant))[-1] == (
        "✅ Laporan Februari 2026 terkirim. Terima kasih!\n\n"
        "📈 Omzet naik 12% dari Januari (Rp 3.125.000 → Rp 3.500.000).\n🎉 Izin baru: Halal.\n\n"
        "Masih bisa diubah sampai Kamis, 5 Mar 2026 23.59 WIB.")
    assert (await stored_reports(driver))[-1] == ("2026-02", 3_500_000, 2, 40, ["nib", "halal"], "Bahan baku mahal")


async def test_invalid_answers_get_friendly_reasks(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "lumayan", "3,5", "3.5jt", "dua")

    texts = await driver.received(participant)
    assert texts[2].startswith("Maaf, angka omzet belum bisa saya baca.\n\n1/5 Berapa *omzet*")
    assert texts[3].startswith("Mohon tambahkan satuannya, mis. *3,5 juta* atau *750 ribu*.\n\n1/5")
    assert texts[4].startswith("2/5 Berapa orang *pekerja*")
    assert texts[5].startswith("Mohon tulis jumlah pekerja dengan angka")


async def test_answers_written_in_a_sentence_are_read(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "omzet bln ini kira2 3,5jt kak", "ada 2 org kak, saya sm adik",
                      "pelanggan sktr 40an", "ga ada kak", "modal kurang buat stok lebaran")
    await driver.press(participant, "rep:ok")

    assert (await stored_reports(driver))[-1] == ("2026-02", 3_500_000, 2, 40, [], "modal kurang buat stok lebaran")


async def test_two_amounts_or_a_range_are_asked_again_not_guessed(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "laba 2jt omzet 5jt", "omzet 5jt", "1-2 orang")

    texts = await driver.received(participant)
    assert texts[2].startswith("Maaf, angka omzet belum bisa saya baca.\n\n1/5 Berapa *omzet*")
    assert texts[3].startswith("2/5 Berapa orang *pekerja*")
    assert texts[4].startswith("Mohon tulis jumlah pekerja dengan angka")


async def test_a_question_in_the_form_can_reach_the_mentor_and_the_form_goes_on(driver: Driver,
                                                                                participant: Person) -> None:
    await fill_report(driver, participant, "kak ini wajib diisi ga?")
    offer = message_of(await driver.last(participant))
    await driver.say(participant, "3,5jt")  # the form goes on where it was
    await driver.press(participant, offer.buttons[0].payload)
    await driver.press(participant, "tp:lainnya")

    assert offer.text.startswith("Sepertinya ini pertanyaan. Kirim ke pendamping?")
    assert (await driver.received(participant))[3].startswith("2/5 Berapa orang *pekerja*")
    async with driver.sessions() as session:
        asked = (await session.execute(select(TicketMessage.text))).scalars().all()
        draft = (await session.execute(select(MonthlyReport.draft))).scalar_one()
    assert asked == ["kak ini wajib diisi ga?"]
    assert draft["omzet"] == 3_500_000


async def test_form_left_and_resumed_where_it_stopped(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "3500rb", "3")
    await driver.say(participant, "menu")
    await driver.say(participant, "batal")
    await driver.say(participant, "Pak, cara daftar halal bagaimana?")
    answer_to_question = (await driver.received(participant))[-1]
    driver.clock.advance(hours=5)

    await driver.say(participant, "laporan")

    assert "pelanggan" not in answer_to_question  # after "batal" free text is a question again
    assert await driver.received(participant) == [
        "Melanjutkan laporan Februari 2026 yang belum selesai.",
        "3/5 Kira-kira berapa *pelanggan* selama Februari 2026? (angka)\nKetik *batal* untuk berhenti (isian tersimpan)."]


async def test_number_answer_is_not_taken_as_whatsapp_menu_option(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "menu")
    await fill_report(driver, participant, "3 jt", "1", "12")

    assert (await stored_reports(driver))[0][0] == "2026-02"
    async with driver.sessions() as session:
        report = (await session.execute(select(MonthlyReport))).scalar_one()
    assert (report.draft["workers"], report.draft["customers"], report.form_step) == (1, 12, "permits")


async def test_permit_buttons_add_and_hapus_removes(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "750 ribu", "0", "25")
    for payload in ("rep:p:nib", "rep:p:halal", "rep:p:nib"):
        await driver.press(participant, payload)
    again = await driver.last(participant)
    await driver.say(participant, "hapus 1")
    await driver.press(participant, "rep:pd")
    await driver.say(participant, "tidak ada")
    await driver.say(participant, "ya")

    assert message_of(again).text.startswith(
        "Sudah terpilih: NIB. Untuk menghapus, ketik *hapus 1*.\n\n4/5 *Izin usaha*")
    assert "\n\nTerpilih: NIB, Halal\n\n1. ✅ NIB\n2. P-IRT\n3. ✅ Halal\n" in message_of(again).text
    assert await stored_reports(driver) == [("2026-02", 750_000, 0, 25, ["halal"], "tidak ada")]


async def test_permits_carried_from_last_month_and_typed_numbers_add(driver: Driver, participant: Person) -> None:
    await add_sent_report(driver, participant, "2026-01", omzet=1_000_000, permits=["nib"])
    await fill_report(driver, participant, "1 juta", "0", "20")
    carried = await driver.last(participant)
    await driver.say(participant, "1")  # WhatsApp option 1 is NIB: it stays ticked, it is not un-ticked
    await driver.say(participant, "3")
    await driver.say(participant, "2, 3")
    added = await driver.last(participant)
    await driver.say(participant, "selesai")
    await driver.say(participant, "tidak ada")

    assert message_of(carried).text == (
        "4/5 *Izin usaha* yang sudah Anda miliki? Pilih untuk menambah (atau tulis nomornya, mis. *2,3*), "
        "lalu *Selesai*.\nUntuk menghapus, ketik *hapus* + nomornya, mis. *hapus 2*. "
        "Ketik *batal* untuk berhenti (isian tersimpan).\n\n"
        "Dari laporan bulan lalu: NIB\n\n1. ✅ NIB\n2. P-IRT\n3. Halal\n4. Lainnya\n5. ➡️ Selesai\n"
        "Balas dengan angka 1–5.")
    assert "\n\nTerpilih: NIB, P-IRT, Halal\n\n" in message_of(added).text
    assert (await driver.received(participant))[-1].endswith(
        "Izin: NIB, P-IRT, Halal\nMasalah utama: tidak ada\n\nPilih *Kirim*, atau *Ubah* untuk mengisi ulang. "
        "Ketik *batal* untuk berhenti (isian tersimpan)."
        "\n\n1. ✅ Kirim\n2. ✏️ Ubah\nBalas dengan angka 1–2.")


async def test_unreadable_permit_answer_explains_add_remove_and_go_on(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "1 juta", "0", "20", "ada deh")

    assert (await driver.received(participant))[-1].startswith(
        "Maaf, belum saya pahami. Tulis nomor pilihannya untuk menambah (mis. *2,3*), *hapus 2* untuk menghapus, "
        "atau *selesai* untuk lanjut.\n\n4/5 *Izin usaha*")


async def test_one_report_per_month_editable_until_deadline(driver: Driver, participant: Person) -> None:
    await fill_report(driver, participant, "2 juta", "1", "30", "tidak ada", "Pemasaran", "ya")
    await driver.say(participant, "laporan")
    already = await driver.last(participant)
    await driver.press(participant, "rep:edit")
    for answer in ("2,5 juta", "1", "30", "selesai", "Pemasaran online", "ya"):
        await driver.say(participant, answer)
    driver.clock.advance(days=2)
    await driver.say(participant, "laporan")

    assert message_of(already).text.startswith("✅ Laporan Februari 2026 Anda sudah terkirim:\n\nOmzet: Rp 2.000.000")
    assert await stored_reports(driver) == [("2026-02", 2_500_000, 1, 30, [], "Pemasaran online")]
    assert (await driver.received(participant))[-1] == (
        "Laporan bulanan dibuka mulai tanggal 25 setiap bulan. Sampai jumpa nanti!")


async def test_mentor_sees_group_reports_and_who_is_missing(driver: Driver, participant: Person,
                                                           mentor: Person) -> None:
    await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    await fill_report(driver, participant, "3,5 juta", "2", "40", "1", "5", "Bahan baku mahal", "ya")

    await driver.say(mentor, "laporan", channel=Channel.TELEGRAM)

    view = (await driver.received(mentor))[-1]
    assert view.startswith("📊 *Laporan Februari 2026*: 1 dari 2 peserta sudah lapor.\n\n"
                           "*Sari Wulandari* (Keripik Sari)\nOmzet: Rp 3.500.000\n")
    assert view.endswith("⏳ Belum lapor: Andi")


async def test_prompt_from_day_25_once_and_not_to_reporters(driver: Driver, participant: Person,
                                                            mentor: Person) -> None:
    reporter = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    await add_sent_report(driver, reporter, "2026-03", omzet=1_000_000)

    async def prompts(at: datetime) -> list[tuple[int | None, str]]:
        async with driver.sessions.begin() as session:
            return [(m.person_id, m.text) for m in await prompt_monthly_reports(session, at, driver.config)]

    before = await prompts(datetime(2026, 3, 24, 10, tzinfo=JAKARTA))
    first = await prompts(datetime(2026, 3, 25, 10, tzinfo=JAKARTA))
    again = await prompts(datetime(2026, 3, 26, 10, tzinfo=JAKARTA))

    assert (before, again) == ([], [])
    assert first == [(participant.id, "📊 Saatnya laporan bulanan Maret 2026. Hanya 5 pertanyaan singkat "
                                      "(omzet, pekerja, pelanggan, izin, masalah utama). Batas: Minggu, 5 Apr 2026 23.59 WIB.")]


async def test_omzet_ten_times_last_month_is_confirmed_before_it_counts(driver: Driver, participant: Person) -> None:
    await add_sent_report(driver, participant, "2026-01", omzet=3_125_000)
    await fill_report(driver, participant, "350 juta")
    check = message_of(await driver.last(participant))
    await driver.say(participant, "bingung")
    await driver.press(participant, "rep:on")
    await driver.say(participant, "3,5 juta")

    assert check.text.startswith("Omzet *Rp 350.000.000* jauh berbeda dari laporan Januari 2026 (*Rp 3.125.000*). "
                                 "Angkanya sudah benar?\nKetik *batal* untuk berhenti (isian tersimpan).")
    assert [b.payload for b in check.buttons] == ["rep:oy", "rep:on"]
    texts = await driver.received(participant)
    assert texts[-3].startswith("Pilih *Ya, benar* jika angkanya tepat, atau *Ubah omzet* untuk menulis ulang.")
    assert texts[-2].startswith("1/5 Berapa *omzet*")
    assert texts[-1].startswith("2/5 Berapa orang *pekerja*")


async def test_confirmed_omzet_jump_is_kept(driver: Driver, participant: Person) -> None:
    await add_sent_report(driver, participant, "2026-01", omzet=3_000_000)

    await fill_report(driver, participant, "250 rb", "iya benar kak", "1", "30", "selesai", "Sepi pembeli", "ya")

    assert (await stored_reports(driver))[-1] == ("2026-02", 250_000, 1, 30, [], "Sepi pembeli")


async def test_december_reported_in_january_is_named_not_this_month(driver: Driver, participant: Person) -> None:
    driver.clock.now = datetime(2027, 1, 3, 9, tzinfo=JAKARTA)

    await fill_report(driver, participant, "2 juta", "1")

    texts = await driver.received(participant)
    assert texts[0].startswith("📊 Laporan bulanan Desember 2026")
    assert texts[1].startswith("1/5 Berapa *omzet* (total penjualan) usaha Anda selama Desember 2026?")
    assert texts[3].startswith("3/5 Kira-kira berapa *pelanggan* selama Desember 2026?")
    assert not any("bulan ini" in text for text in texts)
