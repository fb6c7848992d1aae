"""Data-subject rights through the real peers: `data saya` arrives as a file that matches the database,
and a typed withdrawal stops processing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from storage.models import ConsentRecord, Person, Ticket, TicketStatus
from tests.e2e.harness import (
    Klinik,
    ask_on_whatsapp,
    body,
    mentor_on_telegram,
    participant_on_whatsapp,
)

pytestmark = pytest.mark.e2e


async def test_data_saya_on_whatsapp_is_a_file_that_matches_the_database(klinik: Klinik, tmp_path: Path) -> None:
    participant = await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start(media_dir=str(tmp_path / "media"))
    await ask_on_whatsapp(klinik, participant.phone)
    await klinik.wait_whatsapp(participant.phone, lambda r: "diterima" in body(r))

    await klinik.whatsapp(participant.phone, "data saya")
    sent = await klinik.wait_whatsapp(participant.phone, lambda r: "salinan data" in body(r))
    (media_url,) = sent.data["MediaUrl"]
    async with httpx.AsyncClient() as client:
        fetched = await client.get(str(media_url))  # what Twilio does with MediaUrl

    assert fetched.status_code == 200
    data = fetched.json()
    (stored,) = await klinik.all(Person, Person.id == participant.id)
    (ticket,) = await klinik.all(Ticket)
    assert (data["profile"]["name"], data["profile"]["phone"], data["profile"]["business_name"]) == (
        stored.name, stored.phone, stored.business_name)
    assert [(q["number"], q["status"], q["messages"][0]["text"]) for q in data["questions"]] == [
        (ticket.id, ticket.status, "Bagaimana cara daftar NIB untuk usaha keripik rumahan?")]


async def test_typed_withdrawal_is_confirmed_and_stops_processing(klinik: Klinik) -> None:
    participant = await participant_on_whatsapp(klinik, await mentor_on_telegram(klinik))
    await klinik.start()
    await ask_on_whatsapp(klinik, participant.phone)
    await klinik.wait_whatsapp(participant.phone, lambda r: "diterima" in body(r))

    await klinik.whatsapp(participant.phone, "cabut persetujuan")
    confirm = await klinik.wait_whatsapp(participant.phone, lambda r: "mencabut persetujuan" in body(r))
    await klinik.whatsapp(participant.phone, "1")
    done = await klinik.wait_whatsapp(participant.phone, lambda r: "sudah dicabut" in body(r))
    await klinik.whatsapp(participant.phone, "kak satu lagi, modal usaha dari mana ya")
    asked = await klinik.wait_whatsapp(participant.phone)
    await klinik.settled()

    assert body(confirm).endswith("1. Ya, cabut persetujuan\n2. Tidak jadi\nBalas dengan angka 1–2.")
    assert body(done).startswith("Persetujuan Anda sudah dicabut.")
    assert "setuju" in body(asked).lower()  # asked for consent again, not taken as a question
    (ticket,) = await klinik.all(Ticket)
    assert ticket.status == TicketStatus.CLOSED
    assert [(r.action, r.channel) for r in await klinik.all(ConsentRecord)] == [("withdrawn", "whatsapp")]
