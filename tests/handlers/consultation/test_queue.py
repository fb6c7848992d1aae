"""The mentor's queue and workspace: oldest first, thread and record, private notes, status changes."""

from handlers.kernel.messages import Button, Channel
from handlers.kernel.outbox import message_of
from storage.models import Person, Role
from tests.support.driver import Driver

TG = Channel.TELEGRAM


async def ask(driver: Driver, participant: Person, text: str, topic: str) -> None:
    await driver.say(participant, text)
    await driver.press(participant, f"tp:{topic}")


async def test_queue_lists_open_tickets_oldest_first(driver: Driver, participant: Person, mentor: Person) -> None:
    dewi = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=mentor.id,
                                   business_name="Batik Dewi")
    await ask(driver, participant, "pinjem modal buat beli oven", "permodalan")
    driver.clock.advance(hours=2, minutes=45)
    await ask(driver, dewi, "jualan di shopee sepi", "digital")
    driver.clock.advance(minutes=15)

    await driver.say(mentor, "antrian", channel=TG)

    assert message_of(await driver.last(mentor)).text == (
        "📋 Antrian: 2 pertanyaan menunggu jawaban (terlama di atas)\n\n"
        "*#1* · 3 jam · Permodalan\nSari Wulandari (Keripik Sari)\n“pinjem modal buat beli oven”\n\n"
        "*#2* · 15 menit · Digital\nDewi (Batik Dewi)\n“jualan di shopee sepi”\n\n"
        "Ketik *buka 1* (atau nomor lain) untuk melihat percakapan.")
    assert [b.payload for b in message_of(await driver.last(mentor)).buttons] == ["tk:1", "tk:2"]


async def test_queue_shows_age_in_days_and_skips_answered(driver: Driver, participant: Person,
                                                          mentor: Person) -> None:
    await ask(driver, participant, "pembukuan gimana", "keuangan")
    driver.clock.advance(days=2, hours=1)
    await driver.say(mentor, "/antrian", channel=TG)
    waiting = message_of(await driver.last(mentor)).text
    await driver.say(mentor, "jawab 1 Pakai buku kas sederhana.", channel=TG)
    await driver.say(mentor, "antrian", channel=TG)

    assert "*#1* · 2 hari · Keuangan/Pembukuan" in waiting
    assert message_of(await driver.last(mentor)).text == "🎉 Tidak ada pertanyaan yang menunggu jawaban."


async def test_open_shows_thread_record_and_private_notes(driver: Driver, participant: Person,
                                                          mentor: Person) -> None:
    await ask(driver, participant, "sertifikat halal gimana", "legalitas")
    await driver.press(participant, "close:1")
    await ask(driver, participant, "pinjem modal", "permodalan")
    await driver.say(mentor, "catatan 2 Pernah ditolak bank, cek SLIK", channel=TG)

    await driver.say(mentor, "buka 2", channel=TG)

    view = await driver.last(mentor)
    assert message_of(view).text == (
        "🗂 *#2* · Permodalan · menunggu jawaban\nPeserta: Sari Wulandari — Keripik Sari\n"
        "Angkatan: Angkatan 1 · Kecamatan: Beji\nNarasumber: -\n"
        "Pertanyaan sebelumnya: #1 Legalitas/Perizinan (ditutup)\n\n"
        "[4 Mar, 09.00 WIB] Sari Wulandari: pinjem modal\n"
        "[4 Mar, 09.00 WIB] 🔒 Catatan Budi Santoso (pendamping): Pernah ditolak bank, cek SLIK")
    assert [b.payload for b in message_of(view).buttons] == ["ans:2", "done:2", "esc:2", "note:2", "close:2"]


async def test_note_never_reaches_the_participant(driver: Driver, participant: Person, mentor: Person) -> None:
    await ask(driver, participant, "pinjem modal", "permodalan")
    await driver.received(participant)
    await driver.press(mentor, "note:1", channel=TG)
    await driver.say(mentor, "Telepon besok pagi", channel=TG)

    assert (await driver.received(mentor))[-1] == "🔒 Catatan untuk #1 disimpan."
    assert await driver.received(participant) == []


async def test_mark_answered_then_close_and_reopen(driver: Driver, participant: Person, mentor: Person) -> None:
    await ask(driver, participant, "pinjem modal", "permodalan")
    await driver.say(mentor, "dijawab 1", channel=TG)
    told = (await driver.received(participant))[-1]
    await driver.say(mentor, "tutup 1", channel=TG)
    await driver.say(mentor, "bukalagi 1", channel=TG)
    await driver.say(participant, "Masih ada yang mau saya tanyakan")

    assert told.startswith("Budi Santoso menandai pertanyaan #1 sudah dijawab.")
    assert (await driver.received(participant))[-2:] == [
        "Pertanyaan #1 dibuka kembali oleh Budi Santoso. Tulis tambahan Anda di sini.",
        "Pesan Anda ditambahkan ke pertanyaan #1."]


async def test_reopen_refused_while_participant_has_another_active_ticket(driver: Driver, participant: Person,
                                                                          mentor: Person) -> None:
    await ask(driver, participant, "pinjem modal", "permodalan")
    await driver.say(mentor, "tutup 1", channel=TG)
    await ask(driver, participant, "cara promosi", "pemasaran")

    await driver.say(mentor, "bukalagi 1", channel=TG)

    assert (await driver.received(mentor))[-1] == (
        "Peserta ini sedang punya pertanyaan aktif #2. Tutup dulu #2 sebelum membuka lagi #1.")


async def test_other_mentor_cannot_open_or_note(driver: Driver, participant: Person, mentor: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    await ask(driver, participant, "pinjem modal", "permodalan")

    await driver.say(other, "buka 1")
    await driver.say(other, "catatan 1 intip")

    assert await driver.received(other) == ["Pertanyaan #1 tidak ditemukan di daftar Anda."] * 2


async def test_participant_has_no_queue(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "antrian")

    assert await driver.received(participant) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."]


async def test_mentor_corrects_the_topic(driver: Driver, participant: Person, mentor: Person) -> None:
    await ask(driver, participant, "kak mau nanya dong", "lainnya")

    await driver.say(mentor, "topik 1 pemasaran", channel=TG)

    assert (await driver.received(mentor))[-1] == "Topik #1 diubah menjadi Pemasaran."


async def test_queue_is_in_the_mentor_menu(driver: Driver, mentor: Person) -> None:
    await driver.say(mentor, "menu", channel=TG)

    assert Button("📋 Antrian pertanyaan", "cmd:antrian") in message_of(await driver.last(mentor)).buttons
