"""The HTTP edge from outside: size limits, malformed bodies, fields that do not fit, secrets, media headers.

Each case is answered with a 4xx or a normal 200, never a 500, and what is refused stores nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import limits
from bot.app import KlinikApp
from bot.media import content_disposition
from bot.settings import load_settings
from handlers.kernel.config import Config
from handlers.kernel.messages import Attachment, Channel
from storage.db import upgrade
from storage.models import MediaLink
from tests.bot.webapp import SECRET, Web, chunks, telegram_update, whatsapp_form

PHONE = "+6281200000001"


@pytest.fixture
def web(sessions: async_sessionmaker[AsyncSession], config: Config) -> Web:
    return Web(sessions, config)


async def test_a_body_over_the_limit_gets_413_before_it_is_read(web: Web) -> None:
    before = await web.counts()
    declared = await web.post("/twilio/whatsapp", content=b"a" * (web.max_body_bytes + 1),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    pulled: list[int] = []
    streamed = await web.post("/twilio/whatsapp", content=chunks(50 * web.max_body_bytes, 4096, pulled))
    telegram = await web.post("/telegram/webhook", content=chunks(50 * web.max_body_bytes, 4096, []),
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    unread: list[int] = []
    stranger = await web.post("/telegram/webhook", content=chunks(50 * web.max_body_bytes, 4096, unread))

    assert [declared.status_code, streamed.status_code, telegram.status_code] == [413, 413, 413]
    assert sum(pulled) <= web.max_body_bytes + 4096  # read in chunks and stopped, never the whole 3 MB
    assert (stranger.status_code, sum(unread)) == (403, 0)  # no secret: refused before reading
    assert await web.counts() == before


@pytest.mark.parametrize(("path", "body"), [
    ("/twilio/whatsapp", b"From=whatsapp%3A%2B62812&Body=\xff\xfe"),  # not UTF-8
    ("/twilio/whatsapp", b"From=whatsapp%3A%2B62812&Body=%FF"),  # percent-encoded non-UTF-8
    ("/twilio/whatsapp", b"From&&Body=halo"),  # fields without '='
    ("/twilio/status", b"MessageSid=SM1&&&"),
    ("/twilio/whatsapp", b"a=1&" * 300),  # more fields than any Twilio form
])
async def test_a_malformed_form_gets_400(web: Web, path: str, body: bytes) -> None:
    before = await web.counts()

    response = await web.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                           "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})

    assert response.status_code == 400
    assert await web.counts() == before


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b"42", b"{}", b'{"update_id": "7"}',
                                  b'{"update_id": 1e400}', b'{"update_id": 99999999999999999999999999}',
                                  b'{"update_id": 5, "message": {"chat": 1}}', b"[" * 60_000])
async def test_a_malformed_telegram_update_gets_400(web: Web, body: bytes) -> None:
    before = await web.counts()

    response = await web.post("/telegram/webhook", content=body,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                       "Content-Type": "application/json"})

    assert response.status_code == 400
    assert await web.counts() == before


@pytest.mark.parametrize(("field", "value"), [
    ("From", "whatsapp:+62" + "8" * 70),  # outbox.address is VARCHAR(64), unknown_contacts.phone 20
    ("From", "whatsapp:budi"),
    ("MessageSid", "SM" + "a" * 90),  # inbox.external_id is VARCHAR(80)
    ("MessageSid", ""),
    ("NumMedia", "abc"),
    ("NumMedia", "2.5"),
    ("NumMedia", "∞"),
    ("NumMedia", "-1"),
    ("NumMedia", "200000"),  # and no media at all
    ("NumMedia", "1"),  # with no MediaUrl0
    ("ButtonPayload", "x" * 1000),
])
async def test_a_signed_form_with_a_field_that_cannot_be_stored_is_refused_and_counted(
        web: Web, field: str, value: str, caplog: pytest.LogCaptureFixture) -> None:
    before, refused = await web.counts(), sum(limits.rejected.values())
    form = whatsapp_form(PHONE, "Halo") | {field: value}

    response = await web.signed("/twilio/whatsapp", form)

    assert response.status_code == 400
    assert await web.counts() == before
    assert sum(limits.rejected.values()) == refused + 1
    assert any(r.levelno == logging.WARNING and "rejected signed WhatsApp message" in r.getMessage()
               for r in caplog.records)
    # The next ordinary message flows, and health is unaffected.
    assert (await web.signed("/twilio/whatsapp", whatsapp_form(PHONE, "Halo"))).status_code == 200
    assert (await web.counts())["inbox"] == before["inbox"] + 1
    assert (await web.get("/healthz")).status_code == 200


async def test_odd_but_storable_fields_are_cleaned_not_refused(web: Web) -> None:
    form = whatsapp_form(PHONE, "Halo\x00 kak", ProfileName="Budi " * 100, OriginalRepliedMessageSid="SM" + "1" * 200)

    assert (await web.signed("/twilio/whatsapp", form)).status_code == 200

    (inbound,) = web.ingested
    assert (inbound.text, len(inbound.sender_name), inbound.reply_to_external_id) == ("Halo kak", 200, None)


@pytest.mark.parametrize(("field", "value"), [("MessageSid", "SM" + "a" * 90), ("MessageStatus", "x" * 21),
                                              ("ErrorCode", "6301" * 10), ("ErrorCode", "abc")])
async def test_a_signed_status_callback_with_a_bad_field_gets_400(web: Web, field: str, value: str) -> None:
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32} | {field: value}

    assert (await web.signed("/twilio/status", form)).status_code == 400


@pytest.mark.parametrize("update", [
    telegram_update(1, 10**30),  # a chat id no column holds
    {**telegram_update(2, 7001), "message": {**telegram_update(2, 7001)["message"],
                                             "from": {"id": "x" * 100, "is_bot": False, "first_name": "T"}}},
])
async def test_an_authentic_telegram_update_that_cannot_be_stored_is_acknowledged_and_counted(
        web: Web, update: dict[str, object]) -> None:
    before, refused = await web.counts(), sum(limits.rejected.values())

    response = await web.update(update)

    assert response.status_code == 200  # Telegram would resend a refused update for ever
    assert await web.counts() == before
    assert sum(limits.rejected.values()) == refused + 1


async def test_telegram_text_with_nul_and_lone_surrogates_is_stored_cleaned(web: Web) -> None:
    body = b'{"update_id": 3, "message": {"message_id": 1, "date": 1700000000, "from": {"id": 7001, ' \
           b'"is_bot": false, "first_name": "T\\ud800"}, "chat": {"id": 7001, "type": "private"}, ' \
           b'"text": "Halo\\u0000 \\udfff"}}'

    response = await web.post("/telegram/webhook", content=body,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})

    assert response.status_code == 200
    (inbound,) = web.ingested
    assert (inbound.text, inbound.sender_name) == ("Halo ?", "T?")


async def test_the_telegram_secret_is_compared_in_constant_time(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = limits.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)
    monkeypatch.setattr(limits.hmac, "compare_digest", spy)
    before = await web.counts()

    refused = [await web.update(telegram_update(4, 7001), secret=None),
               await web.update(telegram_update(4, 7001), secret="tebakan"),
               await web.update(telegram_update(4, 7001), secret=("rahasia-" + "7" * 23 + "é").encode("latin-1"))]

    assert [r.status_code for r in refused] == [403, 403, 403]
    assert await web.counts() == before
    assert len(compared) == 2
    assert (await web.update(telegram_update(4, 7001))).status_code == 200


async def test_an_unreachable_database_gets_503_and_a_bug_500(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    web.failure = OperationalError("insert", {}, ConnectionRefusedError("connection refused"))
    unavailable = await web.signed("/twilio/whatsapp", whatsapp_form(PHONE, "Halo"))
    web.failure = RuntimeError("a bug")
    broken = await web.signed("/twilio/whatsapp", whatsapp_form(PHONE, "Halo"))

    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "5")
    assert (broken.status_code, broken.text) == (500, "internal error")
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


async def stored_file(sessions: async_sessionmaker[AsyncSession], tmp_path: Path, token: str, mime: str,
                      name: str) -> None:
    path = tmp_path / token
    path.write_bytes(b"<html><script>alert(1)</script></html>")
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(MediaLink(token=token, source="file", ref=str(path), mime=mime, name=name, created_at=now,
                              expires_at=now + timedelta(days=1)))


@pytest.mark.parametrize(("mime", "name", "served_as", "disposition"), [
    ("image/jpeg", "foto.jpg", "image/jpeg", 'inline; filename="foto.jpg"'),
    ("text/html", "halaman.html", "text/html; charset=utf-8", 'attachment; filename="halaman.html"'),
    ("image/svg+xml", "logo.svg", "image/svg+xml", 'attachment; filename="logo.svg"'),
    ("application/pdf", "Laporan ñ.pdf", "application/pdf",
     "attachment; filename=\"Laporan _.pdf\"; filename*=UTF-8''Laporan%20%C3%B1.pdf"),
    ("application/pdf", "Surat izin 许可证 🙏.pdf", "application/pdf",
     "attachment; filename=\"Surat izin ___ _.pdf\"; filename*=UTF-8''Surat%20izin%20%E8%AE%B8%E5%8F%AF%E8%AF%81"
     "%20%F0%9F%99%8F.pdf"),
    ("text/html\r\nX-Evil: 1", 'a"b\r\n.txt', "application/octet-stream", 'attachment; filename="a_b.txt"; '
     "filename*=UTF-8''a%22b.txt"),
])
async def test_media_is_never_sniffed_and_only_images_are_inline(
        web: Web, sessions: async_sessionmaker[AsyncSession], tmp_path: Path, mime: str, name: str,
        served_as: str, disposition: str) -> None:
    await stored_file(sessions, tmp_path, "tok" + "x" * 29, mime, name)

    response = await web.get("/media/tok" + "x" * 29)

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == served_as
    assert response.headers["Content-Disposition"] == disposition


async def test_unknown_or_malformed_media_tokens_are_404(web: Web) -> None:
    assert [(await web.get(path)).status_code for path in ("/media/unknown-token", "/media/" + "x" * 500,
                                                           "/media/a%00b")] == [404, 404, 404]


def test_content_disposition_names_are_ascii_with_an_rfc_5987_original() -> None:
    assert content_disposition("attachment", "") == 'attachment; filename="file"'
    assert content_disposition("inline", "ok.png") == 'inline; filename="ok.png"'
    assert content_disposition("attachment", "a%20b.pdf").endswith("filename*=UTF-8''a%2520b.pdf")


async def test_relay_links_live_as_long_as_the_media_ttl_setting(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/k.db", media_ttl_days=2)
    await upgrade(settings.database_url)
    app = KlinikApp(settings)
    now = datetime.now(UTC)
    try:
        url = await app.media.public_url(Attachment("photo", "file-id", Channel.TELEGRAM, "image/jpeg"), now)
        async with app.sessions() as session:
            link = await session.get(MediaLink, url.rsplit("/", 1)[1])
    finally:
        await app.engine.dispose()
    assert link is not None
    assert link.expires_at == now + timedelta(days=2)


async def test_polled_update_that_cannot_be_stored_is_skipped_and_the_batch_goes_on() -> None:
    from telegram import Update

    from bot.telegram import ingest_updates
    from handlers.kernel.messages import Inbound

    def update(update_id: int, text: str, callback_data: str | None = None) -> Update:
        user = {"id": 7001, "is_bot": False, "first_name": "Sari"}
        message = {"message_id": update_id, "date": 1_700_000_000, "chat": {"id": 7001, "type": "private"},
                   "from": user, "text": text}
        if callback_data is None:
            return Update.de_json({"update_id": update_id, "message": message}, None)
        return Update.de_json({"update_id": update_id, "callback_query": {
            "id": "cb", "from": user, "chat_instance": "x", "data": callback_data, "message": message}}, None)
    stored: list[str] = []

    async def ingest(inbound: Inbound) -> None:
        stored.append(inbound.external_id)

    await ingest_updates([update(1, "halo"), update(2, "", callback_data="x" * 5000), update(3, "kak")], ingest)

    assert stored == ["1", "3"]
