"""After a crash, a WhatsApp row whose send may have gone out is looked up at Twilio before it goes again:
found → recorded with Twilio's SID (not repeated); not found, or the look fails → sent. Telegram cannot look."""

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from bot.delivery import DeliveryWorker, Pace, RateLimiter, reachability_hook
from bot.media import MediaStore
from bot.telegram import TelegramSender
from bot.whatsapp.http import make_client
from bot.whatsapp.sender import WhatsAppSender
from bot.whatsapp.status import record_status
from handlers.kernel.messages import OutgoingPart
from storage.models import OutboxMessage, OutboxStatus, Person
from tests.bot.fake_telegram import scripted_bot
from tests.bot.fake_twilio import ScriptedTwilioHttp
from tests.support.driver import Driver

HELD = "HX" + "b1" * 16
REMINDER = "HX" + "c2" * 16
FROM = "+14155238886"
DEAD = f"{socket.gethostname()}:4194999:deadbeef"  # this host, a process id that cannot exist (pid_max is 2**22)


def whatsapp_worker(driver: Driver, http: ScriptedTwilioHttp) -> DeliveryWorker:
    client = make_client("AC" + "0" * 32, "token", None, http)
    sender = WhatsAppSender(client, driver.sessions, sender=FROM, status_callback=None,
                            templates={"held": HELD, "pengingat": REMINDER}, media=MediaStore(driver.sessions))
    return DeliveryWorker(driver.sessions, {"whatsapp": sender}, RateLimiter({"whatsapp": Pace(1000)}),
                          on_permanent_failure=reachability_hook(driver.config), clock=lambda: driver.clock.now)


async def owe(driver: Driver, person: Person, *texts: str, window_open: bool = True,
              template: str | None = None) -> list[int]:
    """Rows the bot owes a participant on WhatsApp (a long text's parts are rows of their own)."""
    async with driver.sessions.begin() as session:
        if window_open:
            await session.execute(update(Person).where(Person.id == person.id)
                                  .values(last_whatsapp_inbound_at=datetime.now(UTC)))
        now = driver.clock.now
        ids = []
        for number, text in enumerate(texts, start=1):
            part = OutgoingPart(text=text, part=number, parts=len(texts), template=template,
                                template_vars={"1": "Sari"} if template else {})
            ids.append((await session.execute(insert(OutboxMessage).returning(OutboxMessage.id).values(
                channel="whatsapp", address=person.phone, recipient_id=person.id, payload=part.to_json(),
                status=OutboxStatus.PENDING, attempts=0, parts_sent=0, created_at=now,
                next_attempt_at=now))).scalar_one())
        return ids


async def crash_left(driver: Driver, ids: list[int], claimed_at: datetime) -> None:
    """The rows were claimed by a process that was then killed (kill -9: nothing given back)."""
    async with driver.sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                              .values(claimed_by=DEAD, claimed_at=claimed_at))


def listing(to: str, *messages: tuple[str, str, datetime], status: str = "delivered") -> dict[str, Any]:
    """Twilio's answer to a Messages list: (sid, body, date_created) each, newest first."""
    page = [{"sid": sid, "body": body, "to": f"whatsapp:{to}", "from": f"whatsapp:{FROM}",
             "direction": "outbound-api", "status": status, "num_media": "0",
             "date_created": created.strftime("%a, %d %b %Y %H:%M:%S +0000"),
             "date_sent": created.strftime("%a, %d %b %Y %H:%M:%S +0000")}
            for sid, body, created in sorted(messages, key=lambda m: m[2], reverse=True)]
    return {"messages": page, "end": len(page), "first_page_uri": "/x", "next_page_uri": None, "page": 0,
            "page_size": 100, "previous_page_uri": None, "start": 0, "uri": "/x"}


def looks(http: ScriptedTwilioHttp) -> list[dict[str, Any]]:
    return [query for method, query in http.calls if method == "GET"]


def creates(http: ScriptedTwilioHttp) -> list[str]:
    return [form["Body"] for (method, _), form in zip(http.calls, http.requests, strict=True)
            if method == "POST" and "Body" in form]


async def row(driver: Driver, row_id: int) -> OutboxMessage:
    async with driver.sessions() as session:
        stored = await session.get(OutboxMessage, row_id)
        assert stored is not None
        return stored


async def test_a_send_found_at_twilio_is_recorded_with_its_sid_and_not_repeated(
        driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Kak, laporan bulanan ditunggu sampai Jumat ya")
    claimed = datetime.now(UTC) - timedelta(seconds=30)
    await crash_left(driver, [row_id], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMwent", "Kak, laporan bulanan ditunggu sampai Jumat ya",
                                                 claimed + timedelta(milliseconds=400))))
    worker = whatsapp_worker(driver, http)

    assert await worker.take_back_from_dead_neighbours() == 1
    await worker.drain_once()

    sent = await row(driver, row_id)
    assert (sent.status, sent.external_id, sent.claimed_at) == (OutboxStatus.SENT, "SMwent", None)
    assert sent.delivery_status == "delivered"  # as Twilio showed it: its callbacks so far found no row
    assert creates(http) == []  # not sent again
    [query] = looks(http)
    assert (query["To"], query["From"], query["DateSent>"]) == (
        f"whatsapp:{participant.phone}", f"whatsapp:{FROM}", f"{(claimed - timedelta(seconds=2)).date()}T00:00:00Z")
    assert worker.reconciled == {"found": 1}
    async with driver.sessions.begin() as session:  # Twilio's callbacks find the row by that SID
        await record_status(session, "SMwent", "read", "", driver.clock.now, driver.config)
    assert (await row(driver, row_id)).delivery_status == "read"


async def test_not_found_it_is_sent_even_when_the_same_words_went_earlier(driver: Driver, participant: Person) -> None:
    text = "Sesi besok jam 9 di aula kecamatan ya kak"
    [earlier, row_id] = await owe(driver, participant, text, text)  # the bot said the same thing twice
    claimed = datetime.now(UTC) - timedelta(seconds=30)
    async with driver.sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == earlier)
                              .values(status=OutboxStatus.SENT, external_id="SMearlier"))
    await crash_left(driver, [row_id], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone,
                             ("SMyesterday", text, claimed - timedelta(days=1)),  # before the claim
                             ("SMearlier", text, claimed + timedelta(seconds=1))))  # the earlier row's own
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    sent = await row(driver, row_id)
    assert sent.status == OutboxStatus.SENT
    assert sent.external_id not in ("SMyesterday", "SMearlier")
    assert creates(http) == [text]
    assert worker.reconciled == {"not found": 1}


async def test_when_twilio_cannot_be_asked_the_row_is_sent(driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Tugas minggu ini: foto produk dan harga jual")
    await crash_left(driver, [row_id], datetime.now(UTC) - timedelta(seconds=5))
    http = ScriptedTwilioHttp()
    http.answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    assert (await row(driver, row_id)).status == OutboxStatus.SENT
    assert len(looks(http)) == 1
    assert creates(http) == ["Tugas minggu ini: foto produk dan harga jual"]  # a repeat rather than a loss
    assert worker.reconciled == {"look failed": 1}


async def test_a_long_text_in_parts_is_looked_up_once_and_only_its_first_unrecorded_part_is_in_doubt(
        driver: Driver, participant: Person) -> None:
    parts = ["Rekap minggu ini (1/3): presensi 4 dari 5", "(2/3) tugas: 2 belum dikumpulkan",
             "(3/3) pertanyaan terbuka: 1"]
    ids = await owe(driver, participant, *parts)
    claimed = datetime.now(UTC) - timedelta(seconds=10)
    async with driver.sessions.begin() as session:  # part 1 was recorded before the crash, part 2 went unrecorded
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[0])
                              .values(status=OutboxStatus.SENT, external_id="SMpart1"))
    await crash_left(driver, ids[1:], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMpart1", parts[0], claimed + timedelta(seconds=1)),
                             ("SMpart2", parts[1], claimed + timedelta(seconds=2))))
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    second = await row(driver, ids[1])
    assert (second.status, second.external_id) == (OutboxStatus.SENT, "SMpart2")
    assert (await row(driver, ids[2])).status == OutboxStatus.SENT
    assert len(looks(http)) == 1  # one look for the chat: part 3 went only after part 2 was recorded
    assert creates(http) == [parts[2]]


async def test_a_held_notice_that_went_out_before_the_crash_is_not_sent_twice(
        driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Jawaban mentor untuk pertanyaan kakak", window_open=False)
    claimed = datetime.now(UTC) - timedelta(seconds=10)
    await crash_left(driver, [row_id], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMnotice", "Halo Sari, ada pesan baru untuk Anda di Klinik Bisnis.",
                                                 claimed + timedelta(seconds=1))))
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    held = await row(driver, row_id)
    assert (held.status, held.external_id) == (OutboxStatus.HELD, "SMnotice")  # kept until Sari replies
    assert [query for method, query in http.calls if method == "POST"] == []


async def test_a_reminder_that_went_as_its_own_template_is_recorded_with_twilio_s_rendering(
        driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Besok sesi mentoring jam 9", window_open=False, template="pengingat")
    claimed = datetime.now(UTC) - timedelta(seconds=10)
    await crash_left(driver, [row_id], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMtemplate", "Halo Sari, besok ada sesi mentoring.",
                                                 claimed + timedelta(seconds=1))))
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    sent = await row(driver, row_id)
    assert (sent.status, sent.external_id) == (OutboxStatus.SENT, "SMtemplate")
    assert [query for method, query in http.calls if method == "POST"] == []


async def test_a_message_twilio_failed_does_not_count_as_sent(driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Kak, jangan lupa isi presensi ya")
    claimed = datetime.now(UTC) - timedelta(seconds=10)
    await crash_left(driver, [row_id], claimed)
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMfailed", "Kak, jangan lupa isi presensi ya",
                                                 claimed + timedelta(seconds=1)), status="undelivered"))
    worker = whatsapp_worker(driver, http)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    sent = await row(driver, row_id)
    assert sent.status == OutboxStatus.SENT
    assert sent.external_id != "SMfailed"
    assert creates(http) == ["Kak, jangan lupa isi presensi ya"]  # Sari never got the first one


async def test_a_send_whose_answer_never_came_is_looked_up_before_its_retry(driver: Driver, participant: Person) -> None:
    [row_id] = await owe(driver, participant, "Pengingat: sesi mentoring besok jam 10")
    http = ScriptedTwilioHttp()
    http.fail(TimeoutError())  # the create may have reached Twilio
    worker = whatsapp_worker(driver, http)
    await worker.drain_once()
    waiting = await row(driver, row_id)
    assert (waiting.status, waiting.claimed_by) == (OutboxStatus.PENDING, None)
    assert waiting.claimed_at is not None  # in doubt since that claim

    driver.clock.advance(seconds=5)
    http.answer(200, listing(participant.phone, ("SMlate", "Pengingat: sesi mentoring besok jam 10",
                                                 waiting.claimed_at + timedelta(milliseconds=300))))
    await worker.drain_once()

    sent = await row(driver, row_id)
    assert (sent.status, sent.external_id) == (OutboxStatus.SENT, "SMlate")
    assert creates(http) == ["Pengingat: sesi mentoring besok jam 10"]  # the first try only


async def test_telegram_cannot_look_so_a_row_in_doubt_goes_again(driver: Driver, participant: Person, mentor: Person) -> None:
    await driver.say(participant, "Bagaimana cara daftar NIB?")
    await driver.press(participant, "tp:lainnya")
    question = await driver.last(mentor)
    await crash_left(driver, [question.id], datetime.now(UTC) - timedelta(seconds=3))
    bot, request = scripted_bot()
    worker = DeliveryWorker(driver.sessions, {"telegram": TelegramSender(bot, MediaStore(driver.sessions))},
                            RateLimiter({"telegram": Pace(1000)}), clock=lambda: driver.clock.now)

    await worker.take_back_from_dead_neighbours()
    await worker.drain_once()

    assert (await row(driver, question.id)).status == OutboxStatus.SENT
    assert [name for name, _ in request.calls] == ["sendMessage"]
    assert worker.reconciled == {"cannot look": 1}


async def test_a_clean_stop_gives_rows_back_without_doubt(driver: Driver, participant: Person) -> None:
    ids = await owe(driver, participant, "Satu", "Dua")
    worker = whatsapp_worker(driver, ScriptedTwilioHttp())
    assert len(await worker.claim("whatsapp", 10)) == 2

    assert await worker.release_claims() == 2

    assert [((await row(driver, i)).claimed_by, (await row(driver, i)).claimed_at) for i in ids] == [(None, None)] * 2


class StuckTwilio(ScriptedTwilioHttp):
    """Takes each create and never answers (the send is cut off when the worker stops)."""

    def __init__(self) -> None:
        super().__init__()
        self.took = asyncio.Event()

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, **kwargs: Any) -> Any:
        if method.upper() == "POST":
            self.requests.append(dict(data or {}))
            self.calls.append(("POST", {}))
            self.took.set()
            await asyncio.Event().wait()
        return await super().request(method, url, params=params, data=data, **kwargs)


async def test_a_send_cut_off_by_a_stop_stays_in_doubt_and_the_next_start_looks_first(
        driver: Driver, participant: Person) -> None:
    [row_id, after] = await owe(driver, participant, "Halo kak, ini jadwal klinik minggu depan", "Sampai jumpa")
    stuck = StuckTwilio()
    worker = whatsapp_worker(driver, stuck)
    await worker.dispatch()
    await asyncio.wait_for(stuck.took.wait(), 5)

    await worker.finish(grace_seconds=0.1)  # SIGTERM while the create waits for its answer

    left = await row(driver, row_id)
    assert (left.claimed_by, left.claimed_at is not None) == (None, True)  # in doubt
    assert (await row(driver, after)).claimed_at is None  # never started: given back clean
    http = ScriptedTwilioHttp()
    http.answer(200, listing(participant.phone, ("SMcut", "Halo kak, ini jadwal klinik minggu depan",
                                                 left.claimed_at + timedelta(milliseconds=300))))
    await whatsapp_worker(driver, http).drain_once()
    assert ((await row(driver, row_id)).external_id, creates(http)) == ("SMcut", ["Sampai jumpa"])
