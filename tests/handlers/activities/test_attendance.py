"""Sessions and presensi: check-in by code or button, izin, automatic alpa, absence alerts, reminders."""

from datetime import datetime, timedelta

from sqlalchemy import select

from handlers.activities.attendance_jobs import close_checkin_windows, send_session_reminders
from handlers.activities.session_form import create_meeting
from handlers.kernel.messages import Attachment, Channel
from handlers.kernel.outbox import message_of
from storage.models import Attendance, AuditEntry, Meeting, Person, Role, TicketMessage
from tests.support.driver import Driver


async def add_meeting(driver: Driver, mentor: Person, *, starts_in_hours: float = 1, title: str = "Kelas HPP",
                      cohort: str = "", for_group: bool = True) -> Meeting:
    """A two-hour session for the mentor's group (or a cohort), starting some hours from now."""
    starts_at = driver.clock.now + timedelta(hours=starts_in_hours)
    async with driver.sessions.begin() as session:
        return await create_meeting(session, title=title, cohort=cohort, mentor_id=mentor.id if for_group else None,
                                    starts_at=starts_at, ends_at=starts_at + timedelta(hours=2), place="Aula Dinas",
                                    link="", created_by_id=mentor.id, now=driver.clock.now, config=driver.config)


async def records(driver: Driver) -> list[tuple[int, int, str, str]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(Attendance).order_by(Attendance.id))).scalars()
        return [(r.meeting_id, r.participant_id, r.status, r.source) for r in rows]


async def run_job(driver: Driver, body, at: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    async with driver.sessions.begin() as session:
        return [m.text for m in await body(session, at, driver.config)]


async def test_check_in_with_code_inside_window(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=45)

    await driver.say(participant, f"hadir {meeting.checkin_code}")

    assert await driver.received(participant) == [
        "✅ Presensi *Kelas HPP* tercatat: hadir, pukul 09.45 WIB. Selamat belajar!"]
    assert await records(driver) == [(meeting.id, participant.id, "hadir", "code")]


async def test_check_in_after_grace_is_terlambat(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(hours=1, minutes=20)

    await driver.say(participant, f"hadir {meeting.checkin_code}")

    assert await driver.received(participant) == ["⏰ Presensi *Kelas HPP* tercatat: terlambat, pukul 10.20 WIB."]


async def test_check_in_outside_window_is_refused(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    await driver.say(participant, f"hadir {meeting.checkin_code}")
    driver.clock.advance(hours=3, minutes=1)
    await driver.say(participant, f"hadir {meeting.checkin_code}")

    closed = ("Saat ini tidak ada sesi yang membuka presensi. "
              "Presensi dibuka menjelang sesi dimulai.")
    assert await driver.received(participant) == [closed, closed]
    assert await records(driver) == []


async def test_rotated_code_replaces_the_old_one(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=40)
    await driver.press(mentor, f"ses:code:{meeting.id}", channel=Channel.TELEGRAM)
    async with driver.sessions() as session:
        new_code = (await session.get(Meeting, meeting.id)).checkin_code

    await driver.say(participant, f"hadir {meeting.checkin_code}")
    await driver.say(participant, f"hadir {new_code}")

    assert new_code != meeting.checkin_code
    assert (await driver.received(mentor))[-1].startswith(f"🔁 Kode baru untuk *Kelas HPP*: *{new_code}*.")
    assert await driver.received(participant) == [
        "Kode salah. Cek lagi kode yang diumumkan di ruangan (kode bisa diganti pendamping).",
        "✅ Presensi *Kelas HPP* tercatat: hadir, pukul 09.40 WIB. Selamat belajar!"]


async def test_code_alone_after_presensi_prompt(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=50)

    await driver.say(participant, "presensi")
    await driver.say(participant, "bukan kode")
    await driver.say(participant, meeting.checkin_code)

    texts = await driver.received(participant)
    assert texts[0] == "Presensi *Kelas HPP* sedang dibuka. Ketik kode 4 angka yang diumumkan di ruangan."
    assert texts[1:] == ["Kode presensi berupa 4 angka yang diumumkan di ruangan. Ketik *batal* untuk keluar.",
                         "✅ Presensi *Kelas HPP* tercatat: hadir, pukul 09.50 WIB. Selamat belajar!"]


async def test_code_written_in_a_sentence_after_presensi_prompt(driver: Driver, participant: Person,
                                                                 mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=50)

    await driver.say(participant, "presensi")
    await driver.say(participant, "kode 1234 atau 4321 ya kak?")  # two codes: not guessed
    await driver.say(participant, f"kodenya {meeting.checkin_code} kak")

    texts = await driver.received(participant)
    assert texts[1:] == ["Kode presensi berupa 4 angka yang diumumkan di ruangan. Ketik *batal* untuk keluar.",
                         "✅ Presensi *Kelas HPP* tercatat: hadir, pukul 09.50 WIB. Selamat belajar!"]
    assert await records(driver) == [(meeting.id, participant.id, "hadir", "code")]


async def test_a_question_or_another_command_leaves_the_presensi_prompt(driver: Driver, participant: Person,
                                                                         mentor: Person) -> None:
    await add_meeting(driver, mentor)
    driver.clock.advance(minutes=50)
    await driver.say(participant, "presensi")

    await driver.say(participant, "kak kodenya brp ya, sy telat masuk")  # a question for the mentor
    await driver.press(participant, "tp:lainnya")
    await driver.say(participant, "presensi")
    await driver.say(participant, "lapran")  # a mistyped command

    texts = await driver.received(participant)
    assert texts[1].startswith("Pertanyaan Anda tentang")
    assert texts[-1].startswith("Maksud Anda *laporan*?")
    async with driver.sessions() as session:
        asked = (await session.execute(select(TicketMessage.text))).scalars().all()
    assert asked == ["kak kodenya brp ya, sy telat masuk"]


async def test_button_check_in_after_mentor_opens_remote_attendance(driver: Driver, participant: Person,
                                                                     mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    await driver.press(mentor, f"ses:open:{meeting.id}", channel=Channel.TELEGRAM)
    choice = await driver.last(mentor)
    await driver.press(mentor, f"ses:remote:{meeting.id}", channel=Channel.TELEGRAM)
    invitation = await driver.last(participant)
    driver.clock.advance(minutes=5)

    await driver.press(participant, f"att:in:{meeting.id}")

    assert [b.payload for b in message_of(choice).buttons] == [f"ses:room:{meeting.id}", f"ses:remote:{meeting.id}"]
    assert message_of(invitation).text == (
        "📣 Presensi jarak jauh *Kelas HPP* dibuka. Pilih *Hadir* untuk mencatat kehadiran Anda.\n\n"
        "1. ✅ Hadir\nBalas dengan angka 1.")
    assert [b.payload for b in message_of(invitation).buttons] == [f"att:in:{meeting.id}"]
    assert await records(driver) == [(meeting.id, participant.id, "hadir", "button")]


async def test_opening_in_the_room_sends_no_code_and_no_button(driver: Driver, participant: Person,
                                                               mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    await driver.press(mentor, f"ses:open:{meeting.id}", channel=Channel.TELEGRAM)
    await driver.press(mentor, f"ses:room:{meeting.id}", channel=Channel.TELEGRAM)
    told_mentor = (await driver.received(mentor))[-1]

    await driver.press(participant, f"att:in:{meeting.id}")  # an old button, or one typed by hand

    assert await records(driver) == []
    assert await driver.received(participant) == [
        "Presensi *Kelas HPP* sedang dibuka. Ketik kode 4 angka yang diumumkan di ruangan."]
    assert told_mentor == (f"📣 Presensi *Kelas HPP* dibuka. Bacakan kode ini di ruangan: *{meeting.checkin_code}*. "
                           f"Peserta mengetik *hadir {meeting.checkin_code}*.")


async def test_izin_with_photo_approved_by_mentor(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor, starts_in_hours=26)
    photo = Attachment("photo", "https://api.twilio.com/media/1", Channel.WHATSAPP, "image/jpeg")
    await driver.press(participant, f"att:leave:{meeting.id}:sakit")
    await driver.say(participant, "", attachments=[photo])
    await driver.say(participant, "Demam sejak kemarin")
    request = await driver.last(mentor)

    await driver.press(mentor, "lv:ok:1", channel=Channel.TELEGRAM)

    assert message_of(request).text.startswith("🙋 Sari Wulandari mengajukan *sakit* untuk *Kelas HPP*")
    assert message_of(request).attachments[0].ref == "https://api.twilio.com/media/1"
    assert (await driver.received(participant))[-1] == (
        "✅ Pengajuan sakit Anda untuk *Kelas HPP* disetujui oleh Budi Santoso.")
    assert await records(driver) == [(meeting.id, participant.id, "sakit", "leave")]


async def test_other_mentor_cannot_decide_izin(driver: Driver, participant: Person, mentor: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    meeting = await add_meeting(driver, mentor, starts_in_hours=5)
    await driver.press(participant, f"att:leave:{meeting.id}:izin")
    await driver.say(participant, "Ada acara keluarga")

    await driver.press(other, "lv:ok:1")

    assert await driver.received(other) == ["Pengajuan itu tidak ditemukan di daftar Anda."]
    assert await records(driver) == []


async def test_window_close_marks_alpa_once(driver: Driver, participant: Person, mentor: Person) -> None:
    friend = await driver.add_person(role=Role.PESERTA, name="Andi", phone="+6281200000002", mentor_id=mentor.id)
    meeting = await add_meeting(driver, mentor)
    driver.clock.advance(minutes=45)
    await driver.say(friend, f"hadir {meeting.checkin_code}")
    after_end = driver.clock.now + timedelta(hours=3)

    await run_job(driver, close_checkin_windows, after_end)
    await run_job(driver, close_checkin_windows, after_end + timedelta(minutes=5))

    assert await records(driver) == [(meeting.id, friend.id, "hadir", "code"),
                                     (meeting.id, participant.id, "alpa", "auto")]


async def test_second_consecutive_alpa_alerts_mentor(driver: Driver, participant: Person, mentor: Person) -> None:
    first = await add_meeting(driver, mentor, title="Sesi 1")
    await add_meeting(driver, mentor, starts_in_hours=26, title="Sesi 2")

    alerts_day_one = await run_job(driver, close_checkin_windows, first.ends_at + timedelta(minutes=1))
    alerts_day_two = await run_job(driver, close_checkin_windows, driver.clock.now + timedelta(days=2))

    assert alerts_day_one == []
    assert alerts_day_two == ["⚠️ Sari Wulandari sudah 2 kali berturut-turut alpa (terakhir: *Sesi 2*). "
                              "Mungkin perlu dihubungi: +6281200000001."]


async def test_izin_breaks_the_absence_streak(driver: Driver, participant: Person, mentor: Person) -> None:
    first = await add_meeting(driver, mentor, title="Sesi 1")
    second = await add_meeting(driver, mentor, starts_in_hours=26, title="Sesi 2")
    await driver.press(participant, f"att:leave:{second.id}:izin")
    await driver.say(participant, "Mengantar ibu ke rumah sakit")
    await driver.press(mentor, "lv:ok:1", channel=Channel.TELEGRAM)

    await run_job(driver, close_checkin_windows, first.ends_at + timedelta(minutes=1))
    alerts = await run_job(driver, close_checkin_windows, driver.clock.now + timedelta(days=2))

    assert alerts == []


async def test_mentor_correction_is_logged_and_told(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor)
    await run_job(driver, close_checkin_windows, meeting.ends_at)

    await driver.press(mentor, f"ses:set:{meeting.id}:{participant.id}:hadir", channel=Channel.TELEGRAM)

    assert (await records(driver))[0][2:] == ("hadir", "mentor")
    async with driver.sessions() as session:
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "attendance.correct"))).scalar_one()
    assert (entry.actor_id, entry.detail) == (mentor.id, {"from": "alpa", "to": "hadir"})
    assert (await driver.received(participant))[-1] == (
        "✏️ Presensi Anda di *Kelas HPP* diubah menjadi *hadir* oleh Budi Santoso.")


async def test_reminders_day_before_and_hour_before_once_each(driver: Driver, participant: Person,
                                                              mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor, starts_in_hours=30)
    start = meeting.starts_at

    too_early = await run_job(driver, send_session_reminders, start - timedelta(hours=25))
    day_before = await run_job(driver, send_session_reminders, start - timedelta(hours=23, minutes=55))
    repeated = await run_job(driver, send_session_reminders, start - timedelta(hours=23, minutes=50))
    hour_before = await run_job(driver, send_session_reminders, start - timedelta(minutes=58))

    assert (too_early, repeated) == ([], [])
    assert day_before == ["🔔 Besok: *Kelas HPP*\nKamis, 5 Mar 2026, 15.00–17.00 WIB\nTempat: Aula Dinas\n\n"
                          "Berhalangan? Buka menu *Presensi* untuk izin/sakit."]
    assert hour_before[0].startswith("⏰ Satu jam lagi: *Kelas HPP*")


async def test_session_list_shows_day_and_start_time(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor, starts_in_hours=26)  # Thursday 5 March, 11.00 WIB

    await driver.say(mentor, "sesi", channel=Channel.TELEGRAM)

    listing = await driver.last(mentor)
    assert [(b.label, b.payload) for b in message_of(listing).buttons] == [
        ("Kelas HPP · 5 Mar 11.00", f"ses:show:{meeting.id}"), ("➕ Buat sesi", "sesf:new")]


async def test_participant_cannot_manage_sessions(driver: Driver, participant: Person) -> None:
    await driver.say(participant, "sesi")

    assert await driver.received(participant) == [
        "Maaf, perintah ini bukan untuk peran Anda. Ketik *menu* untuk melihat pilihan Anda."]


async def test_coordinator_creates_session_from_chat(driver: Driver, participant: Person, coordinator: Person) -> None:
    await driver.press(coordinator, "sesf:new")
    await driver.say(coordinator, "Sesi 3: Pemasaran digital")
    await driver.say(coordinator, "kemarin lusa")
    await driver.say(coordinator, "besok")
    await driver.say(coordinator, "jam sembilan")
    await driver.say(coordinator, "09.00-11.00")
    await driver.say(coordinator, "Online https://meet.google.com/abc-defg-hij")
    await driver.press(coordinator, "sesf:save")

    texts = await driver.received(coordinator)
    assert texts[1] == "Tanggal? (mis. *12/3*, *12 Mar*, *besok*, *senin*)\nKetik *batal* untuk berhenti."
    assert texts[2].startswith("Tanggal belum bisa saya baca.\n\nTanggal?")
    assert texts[4].startswith("Jam belum bisa saya baca;")
    assert "Untuk: Angkatan 1\n\nPilih *Simpan*, atau ketik *batal*." in texts[6]
    assert texts[7].startswith("✅ Sesi *Sesi 3: Pemasaran digital* disimpan dan diumumkan ke 1 peserta.")
    assert (await driver.received(participant)) == [
        "🗓 Sesi baru: *Sesi 3: Pemasaran digital*\nKamis, 5 Mar 2026, 09.00–11.00 WIB\n"
        "Tempat: https://meet.google.com/abc-defg-hij\n\nPresensi dengan kode dari ruangan. "
        "Berhalangan? Buka menu *Presensi* untuk izin/sakit."]


async def test_same_day_session_gets_today_reminder_not_right_after_announcement(
        driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_meeting(driver, mentor, starts_in_hours=6)

    right_away = await run_job(driver, send_session_reminders, driver.clock.now)
    later = await run_job(driver, send_session_reminders, driver.clock.now + timedelta(hours=3))

    assert right_away == []
    assert later == [f"🔔 Hari ini: *Kelas HPP*\nRabu, 4 Mar 2026, 15.00–17.00 WIB\nTempat: {meeting.place}\n\n"
                     "Berhalangan? Buka menu *Presensi* untuk izin/sakit."]
