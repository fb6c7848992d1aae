"""Mentor changes and rekap through both peers.

A coordinator moves 30 participants (half on Telegram, half on WhatsApp) from a Telegram mentor to a WhatsApp
mentor: everyone is told once (counted at the emulator and at the Twilio mock), open tickets and their history
follow, and kinerja counts what happened before the move for the old mentor and after it for the new one.
Coordinators ask for a `rekap` in chat on both channels; the workbook downloaded from each peer is read back with
openpyxl and every figure equals a count made here from the rows the test wrote.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import KlinikApp
from handlers.kernel.config import Config
from handlers.kernel.dates import month_label, month_of, previous_month
from handlers.reports.performance import mentor_months
from storage.models import Mentorship, Person, Role, Ticket, TicketStatus
from tests.e2e.harness import (
    MENTOR_CHAT,
    Klinik,
    body,
    mentor_on_telegram,
)
from tests.support.programme import Programme

pytestmark = pytest.mark.e2e

JAKARTA = ZoneInfo("Asia/Jakarta")
ANDI_PHONE = "+6281100000002"
COORDINATOR_PHONE = "+6281300000001"
COORDINATOR_CHAT = 8001
GROUP = 30


async def start_quiet(klinik: Klinik) -> KlinikApp:
    """Start the app and pause its scheduler (no reminder slips into the counts)."""
    app = await klinik.start()
    app.scheduler.pause()
    return app


def recent() -> datetime:
    """Inside the WhatsApp 24-hour window."""
    return datetime.now(UTC) - timedelta(hours=1)


async def test_thirty_participants_move_told_once_tickets_follow_and_figures_split_at_the_move(
        klinik: Klinik) -> None:
    budi = await mentor_on_telegram(klinik)
    andi = await klinik.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone=ANDI_PHONE,
                                   preferred_channel="whatsapp", last_whatsapp_inbound_at=recent())
    await klinik.add_person(role=Role.KOORDINATOR, name="Rina Dinas", phone=COORDINATOR_PHONE,
                                          preferred_channel="whatsapp", last_whatsapp_inbound_at=recent())
    group: list[Person] = []
    for i in range(GROUP):
        on_telegram = i % 2 == 0
        channel: dict[str, Any] = ({"telegram_user_id": str(7000 + i), "telegram_chat_id": str(7000 + i),
                                    "preferred_channel": "telegram"} if on_telegram else
                                   {"preferred_channel": "whatsapp", "last_whatsapp_inbound_at": recent()})
        group.append(await klinik.add_person(role=Role.PESERTA, name=f"Peserta {i + 1:02d}",
                                             phone=f"+62812000001{i:02d}", mentor_id=budi.id,
                                             business_name=f"Usaha {i + 1}", cohort="Angkatan 1", **channel))
    await start_quiet(klinik)
    emulator, token = klinik.emulator, klinik.token
    on_whatsapp, on_telegram = group[1], group[0]

    # Before the move: a WhatsApp question Budi answers on Telegram, a Telegram question nobody answers yet.
    await klinik.whatsapp(on_whatsapp.phone, "kak cara daftar NIB buat usaha keripik gimana ya")
    await klinik.wait_whatsapp(on_whatsapp.phone, lambda r: "1. ✅" in body(r))
    await klinik.whatsapp(on_whatsapp.phone, "1")
    notice = await emulator.wait_for(token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    await emulator.send_message(token, MENTOR_CHAT, "Daftar di oss.go.id kak, gratis.",
                                reply_to_message_id=notice.message_id)
    await klinik.wait_whatsapp(on_whatsapp.phone, lambda r: "oss.go.id" in body(r))
    user = int(on_telegram.telegram_chat_id or 0)
    await emulator.send_message(token, user, "modal awal buat gerobak darimana ya kak")
    topic = await emulator.wait_for(token, user, lambda m: "betul?" in (m.text or ""))
    await emulator.send_callback(token, user, topic.callback_data[0], topic.message_id)
    await emulator.wait_for(token, user, lambda m: "diterima" in (m.text or ""))
    await klinik.settled()
    await Programme(klinik.sessions).report(group[2], month_of(datetime.now(UTC), JAKARTA), datetime.now(UTC))
    for person in group:  # what each had before the move is set aside
        if person.telegram_chat_id:
            await emulator.get_updates(token, person.telegram_chat_id)
    await emulator.get_updates(token, MENTOR_CHAT)
    before = {p.phone: len(klinik.twilio_messages(p.phone)) for p in [*group, andi]}

    await klinik.whatsapp(COORDINATOR_PHONE, "pindahpeserta 0811-0000-0001 0811-0000-0002")
    confirm = await klinik.wait_whatsapp(COORDINATOR_PHONE, lambda r: "Pindahkan" in body(r))
    assert body(confirm).startswith(f"Pindahkan {GROUP} peserta dari Budi Santoso ke Andi Wijaya?")
    assert "… dan 0" not in body(confirm)
    await klinik.whatsapp(COORDINATOR_PHONE, "1")
    done = await klinik.wait_whatsapp(COORDINATOR_PHONE, lambda r: "dipindah" in body(r))
    assert body(done) == f"✅ {GROUP} peserta dipindah dari Budi Santoso ke Andi Wijaya."
    await klinik.settled(timeout=20)

    told: dict[str, list[str]] = {}
    for person in group:
        if person.telegram_chat_id:
            told[person.name] = [m.text or "" for m in await emulator.get_updates(token, person.telegram_chat_id)]
        else:
            told[person.name] = [body(r) for r in klinik.twilio_messages(person.phone)[before[person.phone]:]]
    assert {name: len(texts) for name, texts in told.items()} == {p.name: 1 for p in group}
    assert all("pendamping Anda adalah" in texts[0] and "Andi Wijaya" in texts[0] for texts in told.values())
    assert "(#2) ikut dipindah" in told[on_telegram.name][0]
    assert "(#1) ikut dipindah" in told[on_whatsapp.name][0]
    briefs = [body(r) for r in klinik.twilio_messages(ANDI_PHONE)[before[ANDI_PHONE]:]]
    assert sorted(b.split("*")[1] for b in briefs if b.startswith("👋 Peserta baru Anda")) == sorted(
        p.name for p in group)
    (farewell,) = await emulator.get_updates(token, MENTOR_CHAT)
    assert (farewell.text or "").startswith(f"ℹ️ {GROUP} peserta Anda dipindah ke pendamping lain")
    assert [(t.id, t.mentor_id) for t in await klinik.all(Ticket)] == [(1, andi.id), (2, andi.id)]

    # The history came along: Andi opens #1 and sees the question and Budi's answer; he answers #2.
    await klinik.whatsapp(ANDI_PHONE, "buka 1")
    thread = await klinik.wait_whatsapp(ANDI_PHONE, lambda r: "#1" in body(r) and "oss.go.id" in body(r))
    assert "daftar NIB" in body(thread)
    assert "Budi Santoso" in body(thread)
    await klinik.whatsapp(ANDI_PHONE, "jawab 2 Bisa coba KUR mikro di bank terdekat kak.")
    answer = await emulator.wait_for(token, user, lambda m: "KUR mikro" in (m.text or ""))
    assert (answer.text or "").startswith("💬 Jawaban pendamping Andi Wijaya untuk pertanyaan #2")
    await klinik.settled()

    # Kinerja: before the move for Budi, after it for Andi.
    async with klinik.sessions() as session:
        moved_at = (await session.execute(select(Mentorship.started_at).where(
            Mentorship.mentor_id == andi.id).limit(1))).scalar_one()
    programme = Programme(klinik.sessions)
    await programme.meeting(moved_at - timedelta(minutes=1), cohort="Angkatan 1",
                            present=dict.fromkeys(group[:10], "hadir"))
    await programme.meeting(moved_at + timedelta(seconds=1), cohort="Angkatan 1",
                            present=dict.fromkeys(group[:20], "terlambat"))
    await programme.report(group[3], month_of(moved_at, JAKARTA), datetime.now(UTC))
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with klinik.sessions() as session:
        months = {m.name: m for m in await mentor_months(session, month_of(moved_at, JAKARTA), now,
                                                         Config(timezone=JAKARTA))}
    figures = {name: (m.participants, m.questions, m.answered, m.recorded, m.present, m.reports_sent, m.reports_due)
               for name, m in months.items()}
    assert figures == {"Budi Santoso": (0, 1, 1, GROUP, 10, 1, 1), "Andi Wijaya": (GROUP, 1, 1, GROUP, 20, 1, 29)}
    (status,) = {t.status for t in await klinik.all(Ticket, Ticket.id == 2)}
    assert status == TicketStatus.ANSWERED
    assert await klinik.count(Person, Person.mentor_id == andi.id) == GROUP


# ---------------------------------------------------------------------- rekap from chat


PEOPLE = [("Sari", "Budi Santoso", "Angkatan 1"), ("Joko", "Budi Santoso", "Angkatan 1"),
          ("Wati", "Dewi Lestari", "Angkatan 2"), ("Rina", "Dewi Lestari", "Angkatan 2")]
MEETINGS = [(3, "Angkatan 1", {"Sari": "hadir", "Joko": "terlambat"}), (10, "Angkatan 1", {"Sari": "izin"}),
            (5, "Angkatan 2", {"Wati": "sakit", "Rina": "hadir"})]  # anyone not listed is alpa at closing
TUGAS = [(12, "Angkatan 1", {"Sari": 11}), (20, "Angkatan 2", {"Wati": 19, "Rina": 21})]
REPORTS = {"Sari": 1_000_000, "Wati": 1_000_000}
TICKETS = [("Sari", 4, True, 5), ("Joko", 6, False, None), ("Wati", 7, True, 3)]
STATUS_ORDER = ["hadir", "terlambat", "izin", "sakit", "alpa"]


def expected(names: set[str]) -> dict[str, Any]:
    """The hand count of the workbook for these participants."""
    cohorts = {name: cohort for name, _mentor, cohort in PEOPLE}
    statuses: dict[str, Counter[str]] = {name: Counter() for name in names}
    for _day, cohort, present in MEETINGS:
        for name in names:
            if cohorts[name] == cohort:
                statuses[name][present.get(name, "alpa")] += 1
    due = {name: sum(cohorts[name] == cohort for _d, cohort, _s in TUGAS) for name in names}
    sent = {name: sum(name in s for _d, _c, s in TUGAS) for name in names}
    questions = Counter(name for name, *_ in TICKETS if name in names)
    register = {}
    for name in names:
        present = statuses[name]["hadir"] + statuses[name]["terlambat"]
        recorded = sum(statuses[name].values())
        register[name] = (present, recorded, round(100 * present / recorded, 1) if recorded else None,
                          sent[name], due[name], questions[name])
    tickets = [row for row in TICKETS if row[0] in names]
    ratings = [rating for *_rest, rating in tickets if rating is not None]
    return {"register": register,
            "totals": {name: (*tuple(statuses[name][s] for s in STATUS_ORDER), sum(statuses[name].values()))
                       for name in names if statuses[name]},
            "tugas_rows": sum(due.values()), "tugas_sent": sum(sent.values()),
            "reports": {name: ("Terkirim", REPORTS[name]) if name in REPORTS else ("Belum lapor", None)
                        for name in names},
            "tickets": len(tickets), "answered": sum(answered for _n, _d, answered, _r in tickets),
            "rating": round(sum(ratings) / len(ratings), 2) if ratings else None}


def read_back(content: bytes) -> dict[str, Any]:
    """The same figures as the workbook holds them."""
    book = load_workbook(io.BytesIO(content))
    sheet = {name: list(book[name].iter_rows(values_only=True))[1:] for name in book.sheetnames}
    topics = sheet["Topik konsultasi"]
    return {"register": {row[1]: (row[7], row[8], row[9], row[10], row[11], row[14]) for row in sheet["Peserta"]},
            "totals": {row[0]: tuple(row[2:8]) for row in sheet["Presensi per peserta"]},
            "tugas_rows": len(sheet["Tugas"]),
            "tugas_sent": sum(row[5] is not None for row in sheet["Tugas"]),
            "reports": {row[1]: (row[3], row[4]) for row in sheet["Laporan bulanan"]},
            "tickets": len(sheet["Konsultasi"]), "answered": sum(row[2] for row in topics),
            "rating": topics[0][5] if len(topics) == 1 else [row[5] for row in topics]}


async def test_rekap_asked_in_chat_on_both_channels_matches_a_hand_count(klinik: Klinik) -> None:
    budi = await mentor_on_telegram(klinik)
    dewi = await klinik.add_person(role=Role.PENDAMPING, name="Dewi Lestari", phone="+6281100000003",
                                   preferred_channel="whatsapp")
    await klinik.add_person(role=Role.KOORDINATOR, name="Rina Dinas", phone=COORDINATOR_PHONE,
                            preferred_channel="whatsapp", last_whatsapp_inbound_at=recent())
    await klinik.add_person(role=Role.KOORDINATOR, name="Tono Dinas", phone="+6281300000002",
                            telegram_user_id=str(COORDINATOR_CHAT), telegram_chat_id=str(COORDINATOR_CHAT),
                            preferred_channel="telegram")
    mentors = {"Budi Santoso": budi, "Dewi Lestari": dewi}
    people = {name: await klinik.add_person(role=Role.PESERTA, name=name, phone=f"+628120000020{i}",
                                            mentor_id=mentors[mentor].id, cohort=cohort)
              for i, (name, mentor, cohort) in enumerate(PEOPLE)}
    month = previous_month(month_of(datetime.now(UTC), JAKARTA))  # all of it in the past

    def at(day: int) -> datetime:
        return datetime.fromisoformat(f"{month}-{day:02d}T10:00").replace(tzinfo=JAKARTA)

    programme = Programme(klinik.sessions)
    for day, cohort, present in MEETINGS:
        await programme.meeting(at(day), cohort=cohort, present={people[n]: s for n, s in present.items()})
    for day, cohort, sent in TUGAS:
        await programme.tugas(at(day), cohort=cohort, sent={people[n]: at(d) for n, d in sent.items()})
    for name in REPORTS:
        await programme.report(people[name], month, at(25))
    for name, day, answered, rating in TICKETS:
        await programme.ticket(people[name], at(day), answered_at=at(day) if answered else None, rating=rating)
    await start_quiet(klinik)
    emulator, token = klinik.emulator, klinik.token

    # Telegram: the coordinator picks "the whole programme" and gets the file as a document.
    await emulator.send_message(token, COORDINATOR_CHAT, f"rekap {month}")
    pick = await emulator.wait_for(token, COORDINATOR_CHAT, lambda m: bool(m.callback_data))
    await emulator.send_callback(token, COORDINATOR_CHAT, f"rkp:{month}|programme|", pick.message_id)
    document = await emulator.wait_for(token, COORDINATOR_CHAT, lambda m: m.document is not None, timeout=10)
    async with httpx.AsyncClient(timeout=10) as client:
        from_telegram = await client.get(f"{emulator.bot_file_url}{token}/files/{document.document}")
    assert from_telegram.status_code == 200
    assert document.params.get("file_name", "").startswith(f"rekap-{month}")
    assert read_back(from_telegram.content) == expected(set(people))

    # WhatsApp: the other coordinator types Dewi's group and fetches the media URL as Twilio would.
    await klinik.whatsapp(COORDINATOR_PHONE, f"rekap {month} pendamping Dewi")
    sent = await klinik.wait_whatsapp(COORDINATOR_PHONE, lambda r: bool(r.data.get("MediaUrl")), timeout=10)
    (media_url,) = sent.data["MediaUrl"]
    async with httpx.AsyncClient(timeout=10) as client:
        from_whatsapp = await client.get(str(media_url))
    assert from_whatsapp.status_code == 200
    assert read_back(from_whatsapp.content) == expected({"Wati", "Rina"})
    assert month_label(month, "id") in body(sent)
