"""Tugas: submissions as an album or several messages, late flag, revision loop, extensions, reminders."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from handlers.activities.assignment_form import create_assignment
from handlers.activities.assignment_jobs import send_tugas_reminders
from handlers.kernel.messages import Attachment, Channel
from handlers.kernel.outbox import message_of
from storage.models import Assignment, Person, Role, Submission, Ticket, TicketMessage
from tests.support.driver import Driver


def photo(number: int) -> Attachment:
    return Attachment("photo", f"https://api.twilio.com/media/{number}", Channel.WHATSAPP, "image/jpeg")


async def add_tugas(driver: Driver, mentor: Person, *, due_in_hours: float = 48,
                    cutoff_in_hours: float | None = None) -> Assignment:
    """A tugas for the mentor's group."""
    now = driver.clock.now
    async with driver.sessions.begin() as session:
        return await create_assignment(
            session, title="Hitung HPP", description="Hitung harga pokok produksi produk utama Anda.", cohort="",
            mentor_id=mentor.id, due_at=now + timedelta(hours=due_in_hours),
            cutoff_at=now + timedelta(hours=cutoff_in_hours) if cutoff_in_hours else None,
            created_by_id=mentor.id, now=now)


async def submissions(driver: Driver) -> list[tuple[int, str, str, int, bool]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(Submission).order_by(Submission.id))).scalars()
        return [(s.version, s.status, s.text, len(s.attachments), s.is_late) for s in rows]


async def reminders_at(driver: Driver, at: datetime) -> list[tuple[int | None, str]]:
    async with driver.sessions.begin() as session:
        return [(m.person_id, m.text) for m in await send_tugas_reminders(session, at, driver.config)]


async def test_album_is_one_submission(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Foto nota belanja", attachments=[photo(1), photo(2), photo(3)])
    await driver.say(participant, "selesai")

    assert await submissions(driver) == [(1, "terkirim", "Foto nota belanja", 3, False)]
    notification = await driver.last(mentor)
    assert message_of(notification).text.startswith("📥 Sari Wulandari mengirim *Hitung HPP* (versi 1, terkirim), 3 berkas")
    assert [b.payload for b in message_of(notification).buttons] == ["rvw:ok:1", "rvw:fix:1"]
    assert len(message_of(notification).attachments) == 3


async def test_several_messages_until_selesai(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "HPP keripik: Rp 8.000 per bungkus")
    await driver.say(participant, "", attachments=[photo(1)])
    await driver.say(participant, "", attachments=[photo(2)])
    await driver.say(participant, "selesai")

    texts = await driver.received(participant)
    assert texts[1:] == [
        "📎 Masuk ke tugas: 1 pesan teks. Kirim lagi jika masih ada, lalu ketik *selesai*."
        "\n\n1. ✅ Selesai\nBalas dengan angka 1.",
        "✅ Jawaban *Hitung HPP* terkirim (versi 1): 2 foto, 1 pesan teks. Pendamping akan meninjaunya."
        "\n\n💬 Pertanyaan untuk pendamping bisa ditulis seperti biasa lagi."]
    assert await submissions(driver) == [(1, "terkirim", "HPP keripik: Rp 8.000 per bungkus", 2, False)]


async def test_photos_sent_after_opening_a_tugas_are_offered_as_its_answer(driver: Driver, participant: Person,
                                                                           mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:open:{tugas.id}")
    # WhatsApp sends an album as one message per photo; the participant never chose *Kirim jawaban*
    await driver.say(participant, "ini kak hpp nya", attachments=[photo(1)])
    await driver.say(participant, "", attachments=[photo(2)])
    offer = message_of(await driver.last(participant))
    offers = [m for m in await driver.received(participant) if m.startswith("Kiriman ini jawaban tugas")]

    await driver.press(participant, offer.buttons[0].payload)
    await driver.say(participant, "selesai")

    assert offers == ["Kiriman ini jawaban tugas *Hitung HPP*, atau pertanyaan untuk pendamping?"
                      "\n\n1. 📤 Jawaban tugas\n2. 💬 Pertanyaan\nBalas dengan angka 1–2."]  # once for the album
    assert await submissions(driver) == [(1, "terkirim", "ini kak hpp nya", 2, False)]
    async with driver.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0


async def test_photo_after_opening_a_tugas_can_still_be_a_question(driver: Driver, participant: Person,
                                                                   mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:open:{tugas.id}")
    await driver.say(participant, "kak kemasan spt ini bagus ga?", attachments=[photo(1)])
    offer = message_of(await driver.last(participant))

    await driver.press(participant, offer.buttons[1].payload)
    await driver.press(participant, "tp:pemasaran")

    assert await submissions(driver) == []
    async with driver.sessions() as session:
        question = (await session.execute(select(TicketMessage))).scalars().one()
    assert (question.text, len(question.attachments)) == ("kak kemasan spt ini bagus ga?", 1)


async def test_text_after_opening_a_tugas_is_routed_as_usual(driver: Driver, participant: Person,
                                                             mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:open:{tugas.id}")

    await driver.say(participant, "kak hpp itu termasuk ongkir ga ya")

    assert (await driver.received(participant))[-1].startswith("Pertanyaan Anda tentang")
    assert await submissions(driver) == []


async def test_photo_with_caption_counts_as_one_part(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Nota belanja bulan ini", attachments=[photo(1)])
    await driver.say(participant, "selesai")

    assert [text.split("\n")[0] for text in (await driver.received(participant))[1:]] == [
        "📎 Masuk ke tugas: 1 foto dengan keterangan. Kirim lagi jika masih ada, lalu ketik *selesai*.",
        "✅ Jawaban *Hitung HPP* terkirim (versi 1): 1 foto dengan keterangan. Pendamping akan meninjaunya."]
    assert await submissions(driver) == [(1, "terkirim", "Nota belanja bulan ini", 1, False)]


async def test_collecting_says_messages_go_into_the_tugas(driver: Driver, participant: Person,
                                                          mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Pak, HPP itu termasuk ongkos kirim?")
    await driver.say(participant, "batal")
    await driver.say(participant, "Pak, HPP itu termasuk ongkos kirim?")

    texts = await driver.received(participant)
    assert texts[0] == ("📤 Kirim jawaban *Hitung HPP*: teks, foto, atau dokumen — boleh beberapa pesan.\n"
                        "ℹ️ Mulai sekarang semua pesan Anda masuk ke tugas ini; ketik *batal* untuk berhenti.\n\n"
                        "Ketik *selesai* jika sudah semua.")
    assert texts[1].startswith("Pesan ini bagian dari tugas, atau pertanyaan")  # asked, not swallowed
    assert not texts[-1].startswith("📎")  # after "batal" the question is a question again
    assert await submissions(driver) == []


async def test_selesai_without_content_gets_hint(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "selesai")

    assert (await driver.received(participant))[-1] == (
        "Belum ada isi. Kirim teks, foto, atau dokumen dulu, lalu ketik *selesai*.")
    assert await submissions(driver) == []


async def test_submission_after_due_is_late(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor, due_in_hours=2)
    driver.clock.advance(hours=3)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Maaf terlambat, ini HPP saya")
    await driver.say(participant, "selesai")

    assert await submissions(driver) == [(1, "terlambat", "Maaf terlambat, ini HPP saya", 0, True)]
    assert (await driver.received(participant))[-1] == (
        "✅ Jawaban *Hitung HPP* terkirim (versi 1): 1 pesan teks, tercatat *terlambat*. Pendamping akan "
        "meninjaunya.\n\n💬 Pertanyaan untuk pendamping bisa ditulis seperti biasa lagi.")


async def test_past_cutoff_is_refused(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor, due_in_hours=2, cutoff_in_hours=24)
    driver.clock.advance(hours=25)
    await driver.press(participant, f"tgs:send:{tugas.id}")

    assert await driver.received(participant) == [
        "Batas akhir pengumpulan *Hitung HPP* sudah lewat. Silakan hubungi pendamping Anda."]


async def test_revision_loop_keeps_history(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Versi pertama")
    await driver.say(participant, "selesai")
    await driver.press(mentor, "rvw:fix:1", channel=Channel.TELEGRAM)
    await driver.say(mentor, "Biaya kemasan belum dihitung.", channel=Channel.TELEGRAM)
    returned = await driver.last(participant)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Versi kedua dengan kemasan")
    await driver.say(participant, "selesai")
    await driver.press(mentor, "rvw:ok:2", channel=Channel.TELEGRAM)

    assert message_of(returned).text.startswith("↩️ Tugas *Hitung HPP* perlu revisi. Catatan dari Budi Santoso:\n\n"
                                               "Biaya kemasan belum dihitung.\n\nPilih *Kirim ulang* jika sudah diperbaiki.")
    assert [b.payload for b in message_of(returned).buttons] == [f"tgs:send:{tugas.id}"]
    assert await submissions(driver) == [(1, "perlu_revisi", "Versi pertama", 0, False),
                                         (2, "diterima", "Versi kedua dengan kemasan", 0, False)]
    assert (await driver.received(participant))[-1] == "🎉 Tugas *Hitung HPP* Anda diterima oleh Budi Santoso."


async def test_extension_moves_the_deadline_for_one_participant(driver: Driver, participant: Person,
                                                                mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor, due_in_hours=2)
    await driver.press(mentor, f"rvw:x:{tugas.id}:{participant.id}", channel=Channel.TELEGRAM)
    await driver.say(mentor, "besok 17.00", channel=Channel.TELEGRAM)
    driver.clock.advance(hours=20)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "HPP saya")
    await driver.say(participant, "selesai")

    assert "⏳ Tenggat *Hitung HPP* untuk Sari Wulandari diperpanjang sampai Kamis, 5 Mar 2026 17.00 WIB." in (
        await driver.received(mentor))
    assert await submissions(driver) == [(1, "terkirim", "HPP saya", 0, False)]


async def test_review_queue_shows_only_own_participants(driver: Driver, participant: Person, mentor: Person) -> None:
    other_mentor = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    stranger = await driver.add_person(role=Role.PESERTA, name="Tono", phone="+6281200000009",
                                       mentor_id=other_mentor.id, cohort="Angkatan 1")
    async with driver.sessions.begin() as session:
        tugas = await create_assignment(session, title="Profil usaha", description="Tulis profil usaha.",
                                        cohort="Angkatan 1", mentor_id=None, due_at=driver.clock.now + timedelta(days=2),
                                        cutoff_at=None, created_by_id=None, now=driver.clock.now)
    for person in (participant, stranger):
        await driver.press(person, f"tgs:send:{tugas.id}")
        await driver.say(person, "Profil saya")
        await driver.say(person, "selesai")

    await driver.say(mentor, "tinjau", channel=Channel.TELEGRAM)

    queue = await driver.last(mentor)
    assert message_of(queue).text == "✅ 1 tugas menunggu penilaian (terlama di atas):"
    assert [b.label for b in message_of(queue).buttons] == ["Sari Wulandari · Profil usaha (v1)"]


async def test_reminders_skip_submitted_and_extended(driver: Driver, participant: Person, mentor: Person) -> None:
    extended = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    waiting = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000003", mentor_id=mentor.id)
    tugas = await add_tugas(driver, mentor, due_in_hours=20)
    await driver.press(participant, f"tgs:send:{tugas.id}")
    await driver.say(participant, "Sudah saya kerjakan")
    await driver.say(participant, "selesai")
    await driver.press(mentor, f"rvw:x:{tugas.id}:{extended.id}", channel=Channel.TELEGRAM)
    await driver.say(mentor, "senin", channel=Channel.TELEGRAM)

    first = await reminders_at(driver, driver.clock.now + timedelta(hours=1))
    again = await reminders_at(driver, driver.clock.now + timedelta(hours=2))

    assert first == [(waiting.id, "🔔 Pengingat: tugas *Hitung HPP* ditunggu paling lambat Kamis, 5 Mar 2026 05.00 WIB.")]
    assert again == []


async def test_overdue_reminders_stop_after_the_cap(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor, due_in_hours=1)
    overdue_from = tugas.due_at + timedelta(hours=1)

    sent = [await reminders_at(driver, overdue_from + timedelta(hours=hours)) for hours in (0, 3, 24, 48, 72)]

    assert [len(batch) for batch in sent] == [1, 0, 1, 0, 0]
    assert sent[0][0][1].startswith("⏰ Tugas *Hitung HPP* sudah lewat tenggat")


async def test_no_reminders_at_night(driver: Driver, participant: Person, mentor: Person) -> None:
    tugas = await add_tugas(driver, mentor, due_in_hours=20)

    assert await reminders_at(driver, tugas.due_at - timedelta(hours=3)) == []


async def test_participant_lists_open_tugas(driver: Driver, participant: Person, mentor: Person) -> None:
    await add_tugas(driver, mentor)

    await driver.say(participant, "tugas")

    listing = await driver.last(participant)
    assert message_of(listing).text.startswith(
        "📝 *Tugas Anda*\n\n• *Hitung HPP* — tenggat Jumat, 6 Mar 2026 09.00 WIB — belum dikirim")


async def test_mentor_creates_tugas_from_chat(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.press(mentor, "tgf:new", channel=Channel.TELEGRAM)
    for answer in ("Tugas 2: Foto produk", "Kirim 3 foto produk dengan latar polos.", "jumat 17.00", "tidak"):
        await driver.say(mentor, answer, channel=Channel.TELEGRAM)
    await driver.press(mentor, "tgf:save", channel=Channel.TELEGRAM)

    texts = await driver.received(mentor)
    assert texts[-2].startswith("Periksa dulu:\n\n*Tugas 2: Foto produk*\n")
    assert texts[-2].endswith("\n\nPilih *Simpan*, atau ketik *batal*.")
    assert texts[-1] == "✅ Tugas *Tugas 2: Foto produk* disimpan dan diumumkan ke 1 peserta."
    announcement = await driver.last(participant)
    assert message_of(announcement).text.startswith("📝 Tugas baru: *Tugas 2: Foto produk*\n\nKirim 3 foto produk "
                                                   "dengan latar polos.\n\nTenggat: Jumat, 6 Mar 2026 17.00 WIB")
