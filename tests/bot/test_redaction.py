"""`klinik -v` logs every HTTP request at debug level; the bot token and the Twilio auth never appear."""

from __future__ import annotations

import base64
import io
import logging
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bot.redact import MASK, redact
from bot.settings import load_settings
from bot.telegram import make_bot
from tests.support.peers import TelegramEmulator

ACCOUNT_SID = "AC" + "1" * 32


@pytest.fixture
def debug_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything logged at any level, formatted as `klinik -v` does."""
    for name in [name for name in os.environ if name.startswith("KLINIK_")]:
        monkeypatch.delenv(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore", "telegram", "twilio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)  # as `klinik -v` leaves them (another test may have quietened httpx)
    loggers[0].addHandler(handler)
    try:
        yield stream
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def test_a_debug_log_never_shows_the_bot_token_the_webhook_secret_or_the_twilio_auth(
        telegram_emulator: TelegramEmulator, debug_log: io.StringIO) -> None:
    token, secret, auth = telegram_emulator.new_token(), f"secret-{uuid.uuid4().hex}", uuid.uuid4().hex
    basic = base64.b64encode(f"{ACCOUNT_SID}:{auth}".encode()).decode()
    load_settings(_env_file=None, telegram={"token": token, "api_base_url": telegram_emulator.url,
                                            "mode": "webhook", "webhook_secret": secret},
                  twilio={"account_sid": ACCOUNT_SID, "auth_token": auth, "whatsapp_from": "+14155238886"})

    bot = make_bot(token, telegram_emulator.url)
    await bot.initialize()  # getMe: httpx logs the URL, which holds the token
    await bot.shutdown()
    url = f"{telegram_emulator.url}/bot{token}/sendMessage"
    try:
        raise httpx.ConnectError(f"connection refused: {url}", request=httpx.Request("POST", url))
    except httpx.ConnectError as error:
        logging.getLogger("bot.test").exception("request to %s failed", error.request.url)  # and in the traceback
    logging.getLogger("twilio.http_client").debug("headers: %s", {"Authorization": f"Basic {basic}"})
    logging.getLogger("bot.test").info("webhook secret %s, token %r", secret, token.replace(":", "%3A"))

    log = debug_log.getvalue()
    assert "getMe" in log
    assert "HTTP Request" in log
    assert "Traceback" in log
    for value in (token, token.replace(":", "%3A"), secret, auth, basic):
        assert value not in log
    assert log.count(MASK) >= 5


def test_short_or_absent_values_are_not_masked() -> None:
    assert redact("nothing secret here") == "nothing secret here"
