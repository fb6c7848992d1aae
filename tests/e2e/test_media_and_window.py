"""Delivery across channels: media relayed both ways, and answers held behind WhatsApp's 24-hour window."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web

from handlers.kernel.outbox import message_of
from storage.models import OutboxMessage, OutboxStatus, Person
from tests.e2e.harness import (
    ANSWER,
    HELD_TEMPLATE,
    MENTOR_CHAT,
    QUESTION,
    Klinik,
    ask_on_whatsapp,
    body,
    mentor_on_telegram,
    new_sid,
    participant_on_whatsapp,
)
from tests.support.peers import free_port

pytestmark = pytest.mark.e2e

# A 1×1 PNG (a red pixel): small enough to read, real enough for any image viewer.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


@dataclass
class FileServer:
    """Serves fixed files on loopback, as Twilio's media URLs do, and records each request."""

    url: str
    files: dict[str, tuple[bytes, str]]
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # path, Authorization


@pytest.fixture
async def file_server() -> AsyncIterator[FileServer]:
    server = FileServer(url="", files={"/Media/ME1.png": (PNG, "image/png")})

    async def serve(request: web.Request) -> web.Response:
        server.requests.append((request.path, request.headers.get("Authorization")))
        if request.path not in server.files:
            return web.Response(status=404)
        content, mime = server.files[request.path]
        return web.Response(body=content, content_type=mime)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def answer_by_reply(klinik: Klinik, text: str) -> None:
    """The Telegram mentor replies to the question's notification."""
    notice = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    await klinik.emulator.send_message(klinik.token, MENTOR_CHAT, text, reply_to_message_id=notice.message_id)


async def outbox_row(klinik: Klinik, person: Person, starts: str) -> OutboxMessage:
    """The outbox row to a person whose text starts with ``starts``."""
    rows = await klinik.all(OutboxMessage, OutboxMessage.recipient_id == person.id)
    (row,) = [r for r in rows if message_of(r).text.startswith(starts)]
    return row


async def test_photos_are_relayed_between_whatsapp_and_telegram(klinik: Klinik, file_server: FileServer) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()

    await klinik.whatsapp(participant.phone, "", NumMedia="1", MediaContentType0="image/png",
                          MediaUrl0=f"{file_server.url}/Media/ME1.png")
    await klinik.wait_whatsapp(participant.phone, lambda r: "1. ✅" in body(r))
    await klinik.whatsapp(participant.phone, "1")

    notice = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: "Pertanyaan baru" in (m.text or ""))
    assert "Keripik Sari) — Lainnya:\n\n📎\n\n" in (notice.text or "")
    photo = await klinik.emulator.wait_for(klinik.token, MENTOR_CHAT, lambda m: m.photo is not None)
    (call,) = await klinik.emulator.bot_calls(klinik.token, "sendPhoto")
    assert call["params"]["chat_id"] == str(MENTOR_CHAT)
    assert call["params"]["photo"]["size"] == len(PNG)
    assert file_server.requests == [("/Media/ME1.png", None)]  # Twilio credentials go to Twilio only
    async with httpx.AsyncClient() as client:
        relayed = await client.get(f"{klinik.emulator.url}/file/bot{klinik.token}/files/{photo.photo}")
    assert relayed.content == PNG

    file_id = await klinik.emulator.put_file(PNG, file_name="contoh-kemasan.jpg", mime_type="image/jpeg")
    sizes = [{"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1, "height": 1, "file_size": len(PNG)}]
    await klinik.emulator.send_message(klinik.token, MENTOR_CHAT, None, caption="Contoh kemasan yang menarik",
                                       photo=sizes, reply_to_message_id=notice.message_id)

    answer = await klinik.wait_whatsapp(participant.phone, lambda r: "Jawaban" in body(r))
    assert "Budi Santoso" in body(answer)
    assert "Contoh kemasan yang menarik" in body(answer)
    (media_url,) = answer.data["MediaUrl"]
    assert str(media_url).startswith(f"{klinik.base_url}/media/")
    async with httpx.AsyncClient() as client:
        fetched = await client.get(str(media_url))  # what Twilio does with MediaUrl
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/jpeg"


async def test_answer_outside_the_24_hour_window_waits_behind_a_template(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()
    await ask_on_whatsapp(klinik, participant.phone, QUESTION)
    await klinik.wait_whatsapp(participant.phone, lambda r: "diterima" in body(r))
    await klinik.settled()
    await klinik.update_person(participant.id, last_whatsapp_inbound_at=datetime.now(UTC) - timedelta(hours=25))

    await answer_by_reply(klinik, ANSWER)

    notice = await klinik.wait_whatsapp(participant.phone)
    assert "Body" not in notice.data
    assert notice.data["ContentSid"] == HELD_TEMPLATE
    assert notice.data["ContentVariables"] == '{"1": "Sari"}'
    await klinik.settled()
    held = await outbox_row(klinik, participant, "💬 Jawaban")
    assert held.status == OutboxStatus.HELD

    await klinik.whatsapp(participant.phone, "Baik, saya tunggu jawabannya")

    delivered = await klinik.wait_whatsapp(participant.phone)
    assert ANSWER in body(delivered)
    assert "ContentSid" not in delivered.data
    await klinik.settled()
    assert (await outbox_row(klinik, participant, "💬 Jawaban")).status == OutboxStatus.SENT
    assert [r.data.get("ContentSid") for r in klinik.twilio_messages(participant.phone)].count(HELD_TEMPLATE) == 1


async def test_undelivered_63016_resends_as_template_then_delivers_when_they_write(klinik: Klinik) -> None:
    mentor = await mentor_on_telegram(klinik)
    participant = await participant_on_whatsapp(klinik, mentor)
    await klinik.start()
    await ask_on_whatsapp(klinik, participant.phone, QUESTION)
    await answer_by_reply(klinik, ANSWER)
    free_text = await klinik.wait_whatsapp(participant.phone, lambda r: ANSWER in body(r))
    await klinik.settled()
    # Prism answers every create with the same example SID; Twilio's are unique.
    row = await outbox_row(klinik, participant, "💬 Jawaban")
    sid = new_sid()
    async with klinik.sessions.begin() as session:
        (await session.get(OutboxMessage, row.id)).external_id = sid

    response = await klinik.status_callback(sid, "undelivered", "63016")

    assert response.status_code == 200
    template = await klinik.wait_whatsapp(participant.phone)
    assert template.data["ContentSid"] == HELD_TEMPLATE
    assert "Body" not in template.data
    await klinik.settled()
    row = await outbox_row(klinik, participant, "💬 Jawaban")
    assert (row.status, row.delivery_status) == (OutboxStatus.HELD, "undelivered")

    await klinik.whatsapp(participant.phone, "Halo, jawabannya belum masuk")

    again = await klinik.wait_whatsapp(participant.phone)
    assert body(again) == body(free_text)
    await klinik.settled()
    assert (await outbox_row(klinik, participant, "💬 Jawaban")).status == OutboxStatus.SENT
