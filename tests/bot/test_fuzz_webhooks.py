"""Property-based fuzzing of the webhooks (hypothesis): no 5xx, no dead inbox, no state change unsigned.

Signed WhatsApp forms mix plausible and hostile values (over-long ids and numbers, odd NumMedia, NUL,
any Unicode, extra fields); Telegram updates mix well-formed messages, callbacks and arbitrary JSON.
Whatever the webhook accepts is then processed by the real inbox processor, which must record no error.
The same inputs without a valid signature or secret change nothing. Runs on SQLite and, with
--postgres, on PostgreSQL (where a value too long for its column is an error, not a silent fit).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inbox import InboxProcessor
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from storage.models import InboxItem, Role
from tests.bot.webapp import SECRET, Web, new_sid, telegram_update, whatsapp_form

PHONE, CHAT = "+6281200000001", 6001
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

anything = st.one_of(st.text(max_size=120), st.text(alphabet="0123456789+-.,e∞²٣ ", max_size=30),
                     st.text(min_size=81, max_size=400), st.just(""), st.just("\x00"))
numbers = st.one_of(st.integers(-10, 20).map(str), st.sampled_from(["abc", "2.5", "∞", "200000", "1e3", "²", " 1"]))
phones = st.one_of(st.just(f"whatsapp:{PHONE}"), st.from_regex(r"whatsapp:\+[0-9]{1,90}", fullmatch=True),
                   st.from_regex(r"\+?[0-9]{5,20}", fullmatch=True), anything)
sids = st.one_of(st.builds(new_sid), st.from_regex(r"SM[0-9a-f]{0,120}", fullmatch=True), anything)
urls = st.one_of(st.just("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
                 st.from_regex(r"https://[a-z]{1,10}\.com/[a-z0-9/]{0,1100}", fullmatch=True), anything)
whatsapp_changes = st.fixed_dictionaries({}, optional={
    "From": phones, "MessageSid": sids, "NumMedia": numbers, "Body": anything, "ProfileName": anything,
    "ButtonPayload": anything, "MediaUrl0": urls, "MediaContentType0": st.one_of(
        st.sampled_from(["image/jpeg", "image/webp", "application/pdf", "text/html"]), anything),
    "OriginalRepliedMessageSid": sids, "Latitude": anything, "MessageStatus": anything, "ErrorCode": numbers})
extra_fields = st.dictionaries(st.text(min_size=1, max_size=20), anything, max_size=3)

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | anything,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=3), max_leaves=10)
ids = st.one_of(st.integers(-2**70, 2**70), st.integers(1, 10**6), anything, st.none())
users = st.fixed_dictionaries({"id": ids, "is_bot": st.booleans(), "first_name": anything},
                              optional={"last_name": anything, "username": anything})
messages = st.fixed_dictionaries(
    {"message_id": ids, "date": st.integers(0, 2**31), "chat": st.fixed_dictionaries(
        {"id": ids, "type": st.sampled_from(["private", "group", "supergroup", "channel", "x"])}), "from": users},
    optional={"text": anything, "caption": anything, "media_group_id": anything,
              "contact": st.fixed_dictionaries({"phone_number": anything, "first_name": anything},
                                               optional={"user_id": ids}),
              "document": st.fixed_dictionaries({"file_id": anything, "file_unique_id": anything},
                                                optional={"file_name": anything, "mime_type": anything,
                                                          "file_size": ids}),
              "reply_to_message": st.fixed_dictionaries({"message_id": ids, "date": st.integers(0, 2**31),
                                                         "chat": st.fixed_dictionaries({"id": ids, "type": st.just(
                                                             "private")})})})
callbacks = st.fixed_dictionaries({"id": anything, "from": users, "chat_instance": anything},
                                  optional={"data": anything})
updates = st.one_of(
    st.builds(lambda uid, msg: {"update_id": uid, "message": msg}, ids, messages),
    st.builds(lambda uid, cb: {"update_id": uid, "callback_query": cb}, ids, callbacks),
    st.builds(lambda uid, text: telegram_update(uid, CHAT, text), st.integers(1, 2**40), anything),
    json_values)


@pytest.fixture
async def web(sessions: async_sessionmaker[AsyncSession], config: Config, driver: Any) -> Web:
    mentor = await driver.add_person(role=Role.PENDAMPING, name="Budi", phone="+6281100000001",
                                     telegram_user_id=str(CHAT + 1), telegram_chat_id=str(CHAT + 1),
                                     preferred_channel=Channel.TELEGRAM.value)
    await driver.add_person(role=Role.PESERTA, name="Sari", phone=PHONE, mentor_id=mentor.id,
                            telegram_user_id=str(CHAT), telegram_chat_id=str(CHAT))
    return Web(sessions, config)


async def processed_without_error(web: Web) -> None:
    """The real inbox processor handles whatever was accepted, and records no failure."""
    await InboxProcessor(web.sessions, web.config, after_commit=lambda: None).drain_once()
    async with web.sessions() as session:
        failed = (await session.execute(select(InboxItem.external_id, InboxItem.error)
                                        .where(InboxItem.error.is_not(None)))).all()
    assert failed == []


@FUZZ
@given(changes=whatsapp_changes, extra=extra_fields, path=st.sampled_from(["/twilio/whatsapp", "/twilio/status"]))
async def test_signed_whatsapp_forms_never_get_a_5xx(web: Web, changes: dict[str, str], extra: dict[str, str],
                                                     path: str) -> None:
    form = whatsapp_form(PHONE, "Halo") | extra | changes

    response = await web.signed(path, form)

    assert response.status_code < 500, response.text
    await processed_without_error(web)
    assert (await web.get("/healthz")).status_code == 200


@FUZZ
@given(changes=whatsapp_changes, extra=extra_fields, path=st.sampled_from(["/twilio/whatsapp", "/twilio/status"]),
       signature=st.one_of(st.none(), st.text(max_size=60), st.just("bm90IGEgc2lnbmF0dXJl")))
async def test_unsigned_whatsapp_forms_change_nothing(web: Web, changes: dict[str, str], extra: dict[str, str],
                                                      path: str, signature: str | None) -> None:
    form = whatsapp_form(PHONE, "Halo") | extra | changes
    headers = {} if signature is None else {"X-Twilio-Signature": signature.encode("utf-8", "replace")}
    before = await web.counts()

    response = await web.post(path, data=form, headers=headers)

    assert response.status_code in (400, 403)
    assert await web.counts() == before


@FUZZ
@given(update=updates)
async def test_telegram_updates_with_the_secret_never_get_a_5xx(web: Web, update: Any) -> None:
    response = await web.update(update)

    assert response.status_code < 500, response.text
    await processed_without_error(web)


@FUZZ
@given(update=updates, secret=st.one_of(st.none(), st.text(max_size=40), st.just(SECRET[:-1])))
async def test_telegram_updates_without_the_secret_change_nothing(web: Web, update: Any, secret: str | None) -> None:
    before = await web.counts()

    response = await web.update(update, secret=None if secret is None else secret.encode("utf-8", "replace"))

    assert response.status_code == 403
    assert await web.counts() == before
    assert [name for name, _ in web.bot_requests.calls] == []
