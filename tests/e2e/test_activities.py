"""Programme activities through both peers: a presensi, a tugas with a photo, a laporan bulanan.

Meetings and tugas are written straight into the app's database, relative to the real clock
(the app runs on it). The scheduler is paused after start-up so a reminder job that happens
to tick during a test cannot slip a message (and a numbered menu) into a flow.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.app import KlinikApp
from handlers.kernel.dates import (
    format_moment,
    format_time,
    month_label,
    month_of,
    previous_month,
)
from handlers.kernel.outbox import message_of
from storage.models import (
    Assignment,
    Attendance,
    AttendanceStatus,
    Meeting,
    MonthlyReport,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Submission,
    SubmissionStatus,
)
from tests.e2e.harness import (
    PARTICIPANT_CHAT,
    Klinik,
    body,
    mentor_on_telegram,
    participant_on_whatsapp,
)

pytestmark = pytest.mark.e2e

JAKARTA = ZoneInfo("Asia/Jakarta")
CODE = "4821"
# A 1×1 PNG: what the participant photographs (the bot relays it to the mentor unchanged).
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
OPEN_ALL_MONTH = {"shared": {"report_open_day": 1, "report_deadline_day": 28}}  # the form is open whatever today is


async def start_quiet(klinik: Klinik, **overrides: Any) -> KlinikApp:
    """Start the app and pause its scheduler (the jobs have their own tests)."""
    app = await klinik.start(**overrides)
    app.scheduler.pause()
    return app


async def add_meeting(klinik: Klinik, mentor: Person, **fields: object) -> Meeting:
    """A session of the mentor's group that started five minutes ago, check-in open with CODE."""
    now = datetime.now(UTC)
    starts = now - timedelta(minutes=5)
    values: dict[str, object] = {
        "title": "Pemasaran digital", "cohort": "Angkatan 1", "mentor_id": mentor.id, "created_by_id": mentor.id,
        "starts_at": starts, "ends_at": starts + timedelta(hours=2), "place": "Aula Dinas KUKM",
        "checkin_code": CODE, "checkin_opens_at": starts - timedelta(minutes=30),
        "checkin_closes_at": starts + timedelta(hours=2), "late_after_at": starts + timedelta(minutes=15),
        "created_at": now - timedelta(days=3)}
    async with klinik.sessions.begin() as session:
        meeting = Meeting(**(values | fields))
        session.add(meeting)
    return meeting


async def telegram_participant(klinik: Klinik, mentor: Person) -> Person:
    """A peserta who linked Telegram (user id = chat id), in the mentor's group."""
    return await klinik.add_person(role=Role.PESERTA, name="Dewi Lestari", phone="+6281200000002",
                                   mentor_id=mentor.id, business_name="Batik Dewi", cohort="Angkatan 1",
                                   telegram_user_id=str(PARTICIPANT_CHAT), telegram_chat_id=str(PARTICIPANT_CHAT),
                                   preferred_channel="telegram")


async def undelivered(klinik: Klinik) -> list[str]:
    """Texts of outbox rows that did not go out (a peer refused them, or they are held)."""
    return [message_of(row).text for row in await klinik.all(OutboxMessage, OutboxMessage.status != OutboxStatus.SENT)]


def clock(moment: datetime | None) -> str:
    """"09.41 WIB" in Jakarta, as the confirmation states the check-in time."""
    assert moment is not None
    return format_time(moment, JAKARTA)


async def whatsapp_mentor(klinik: Klinik) -> Person:
    """A pendamping on WhatsApp who wrote an hour ago (inside the 24-hour window)."""
    return await klinik.add_person(role=Role.PENDAMPING, name="Rudi Hartono", phone="+6281100000002",
                                   preferred_channel="whatsapp",
                                   last_whatsapp_inbound_at=datetime.now(UTC) - timedelta(hours=1))


async def test_presensi_with_the_room_code_on_whatsapp_and_through_the_menu_on_telegram(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    on_whatsapp = await participant_on_whatsapp(klinik, mentor)
    on_telegram = await telegram_participant(klinik, mentor)
    meeting = await add_meeting(klinik, mentor)
    await start_quiet(klinik)
    emulator, token, user = klinik.emulator, klinik.token, PARTICIPANT_CHAT

    await klinik.whatsapp(on_whatsapp.phone, f"hadir {CODE}")
    await emulator.send_message(token, user, "presensi", first_name="Dewi")

    confirmed = await klinik.wait_whatsapp(on_whatsapp.phone)
    prompt = await emulator.wait_for(token, user)
    assert prompt.text == ("Presensi <b>Pemasaran digital</b> sedang dibuka. Ketik kode 4 angka yang diumumkan "
                           "di ruangan.")
    assert prompt.reply_markup is None  # no one-tap button until a mentor opens check-in
    await emulator.send_message(token, user, "1234", first_name="Dewi")
    wrong = await emulator.wait_for(token, user)
    assert wrong.text == "Kode salah. Cek lagi kode yang diumumkan di ruangan (kode bisa diganti pendamping)."
    await emulator.send_message(token, user, CODE, first_name="Dewi")
    checked_in = await emulator.wait_for(token, user)

    await klinik.settled()
    records = {r.participant_id: r for r in await klinik.all(Attendance, Attendance.meeting_id == meeting.id)}
    assert {pid: (r.status, r.source) for pid, r in records.items()} == {
        on_whatsapp.id: (AttendanceStatus.HADIR, "code"), on_telegram.id: (AttendanceStatus.HADIR, "code")}
    at_whatsapp = clock(records[on_whatsapp.id].checked_in_at)
    assert body(confirmed) == (f"✅ Presensi *Pemasaran digital* tercatat: hadir, pukul {at_whatsapp}. "
                               "Selamat belajar!")
    at_telegram = clock(records[on_telegram.id].checked_in_at)
    assert checked_in.text == (f"✅ Presensi <b>Pemasaran digital</b> tercatat: hadir, pukul {at_telegram}. "
                               "Selamat belajar!")
    assert len(klinik.twilio_messages(on_whatsapp.phone)) == 1
    assert await undelivered(klinik) == []


async def test_whatsapp_mentor_opens_check_in_and_telegram_participant_taps_hadir(klinik: Klinik) -> None:
    mentor = await whatsapp_mentor(klinik)
    participant = await telegram_participant(klinik, mentor)
    meeting = await add_meeting(klinik, mentor)
    await start_quiet(klinik)
    emulator, token, user = klinik.emulator, klinik.token, PARTICIPANT_CHAT

    await klinik.whatsapp(mentor.phone, "sesi")
    listed = await klinik.wait_whatsapp(mentor.phone)
    assert body(listed).startswith("🗓 Sesi Anda (7 hari terakhir dan yang akan datang). Pilih untuk melihat detail:")
    assert "\n1. Pemasaran digital · " in body(listed)
    await klinik.whatsapp(mentor.phone, "1")
    detail = await klinik.wait_whatsapp(mentor.phone)
    assert "Kode presensi: *4821*" in body(detail)
    assert "\n1. 📣 Buka presensi\n2. 🔁 Ganti kode\n3. 🔒 Tutup presensi\n4. ✏️ Koreksi presensi\n" in body(detail)
    await klinik.whatsapp(mentor.phone, "1")
    where = await klinik.wait_whatsapp(mentor.phone)
    assert "\n1. 🏫 Di kelas\n2. 🌐 Jarak jauh\n" in body(where)
    await klinik.whatsapp(mentor.phone, "2")

    opened = await klinik.wait_whatsapp(mentor.phone)
    assert body(opened) == "📣 Presensi jarak jauh *Pemasaran digital* dibuka: pilihan *Hadir* dikirim ke 1 peserta."
    invitation = await emulator.wait_for(token, user)
    assert invitation.text == ("📣 Presensi jarak jauh <b>Pemasaran digital</b> dibuka. Pilih <b>Hadir</b> untuk "
                               "mencatat kehadiran Anda.")
    assert invitation.button_texts == ["✅ Hadir"]
    await emulator.send_callback(token, user, invitation.button("✅ Hadir"), invitation.message_id, first_name="Dewi")

    checked_in = await emulator.wait_for(token, user)
    await klinik.settled()
    (record,) = await klinik.all(Attendance, Attendance.meeting_id == meeting.id)
    assert (record.participant_id, record.status, record.source) == (participant.id, AttendanceStatus.HADIR, "button")
    assert checked_in.text == (f"✅ Presensi <b>Pemasaran digital</b> tercatat: hadir, pukul "
                               f"{clock(record.checked_in_at)}. Selamat belajar!")
    (reopened,) = await klinik.all(Meeting, Meeting.id == meeting.id)
    assert reopened.checkin_opened_by_id == mentor.id
    assert await undelivered(klinik) == []


async def test_telegram_participant_submits_a_photo_and_whatsapp_mentor_accepts_it(klinik: Klinik) -> None:
    mentor = await whatsapp_mentor(klinik)
    participant = await telegram_participant(klinik, mentor)
    now = datetime.now(UTC)
    async with klinik.sessions.begin() as session:
        assignment = Assignment(title="Foto kemasan produk", description="Foto kemasan baru dari depan.",
                                cohort="Angkatan 1", mentor_id=mentor.id, created_by_id=mentor.id,
                                due_at=now + timedelta(days=3), created_at=now - timedelta(days=1))
        session.add(assignment)
    await start_quiet(klinik)
    emulator, token, user = klinik.emulator, klinik.token, PARTICIPANT_CHAT

    await emulator.send_message(token, user, "tugas", first_name="Dewi")
    listed = await emulator.wait_for(token, user)
    due = format_moment(assignment.due_at, JAKARTA, "id")
    assert listed.text == (f"📝 <b>Tugas Anda</b>\n\n• <b>Foto kemasan produk</b> — tenggat {due} — belum dikirim"
                           "\n\nPilih tugas untuk melihat detail dan mengirim jawaban.")
    await emulator.send_callback(token, user, listed.button("📝 Foto kemasan produk"), listed.message_id)
    detail = await emulator.wait_for(token, user)
    assert (detail.text or "").startswith("📝 <b>Foto kemasan produk</b>\n\nFoto kemasan baru dari depan.\n\nTenggat:")
    await emulator.send_callback(token, user, detail.button("📤 Kirim jawaban"), detail.message_id)
    prompt = await emulator.wait_for(token, user)
    assert (prompt.text or "").startswith("📤 Kirim jawaban <b>Foto kemasan produk</b>: teks, foto, atau dokumen")

    file_id = await emulator.put_file(PNG, file_name="kemasan.jpg", mime_type="image/jpeg")
    sizes = [{"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1, "height": 1, "file_size": len(PNG)}]
    await emulator.send_message(token, user, None, caption="Kemasan baru, stiker halal di belakang", photo=sizes)
    part = await emulator.wait_for(token, user)
    assert part.text == ("📎 Masuk ke tugas: 1 foto dengan keterangan. Kirim lagi jika masih ada, lalu ketik "
                         "<b>selesai</b>.")
    assert part.button_texts == ["✅ Selesai"]
    await emulator.send_message(token, user, "selesai", first_name="Dewi")
    sent = await emulator.wait_for(token, user)
    assert sent.text == ("✅ Jawaban <b>Foto kemasan produk</b> terkirim (versi 1): 1 foto dengan keterangan. "
                         "Pendamping akan meninjaunya.\n\n💬 Pertanyaan untuk pendamping bisa ditulis seperti biasa lagi.")

    notice = await klinik.wait_whatsapp(mentor.phone)
    assert body(notice) == ("📥 Dewi Lestari mengirim *Foto kemasan produk* (versi 1, terkirim), 1 berkas:\n\n"
                            "Kemasan baru, stiker halal di belakang\n\n1. ✅ Terima\n2. ↩️ Perlu revisi\n"
                            "Balas dengan angka 1–2.")
    assert notice.status == 201  # one MediaUrl, as Twilio takes it
    (media_url,) = list(notice.data["MediaUrl"])  # type: ignore[call-overload]
    async with httpx.AsyncClient() as client:
        fetched = await client.get(str(media_url))  # what Twilio does with MediaUrl
    assert fetched.content == PNG
    await klinik.whatsapp(mentor.phone, "1")

    accepted = await emulator.wait_for(token, user)
    assert accepted.text == "🎉 Tugas <b>Foto kemasan produk</b> Anda diterima oleh Rudi Hartono."
    told = await klinik.wait_whatsapp(mentor.phone)
    assert body(told) == "✅ Tugas Dewi Lestari untuk *Foto kemasan produk* diterima. Peserta sudah diberi tahu."
    await klinik.settled()
    assert await undelivered(klinik) == []
    (submission,) = await klinik.all(Submission)
    assert (submission.participant_id, submission.version, submission.status, submission.is_late) == (
        participant.id, 1, SubmissionStatus.DITERIMA, False)
    assert submission.text == "Kemasan baru, stiker halal di belakang"
    assert [(a["kind"], a["ref"], a["channel"]) for a in submission.attachments] == [("photo", file_id, "telegram")]
    assert submission.reviewed_by_id == mentor.id


async def test_whatsapp_participant_sends_the_monthly_report(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    now = datetime.now(UTC)
    month = month_of(now, JAKARTA)
    async with klinik.sessions.begin() as session:
        session.add(MonthlyReport(participant_id=participant.id, month=previous_month(month), omzet=3_000_000,
                                  workers=1, customers=30, permits=["nib"], main_problem="tidak ada", draft={},
                                  form_step="", submitted_at=now - timedelta(days=30), created_at=now,
                                  updated_at=now))
    await start_quiet(klinik, rules=OPEN_ALL_MONTH)
    phone, label = participant.phone, month_label(month, "id")

    async def answer(text: str) -> str:
        await klinik.whatsapp(phone, text)
        return body(await klinik.wait_whatsapp(phone))

    intro = await answer("laporan")
    assert intro == (f"📊 Laporan bulanan {label} — 5 pertanyaan singkat. Bisa ditinggal dan dilanjutkan "
                     "kapan saja lewat menu *Laporan bulanan*.")
    assert body(await klinik.wait_whatsapp(phone)).startswith("1/5 Berapa *omzet* (total penjualan)")
    assert (await answer("3,5")).startswith("Mohon tambahkan satuannya, mis. *3,5 juta* atau *750 ribu*.\n\n1/5 ")
    assert (await answer("3,5 juta")).startswith("2/5 Berapa orang *pekerja* selain Anda?")
    assert (await answer("2")).startswith(f"3/5 Kira-kira berapa *pelanggan* selama {label}?")
    permits = await answer("45 orang")
    assert permits.startswith("4/5 *Izin usaha* yang sudah Anda miliki?")
    assert "Dari laporan bulan lalu: NIB\n\n1. ✅ NIB\n2. P-IRT\n3. Halal\n4. Lainnya\n5. ➡️ Selesai\n" in permits
    assert "Terpilih: NIB, Halal\n\n1. ✅ NIB\n2. P-IRT\n3. ✅ Halal\n" in await answer("1,3")
    assert (await answer("selesai")).startswith(f"5/5 Apa *masalah utama* usaha Anda selama {label}?")
    confirm = await answer("Harga singkong naik")
    assert confirm == ("Periksa laporan Anda:\n\nOmzet: Rp 3.500.000\nPekerja: 2 orang\nPelanggan: 45\n"
                       "Izin: NIB, Halal\nMasalah utama: Harga singkong naik\n\n"
                       "Pilih *Kirim*, atau *Ubah* untuk mengisi ulang. Ketik *batal* untuk berhenti (isian tersimpan).\n\n"
                       "1. ✅ Kirim\n2. ✏️ Ubah\n"
                       "Balas dengan angka 1–2.")
    saved = await answer("1")

    await klinik.settled()
    (report,) = await klinik.all(MonthlyReport, MonthlyReport.month == month)
    assert (report.participant_id, report.omzet, report.workers, report.customers) == (participant.id, 3_500_000,
                                                                                       2, 45)
    assert (report.permits, report.main_problem, report.form_step) == (["nib", "halal"], "Harga singkong naik", "")
    assert report.submitted_at is not None
    assert await undelivered(klinik) == []
    previous = month_label(previous_month(month), "id").rsplit(" ", 1)[0]
    deadline = format_moment(datetime(*next_month(month), 28, 23, 59, 59, tzinfo=JAKARTA), JAKARTA, "id")
    assert saved == (f"✅ Laporan {label} terkirim. Terima kasih!\n\n"
                     f"📈 Omzet naik 17% dari {previous} (Rp 3.000.000 → Rp 3.500.000).\n🎉 Izin baru: Halal.\n\n"
                     f"Masih bisa diubah sampai {deadline}.")


def next_month(month: str) -> tuple[int, int]:
    """"2026-12" → (2027, 1)."""
    year, number = (int(part) for part in month.split("-"))
    return (year + 1, 1) if number == 12 else (year, number + 1)
