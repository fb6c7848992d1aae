"""The bot calls Twilio's Messages API itself (no SDK client): the SDK's form fields, Basic auth, filters and
paging, and error answers turned into the SDK's exceptions and the worker's outcomes, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.delivery import PermanentError, TransientError
from bot.media import MediaStore
from bot.whatsapp.download import download_media
from bot.whatsapp.errors import OutsideWindow
from bot.whatsapp.http import TwilioClient, make_client
from bot.whatsapp.sender import WhatsAppSender
from handlers.kernel.messages import OutgoingPart
from storage.models import OutboxMessage
from tests.support.peers import free_port

ROOT = Path(__file__).resolve().parents[2]
SID = "AC" + "7" * 32
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


@dataclass
class Arrived:
    method: str
    path: str
    query: dict[str, str]
    form: list[tuple[str, str]]
    authorization: str


@dataclass
class Peer:
    """Twilio on loopback: records each request and answers from a script (status, body, headers)."""

    url: str = ""
    arrived: list[Arrived] = field(default_factory=list)
    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    hold: float = 0.0

    def answer(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body if isinstance(body, str) else json.dumps(body), headers or {}))

    async def handle(self, request: web.Request) -> web.Response:
        form = [(key, str(value)) for key, value in (await request.post()).items()]
        self.arrived.append(Arrived(request.method, request.path, dict(request.query), form,
                                    request.headers.get("Authorization", "")))
        await asyncio.sleep(self.hold)
        status, body, headers = self.script.pop(0) if self.script else (201, json.dumps({"sid": "SM1"}), {})
        return web.Response(status=status, text=body, headers=headers, content_type="application/json")


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    found = Peer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.url = f"http://127.0.0.1:{port}"
    yield found
    await runner.cleanup()


@pytest.fixture
async def client(peer: Peer) -> AsyncIterator[TwilioClient]:
    made = make_client(SID, "rahasia", peer.url, connect_timeout=1.0, read_timeout=1.0)
    yield made
    await made.close()


def sender_on(client: TwilioClient) -> WhatsAppSender:
    return WhatsAppSender(client, async_sessionmaker(), sender="+14155238886",
                          status_callback="https://klinik.example/twilio/status", templates={},
                          media=MediaStore(async_sessionmaker()))


def by_name(form: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Fields by name; a repeated field's values in the order sent."""
    return sorted(form, key=lambda field: field[0])


def reply(text: str) -> OutboxMessage:
    return OutboxMessage(id=1, channel="whatsapp", address="+6281200000001", payload=OutgoingPart(text=text).to_json())


async def test_a_create_posts_the_sdks_form_fields_with_basic_auth(peer: Peer, client: TwilioClient) -> None:
    peer.answer(201, {"sid": "SMhalo", "status": "queued", "date_created": "Mon, 30 Nov 2026 08:15:03 +0000"})

    created = await client.create_message(
        from_="whatsapp:+14155238886", to="whatsapp:+6281200000001", body="Siap kak, besok jam 10 ya",
        media_url=["https://klinik.example/m/1.jpg", "https://klinik.example/m/2.jpg"],
        status_callback="https://klinik.example/twilio/status")
    await client.create_message(from_="whatsapp:+14155238886", to="whatsapp:+6281200000001",
                                content_sid="HX" + "a" * 32, content_variables='{"1": "Sari"}', body=None)

    assert (created.sid, created.status, created.date_created) == ("SMhalo", "queued",
                                                                   datetime(2026, 11, 30, 8, 15, 3, tzinfo=UTC))
    text, template = peer.arrived
    assert (text.method, text.path, template.path) == ("POST", MESSAGES, MESSAGES)
    assert text.authorization == "Basic " + base64.b64encode(f"{SID}:rahasia".encode()).decode()
    assert by_name(text.form) == [("Body", "Siap kak, besok jam 10 ya"), ("From", "whatsapp:+14155238886"),
                                  ("MediaUrl", "https://klinik.example/m/1.jpg"),
                                  ("MediaUrl", "https://klinik.example/m/2.jpg"),
                                  ("StatusCallback", "https://klinik.example/twilio/status"),
                                  ("To", "whatsapp:+6281200000001")]
    assert by_name(template.form) == [("ContentSid", "HX" + "a" * 32), ("ContentVariables", '{"1": "Sari"}'),
                                      ("From", "whatsapp:+14155238886"), ("To", "whatsapp:+6281200000001")]


async def test_a_list_sends_the_filters_and_follows_next_page_uri(peer: Peer, client: TwilioClient) -> None:
    second = f"{MESSAGES}?To=whatsapp%3A%2B6281200000001&PageSize=1&Page=1&PageToken=PASM2"
    peer.answer(200, {"messages": [{"sid": "SM2", "body": "Oke kak", "direction": "outbound-api",
                                    "status": "delivered", "date_created": "Mon, 30 Nov 2026 08:00:00 +0000"}],
                      "next_page_uri": second, "page": 0, "page_size": 1, "uri": MESSAGES})
    peer.answer(200, {"messages": [{"sid": "SM1", "body": "Halo", "date_created": None}],
                      "next_page_uri": None, "page": 1, "page_size": 1, "uri": second})

    first = await client.list_messages(to="whatsapp:+6281200000001", from_="whatsapp:+14155238886",
                                       date_sent_after=datetime(2026, 11, 30, tzinfo=UTC), page_size=1)
    following = await client.next_page(first)

    assert [(m.sid, m.body, m.status, m.date_created) for m in first.messages] == [
        ("SM2", "Oke kak", "delivered", datetime(2026, 11, 30, 8, tzinfo=UTC))]
    assert following is not None
    assert [(m.sid, m.date_created) for m in following.messages] == [("SM1", None)]
    assert await client.next_page(following) is None
    look, then = peer.arrived
    assert (look.method, look.path, look.query) == ("GET", MESSAGES, {
        "To": "whatsapp:+6281200000001", "From": "whatsapp:+14155238886", "DateSent>": "2026-11-30T00:00:00Z",
        "PageSize": "1"})
    assert (then.path, then.query) == (MESSAGES, {"To": "whatsapp:+6281200000001", "PageSize": "1", "Page": "1",
                                                  "PageToken": "PASM2"})


async def test_error_answers_become_the_sdks_exceptions_and_the_workers_outcomes(
        peer: Peer, client: TwilioClient) -> None:
    sender = sender_on(client)
    peer.answer(400, {"code": 63016, "message": "Failed to send freeform message", "status": 400,
                      "more_info": "https://www.twilio.com/docs/errors/63016"})
    peer.answer(400, {"code": 63003, "message": "Channel could not find To address", "status": 400})
    peer.answer(401, "<html>unauthorized</html>")
    peer.answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "7"})
    peer.answer(503, "Service Unavailable")

    with pytest.raises(OutsideWindow, match="twilio 63016: Unable to create record: Failed to send freeform"):
        await sender.send(reply("Kak, ini jawabannya"))
    with pytest.raises(PermanentError) as gone:
        await sender.send(reply("Kak, ini jawabannya"))
    with pytest.raises(TwilioRestException) as refused:
        await client.create_message(to="whatsapp:+6281200000001", body="x")
    with pytest.raises(TransientError) as busy:
        await sender.send(reply("Kak, ini jawabannya"))
    with pytest.raises(TransientError) as down:
        await sender.send(reply("Kak, ini jawabannya"))

    assert (str(gone.value), gone.value.unreachable) == (
        "twilio 63003: Unable to create record: Channel could not find To address", True)
    assert (refused.value.status, refused.value.code, refused.value.msg) == (401, 401, "Unable to create record")
    assert (str(busy.value), busy.value.retry_after) == ("twilio 429: Too Many Requests", 7.0)
    assert (str(down.value), down.value.retry_after) == ("twilio 503: busy", None)


async def test_a_send_whose_answer_never_came_may_have_arrived_and_one_never_connected_did_not(
        peer: Peer, client: TwilioClient) -> None:
    peer.hold = 1.5  # longer than the 1 s read timeout: the create reached Twilio, its answer never came
    with pytest.raises(TransientError) as unanswered:
        await sender_on(client).send(reply("Kak, ini jawabannya"))
    refused = make_client(SID, "rahasia", f"http://127.0.0.1:{free_port()}", connect_timeout=1.0)
    try:
        with pytest.raises(TransientError) as unreached:
            await sender_on(refused).send(reply("Kak, ini jawabannya"))
    finally:
        await refused.close()

    assert unanswered.value.maybe_sent
    assert not unreached.value.maybe_sent
    assert len(peer.arrived) == 1


TLS_SEND = """
import asyncio, json, ssl, sys
from bot.whatsapp.lean_aiohttp import aiohttp  # first: as in `klinik run`, where nothing imported aiohttp before
from aiohttp import connector, web
from bot.whatsapp.http import make_client

async def main():
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(sys.argv[1], sys.argv[2])
    async def create(request):
        return web.json_response({"sid": "SMtls"}, status=201)
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", create)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served).start()
    client = make_client("AC" + "0" * 32, "rahasia", f"https://127.0.0.1:{runner.addresses[0][1]}")
    try:
        sent = (await client.create_message(to="whatsapp:+6281200000001", from_="whatsapp:+14155238886",
                                            body="Halo kak")).sid
    except aiohttp.ClientConnectorCertificateError:
        sent = "certificate refused"
    await client.close()
    await runner.cleanup()
    print(json.dumps({"sent": sent, "aiohttp_default_cas": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]}))

asyncio.run(main())
"""


def test_twilio_over_https_verifies_with_the_bots_one_tls_context(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    environment = {name: value for name, value in os.environ.items() if name not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}

    def send(**extra: str) -> dict[str, Any]:
        result = subprocess.run([sys.executable, "-c", TLS_SEND, str(cert), str(key)], capture_output=True, text=True,
                                cwd=ROOT, env=environment | extra, check=True)
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    trusted = send(SSL_CERT_FILE=str(cert))  # what the bot's context trusts (bot.tls: httpx's, certifi by default)
    untrusted = send()

    assert trusted == {"sent": "SMtls", "aiohttp_default_cas": 0}  # aiohttp's unused defaults loaded no CA store
    assert untrusted["sent"] == "certificate refused"


async def test_media_twilio_hosts_is_fetched_from_the_mock_with_credentials_and_other_media_without(
        peer: Peer) -> None:
    media = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1?Thumbnail=0"
    peer.answer(200, "foto-struk")
    peer.answer(200, "foto-lain")

    from_twilio = await download_media(media, auth=(SID, "rahasia"), api_base_url=peer.url + "/prism/",
                                       max_bytes=1024)
    elsewhere = await download_media(peer.url + "/kiriman/foto.jpg", auth=(SID, "rahasia"),
                                     api_base_url=peer.url, max_bytes=1024)

    assert (from_twilio, elsewhere) == (b"foto-struk", b"foto-lain")
    basic = "Basic " + base64.b64encode(f"{SID}:rahasia".encode()).decode()
    assert [(a.path, a.query, a.authorization) for a in peer.arrived] == [
        (f"/prism/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1", {"Thumbnail": "0"}, basic),
        ("/kiriman/foto.jpg", {}, "")]  # credentials go to Twilio only
