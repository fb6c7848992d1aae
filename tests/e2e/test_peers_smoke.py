"""The loopback peers work with the real client libraries (independent of the bot code).

python-telegram-bot against the patched telegram-test-api, the twilio SDK against Prism
serving Twilio's OpenAPI spec, asyncpg against the throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from twilio.base.exceptions import TwilioRestException

from bot.whatsapp.http import RedirectingTwilioHttp, make_client

if TYPE_CHECKING:
    from tests.support.peers import PrismTwilio, TelegramEmulator

# The peer fixtures (a no-op when tests/conftest.py already lists the plugin).
pytest_plugins = ["tests.support.peers"]

pytestmark = pytest.mark.e2e

USER = 424242


def _app(emulator: TelegramEmulator, token: str) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(emulator.bot_base_url)
        .base_file_url(emulator.bot_file_url)
        .build()
    )


# ------------------------------------------------------------------------------ Telegram


async def test_bot_api_round_trip(telegram_emulator: TelegramEmulator) -> None:
    emu = telegram_emulator
    token = emu.new_token()
    async with _app(emu, token) as app:  # initialize() calls getMe
        bot = app.bot
        assert bot.username == "TestNameBot"
        assert (await bot.get_me()).is_bot

        # A user message arrives through getUpdates; confirmed updates are not re-delivered.
        sent = await emu.send_message(token, USER, "halo")
        updates = await bot.get_updates(timeout=1)
        assert [u.message.text for u in updates] == ["halo"]
        assert updates[0].message.message_id == sent["message_id"]
        assert updates[0].message.chat.id == USER
        offset = updates[-1].update_id + 1
        started = time.monotonic()
        assert await bot.get_updates(offset=offset, timeout=1) == ()
        assert time.monotonic() - started >= 0.9  # a long poll, not a spin

        # The bot's message with an inline keyboard is seen by the client.
        msg = await bot.send_message(
            USER,
            "Pilih topik",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Pemasaran", callback_data="t:1")]]
            ),
        )
        assert abs(msg.date - datetime.now(UTC)) < timedelta(minutes=1)
        seen = await emu.wait_for(token, USER, lambda m: m.text == "Pilih topik")
        assert seen.message_id == msg.message_id
        assert seen.callback_data == ["t:1"]
        assert seen.button("Pemasaran") == "t:1"

        # A button press arrives as a CallbackQuery carrying the pressed message.
        await emu.send_callback(token, USER, "t:1", msg.message_id)
        (update,) = await bot.get_updates(offset=offset, timeout=1)
        offset = update.update_id + 1
        query = update.callback_query
        assert query is not None
        assert query.data == "t:1"
        assert query.message.message_id == msg.message_id
        assert query.message.chat.id == USER
        assert await query.answer("ok") is True
        assert await query.edit_message_text("Topik: Pemasaran") is True
        edited = await emu.wait_for(token, USER, lambda m: m.edited)
        assert (edited.message_id, edited.text, edited.reply_markup) == (
            msg.message_id,
            "Topik: Pemasaran",
            None,
        )
        (answer,) = await emu.bot_calls(token, "answerCallbackQuery")
        assert answer["params"]["text"] == "ok"

        # A shared contact, replying to the bot's message, reaches the bot intact.
        contact = {"phone_number": "+6281200000001", "first_name": "Sari", "user_id": USER}
        await emu.send_message(
            token, USER, None, contact=contact, reply_to_message_id=msg.message_id
        )
        (update,) = await bot.get_updates(offset=offset, timeout=1)
        offset = update.update_id + 1
        assert update.message.contact.phone_number == "+6281200000001"
        assert update.message.contact.user_id == USER
        assert update.message.reply_to_message.message_id == msg.message_id
        assert update.message.reply_to_message.from_user.is_bot

        # Sending twice with the same offset re-delivers nothing.
        assert await bot.get_updates(offset=offset, timeout=0) == ()
        assert await bot.get_updates(offset=offset, timeout=0) == ()

        # Methods the emulator lacks succeed; media is stored as messages.
        assert await bot.set_my_commands([("start", "Mulai")]) is True
        assert await bot.send_chat_action(USER, "typing") is True
        photo = await bot.send_photo(USER, b"\x89PNG fake", caption="Grafik")
        assert photo.photo
        assert photo.caption == "Grafik"
        doc = await bot.send_document(
            USER, b"a;b\n1;2\n", filename="laporan.csv", caption="Laporan"
        )
        assert doc.document.file_name == "laporan.csv"
        media = await emu.get_updates(token, USER)
        assert [(m.text, bool(m.photo), bool(m.document)) for m in media] == [
            ("Grafik", True, False),
            ("Laporan", False, True),
        ]
        file = await bot.get_file(doc.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"a;b\n1;2\n"


async def test_application_polling(telegram_emulator: TelegramEmulator) -> None:
    """A full Application with run-style polling, handlers and a post-init hook."""
    emu = telegram_emulator
    token = emu.new_token()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="yes")]])
        await update.effective_message.reply_text("Lanjut?", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"Dipilih: {update.callback_query.data}")

    async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(
            f"Nomor: {update.effective_message.contact.phone_number}"
        )

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await application.bot.set_my_commands([("start", "Mulai")])
        await application.bot.delete_my_commands()

    app = _app(emu, token)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.CONTACT, contact))
    await app.initialize()
    await post_init(app)  # as run_polling() would
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=1))
    try:
        await emu.send_command(token, USER, "/start")
        question = await emu.wait_for(token, USER, lambda m: m.text == "Lanjut?")
        await emu.send_callback(token, USER, question.button("Ya"), question.message_id)
        await emu.wait_for(token, USER, lambda m: m.edited and m.text == "Dipilih: yes")
        await emu.send_message(
            token,
            USER,
            None,
            contact={"phone_number": "+628111", "first_name": "A", "user_id": USER},
        )
        await emu.wait_for(token, USER, lambda m: m.text == "Nomor: +628111")
    finally:
        stopped = time.monotonic()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert time.monotonic() - stopped < 3
    # Everything was confirmed on stop: a new poller gets nothing again.
    async with _app(emu, token) as again:
        assert await again.bot.get_updates(timeout=0) == ()


# ------------------------------------------------------------------------------ Twilio


async def test_twilio_api_against_prism(prism_twilio: PrismTwilio) -> None:
    http = prism_twilio.http_client()
    client = make_client(prism_twilio.account_sid, prism_twilio.auth_token, None, http)
    try:
        message = await client.create_message(
            from_="whatsapp:+14155238886",
            to="whatsapp:+6281200000001",
            body="Halo dari Klinik Bisnis",
        )
        assert message.sid is not None
        assert message.sid.startswith("SM")
        (request,) = http.requests
        assert request.method == "POST"
        assert request.original_url == (
            f"https://api.twilio.com/2010-04-01/Accounts/{prism_twilio.account_sid}/Messages.json"
        )
        assert request.url.startswith(prism_twilio.url + "/2010-04-01/")
        assert request.status == 201
        assert request.data["To"] == "whatsapp:+6281200000001"
        assert request.data["Body"] == "Halo dari Klinik Bisnis"

        # Prism validates against the spec: a malformed AccountSid is refused.
        bad = make_client("ACnot-a-real-sid", prism_twilio.auth_token, None, http)
        with pytest.raises(TwilioRestException) as err:
            await bad.create_message(
                from_="whatsapp:+14155238886", to="whatsapp:+62812", body="x"
            )
        assert 400 <= err.value.status < 500
    finally:
        await http.close()


def test_redirect_rewrites_only_twilio_hosts() -> None:
    async def make() -> RedirectingTwilioHttp:
        return RedirectingTwilioHttp("http://127.0.0.1:4010/mock/")

    async def run() -> None:
        http = await make()
        try:
            assert http.rewrite(
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1"
            ) == ("http://127.0.0.1:4010/mock/2010-04-01/Accounts/AC1/Messages.json?x=1")
            assert http.rewrite("https://messaging.twilio.com/v1/Services") == (
                "http://127.0.0.1:4010/mock/v1/Services"
            )
            assert (
                http.rewrite("https://example.com/twilio.com") == "https://example.com/twilio.com"
            )
            assert http.rewrite("https://nottwilio.com/x") == "https://nottwilio.com/x"
        finally:
            await http.close()

    asyncio.run(run())


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
async def test_postgres_cluster(postgres_url: str, fresh_postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert postgres_url.endswith("/klinik")
    conn = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("select 1") == 1
        assert (await conn.fetchval("show server_version")).startswith("15")
    finally:
        await conn.close()

    assert fresh_postgres_url != postgres_url
    conn = await asyncpg.connect(fresh_postgres_url.replace("+asyncpg", ""))
    try:
        await conn.execute("create table t (x int)")
        assert await conn.fetchval("select count(*) from t") == 0
    finally:
        await conn.close()
