"""No dead ends: the queue shows the question, approvals work by command, every state offers a next step."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from storage.models import Attendance, LeaveRequest, Meeting, Person, Role
from tests.support.driver import Driver

TG = Channel.TELEGRAM


async def add_session(driver: Driver, mentor: Person, *, days: float = 1, title: str = "Kelas Pemasaran") -> Meeting:
    starts = driver.clock.now + timedelta(days=days)
    async with driver.sessions.begin() as session:
        meeting = Meeting(title=title, cohort="", mentor_id=mentor.id, starts_at=starts,
                          ends_at=starts + timedelta(hours=2), checkin_opens_at=starts - timedelta(minutes=30),
                          checkin_closes_at=starts + timedelta(minutes=15), late_after_at=starts,
                          checkin_code="4821", created_by_id=mentor.id, created_at=driver.clock.now)
        session.add(meeting)
    return meeting


async def ask_leave(driver: Driver, participant: Person, meeting: Meeting, kind: str, reason: str) -> None:
    await driver.press(participant, f"att:leave:{meeting.id}:{kind}")
    await driver.say(participant, reason)


async def leave_statuses(driver: Driver) -> list[tuple[int, str]]:
    async with driver.sessions() as session:
        rows = (await session.execute(select(LeaveRequest).order_by(LeaveRequest.id))).scalars()
        return [(row.id, row.status) for row in rows]


# antrian ---------------------------------------------------------------------------------------

async def test_queue_previews_the_question_not_the_latest_follow_up(driver: Driver, participant: Person,
                                                                    mentor: Person) -> None:
    await driver.say(participant, "kak modal buat beli oven bisa dari KUR ga?")
    await driver.press(participant, "tp:permodalan")
    await driver.say(participant, "oiya sy sdh punya NIB")
    await driver.say(participant, "usaha jalan 2 thn")

    await driver.say(mentor, "antrian", channel=TG)

    queue = message_of(await driver.last(mentor)).text
    assert "“kak modal buat beli oven bisa dari KUR ga?”\n➕ 2 pesan tambahan" in queue
    assert "usaha jalan 2 thn" not in queue


# izin / setujui / tolak ------------------------------------------------------------------------

async def test_mentor_lists_pending_requests_and_approves_by_command(driver: Driver, participant: Person,
                                                                      mentor: Person) -> None:
    meeting = await add_session(driver, mentor)
    await ask_leave(driver, participant, meeting, "sakit", "demam sejak semalam kak")

    await driver.say(mentor, "izin", channel=TG)
    listing = message_of(await driver.last(mentor))
    await driver.say(mentor, "setujui 1", channel=TG)

    assert listing.text.startswith("🙋 *Pengajuan izin/sakit menunggu: 1*\n\n*#1* Sari Wulandari — sakit\n"
                                   "Kelas Pemasaran, ")
    assert "Alasan: demam sejak semalam kak" in listing.text
    assert listing.text.endswith("Ketik *setujui 1* atau *tolak 1 <alasan>*.")
    assert [b.payload for b in listing.buttons] == ["lv:ok:1", "lv:no:1"]
    assert (await driver.received(mentor))[-1] == "Pengajuan Sari Wulandari: disetujui. Peserta sudah diberi tahu."
    assert (await driver.received(participant))[-1].startswith("✅ Pengajuan sakit Anda untuk *Kelas Pemasaran* disetujui")
    assert await leave_statuses(driver) == [(1, "approved")]
    async with driver.sessions() as session:
        statuses = (await session.execute(select(Attendance.status))).scalars().all()
    assert list(statuses) == ["sakit"]


async def test_reject_by_command_passes_the_reason_on(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_session(driver, mentor)
    await ask_leave(driver, participant, meeting, "izin", "ada acara keluarga")

    await driver.say(mentor, "tolak 1 sesi ini wajib, materi ujian", channel=TG)

    assert (await driver.received(participant))[-1].endswith("\nAlasan: sesi ini wajib, materi ujian")
    assert await leave_statuses(driver) == [(1, "rejected")]


async def test_whatsapp_mentor_whose_options_scrolled_away_acts_by_command(driver: Driver, participant: Person) -> None:
    wa_mentor = await driver.add_person(role=Role.PENDAMPING, name="Wati Mentor", phone="+6281100000009",
                                        preferred_channel=Channel.WHATSAPP.value)
    dewi = await driver.add_person(role=Role.PESERTA, name="Dewi", phone="+6281200000002", mentor_id=wa_mentor.id)
    meeting = await add_session(driver, wa_mentor)
    await ask_leave(driver, dewi, meeting, "sakit", "anak sakit kak")
    notice = (await driver.received(wa_mentor))[-1]
    await driver.say(wa_mentor, "menu")  # newer options replace the approve/reject ones
    await driver.received(wa_mentor)

    await driver.say(wa_mentor, "setujui 1")

    assert "Atau ketik *setujui 1* / *tolak 1 <alasan>*." in notice
    assert (await driver.received(wa_mentor))[-1] == "Pengajuan Dewi: disetujui. Peserta sudah diberi tahu."
    assert await leave_statuses(driver) == [(1, "approved")]


async def test_izin_without_pending_requests_offers_the_sessions(driver: Driver, mentor: Person) -> None:
    await driver.say(mentor, "izin", channel=TG)

    reply = message_of(await driver.last(mentor))
    assert reply.text == "✅ Tidak ada pengajuan izin/sakit yang menunggu."
    assert [b.payload for b in reply.buttons] == ["cmd:sesi"]


async def test_mentor_sees_only_own_participants_requests(driver: Driver, participant: Person, mentor: Person) -> None:
    other = await driver.add_person(role=Role.PENDAMPING, name="Lain", phone="+6281100000002")
    meeting = await add_session(driver, mentor)
    await ask_leave(driver, participant, meeting, "izin", "ke bank urus KUR")

    await driver.say(other, "izin")
    await driver.say(other, "setujui 1")

    listing, refused = await driver.received(other)
    assert listing.startswith("✅ Tidak ada pengajuan izin/sakit yang menunggu.")
    assert refused == "Pengajuan itu tidak ditemukan di daftar Anda."
    assert await leave_statuses(driver) == [(1, "pending")]


async def test_decided_request_is_not_decided_twice(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_session(driver, mentor)
    await ask_leave(driver, participant, meeting, "izin", "ke bank urus KUR")
    await driver.press(mentor, "lv:ok:1", channel=TG)

    await driver.say(mentor, "tolak 1", channel=TG)

    assert (await driver.received(mentor))[-1] == "Pengajuan Sari Wulandari sudah diputuskan: disetujui."
    assert await leave_statuses(driver) == [(1, "approved")]


async def test_participants_izin_is_still_a_leave_request(driver: Driver, participant: Person, mentor: Person) -> None:
    await add_session(driver, mentor)

    await driver.say(participant, "izin")
    await driver.say(participant, "setujui")

    offer, refused = await driver.received(participant)
    assert offer.startswith("Mau minta izin untuk *Kelas Pemasaran*")
    assert refused.startswith("Maaf, perintah ini bukan untuk peran Anda.")


async def test_session_detail_names_the_izin_command(driver: Driver, participant: Person, mentor: Person) -> None:
    meeting = await add_session(driver, mentor)
    await ask_leave(driver, participant, meeting, "izin", "ke bank urus KUR")

    await driver.press(mentor, f"ses:show:{meeting.id}", channel=TG)

    detail = message_of(await driver.last(mentor))
    assert "Pengajuan izin menunggu: 1 (ketik *izin* untuk memutuskan)." in detail.text
    assert "cmd:izin" in [b.payload for b in detail.buttons]


# hadir with nothing ahead ----------------------------------------------------------------------

async def test_hadir_with_no_session_ahead_says_so_and_offers_next_steps(driver: Driver, participant: Person,
                                                                        mentor: Person) -> None:
    await driver.say(participant, "hadir")

    reply = message_of(await driver.last(participant))
    assert reply.text.startswith("📍 *Presensi*\n\nBelum ada sesi untuk Anda dalam 14 hari ke depan")
    assert "Pilih *Izin*" not in reply.text
    assert [b.payload for b in reply.buttons] == ["cmd:tugas", "cmd:menu"]
    assert "1. 📝 Tugas\n2. 🏠 Menu" in reply.text  # WhatsApp shows the options as numbers


async def test_hadir_with_a_session_ahead_still_offers_izin_and_sakit(driver: Driver, participant: Person,
                                                                      mentor: Person) -> None:
    meeting = await add_session(driver, mentor)

    await driver.say(participant, "hadir")

    assert [b.payload for b in message_of(await driver.last(participant)).buttons] == [
        f"att:leave:{meeting.id}:izin", f"att:leave:{meeting.id}:sakit"]
