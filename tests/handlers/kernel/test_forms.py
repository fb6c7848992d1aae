"""The step-table form helper: next step, re-ask on a bad answer, branches, buttons, skipping, resume."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from handlers.kernel import i18n, registry
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.forms import (
    FINISH,
    Again,
    Choice,
    Data,
    Form,
    Retry,
    StateStore,
    Step,
    confirmation,
    is_yes,
    option_buttons,
    pick_option,
    short_text,
)
from handlers.kernel.messages import Address, Channel, Inbound
from handlers.kernel.outbox import message_of
from handlers.kernel.state import set_state
from storage.models import ConversationState, Person
from tests.conftest import START
from tests.support.driver import Driver

TEXTS = {
    "toy.ask_kind": "{prefix}Kue atau jasa?",
    "toy.ask_flavour": "{prefix}Rasa apa?",
    "toy.ask_hours": "{prefix}Berapa jam?",
    "toy.ask_count": "{prefix}Berapa banyak?",
    "toy.ask_note": "{prefix}Pesanan besar: catatan untuk dapur?",
    "toy.ask_extras": "{prefix}Tambahan? Sudah: {chosen}. Ketik *selesai* jika cukup.",
    "toy.ask_confirm": "{prefix}{kind}, {count}. Simpan?",
    "toy.hint_kind": "Pilih kue atau jasa.",
    "toy.hint_number": "Tulis angka, bukan {text}.",
    "toy.hint_confirm": "Ketik *ya* untuk menyimpan.",
    "toy.hint_too_many": "Paling banyak 99.",
    "toy.done": "Tersimpan: {kind} ×{count}.",
}


def number(ctx: Context, data: Data) -> Any:
    """A whole number, or a hint quoting what was typed."""
    return int(ctx.text) if ctx.text.isdigit() else Retry("toy.hint_number", {"text": ctx.text})


def kind(ctx: Context, data: Data) -> Any:
    """Kue or jasa."""
    return ctx.text.lower() if ctx.text.lower() in ("kue", "jasa") else Retry("toy.hint_kind")


def extras(ctx: Context, data: Data) -> Any:
    """Words add up until "selesai"."""
    chosen = data.get("extras", [])
    return chosen if ctx.text == "selesai" else Again([*chosen, ctx.text])


async def save(ctx: Context, data: Data) -> bool:
    """Over 99 goes back to the count; otherwise done."""
    if data["count"] > 99:
        await FORMS["toy"].ask(ctx, data, "count", Retry("toy.hint_too_many"))
        return False
    ctx.reply("toy.done", kind=data["kind"], count=data["count"])
    return True


FORMS: dict[str, Form] = {}  # the toy form of the running test


def toy_form(store: Any = None) -> Form:
    """Kue → flavour, jasa → hours; then count, a note only for big orders, extras, confirm."""
    return Form("toy_form", prefix="toy", finish=save, store=store or StateStore(), steps=(
        Step("kind", "toy.ask_kind", kind, next=lambda data: "flavour" if data["kind"] == "kue" else "hours",
             buttons=lambda ctx, data: [Choice("Kue", "k:kue", "kue"), Choice("Jasa", "k:jasa", "jasa")]),
        Step("flavour", "toy.ask_flavour", lambda ctx, data: ctx.text, next="count"),
        Step("hours", "toy.ask_hours", number),
        Step("count", "toy.ask_count", number),
        Step("note", "toy.ask_note", lambda ctx, data: ctx.text, when=lambda data: data["count"] > 10),
        Step("extras", "toy.ask_extras", extras,
             values=lambda ctx, data: {"chosen": ", ".join(data.get("extras", [])) or "-"}),
        Step("confirm", "toy.ask_confirm", lambda ctx, data: True if is_yes(ctx.text) else Retry("toy.hint_confirm"),
             into=(), values=lambda ctx, data: {"kind": data["kind"], "count": data["count"]},
             buttons=lambda ctx, data: [Choice("Simpan", "ok", True)]),
    ))


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registers the toy form, a `pesan` command and the `toy` buttons; the registry is restored after."""
    real = i18n.catalog()
    merged = {language: {**texts, **TEXTS} for language, texts in real.items()}
    monkeypatch.setattr(i18n, "catalog", lambda: merged)
    tables = [getattr(registry, name) for name in ("FLOWS", "ACTIONS", "COMMANDS", "FLOW_TRAITS")
              if hasattr(registry, name)]
    saved = [dict(table) for table in tables]
    FORMS["toy"] = toy_form()
    install_entry_points()
    yield
    for table, copy in zip(tables, saved, strict=True):
        table.clear()
        table.update(copy)
    FORMS.clear()


def install_entry_points() -> None:
    """`pesan` starts (or resumes) the form; `toy:<argument>` buttons answer it."""
    async def start(ctx: Context) -> None:
        form = FORMS["toy"]
        if await form.current(ctx) is not None:
            await form.resume(ctx)
        else:
            await form.start(ctx, {})

    async def press(ctx: Context, argument: str) -> None:
        await FORMS["toy"].press(ctx, argument)

    registry.command("pesan")(start)
    registry.action("toy")(press)


async def say(driver: Driver, person: Person, *texts: str) -> list[str]:
    """Send texts on Telegram (no numbered options in the replies); return what came back."""
    for text in texts:
        await driver.say(person, text, channel=Channel.TELEGRAM)
    return await driver.received(person)


async def stored_state(driver: Driver, person: Person) -> tuple[str, dict[str, Any]] | None:
    async with driver.sessions() as session:
        state = (await session.execute(select(ConversationState).where(
            ConversationState.person_id == person.id))).scalar_one_or_none()
        return (state.flow, state.data) if state else None


async def test_each_answer_moves_to_the_next_step_and_the_last_finishes(
        driver: Driver, mentor: Person, toy: None) -> None:
    texts = await say(driver, mentor, "pesan", "kue", "coklat", "3", "keju", "selesai", "ya")

    assert texts == ["Kue atau jasa?", "Rasa apa?", "Berapa banyak?", "Tambahan? Sudah: -. Ketik *selesai* jika cukup.",
                     "Tambahan? Sudah: keju. Ketik *selesai* jika cukup.", "kue, 3. Simpan?", "Tersimpan: kue ×3."]
    assert await stored_state(driver, mentor) is None


async def test_state_holds_the_step_and_the_answers_so_far(driver: Driver, mentor: Person, toy: None) -> None:
    await say(driver, mentor, "pesan", "kue", "coklat")

    assert await stored_state(driver, mentor) == ("toy_form", {"step": "count", "kind": "kue", "flavour": "coklat"})


async def test_unusable_answer_gets_the_hint_and_the_same_question(driver: Driver, mentor: Person, toy: None) -> None:
    texts = await say(driver, mentor, "pesan", "roti", "kue", "coklat", "banyak")

    assert texts[1] == "Pilih kue atau jasa.\n\nKue atau jasa?"
    assert texts[-1] == "Tulis angka, bukan banyak.\n\nBerapa banyak?"
    assert (await stored_state(driver, mentor) or ("", {}))[1]["step"] == "count"


async def test_next_may_branch_on_the_answers(driver: Driver, mentor: Person, toy: None) -> None:
    texts = await say(driver, mentor, "pesan", "jasa", "2")

    assert texts[1:] == ["Berapa jam?", "Berapa banyak?"]


async def test_a_step_whose_condition_fails_is_skipped(driver: Driver, mentor: Person, toy: None) -> None:
    small = await say(driver, mentor, "pesan", "jasa", "1", "5")
    await say(driver, mentor, "batal")
    big = await say(driver, mentor, "pesan", "jasa", "1", "50", "antar pagi")

    assert small[-1].startswith("Tambahan?")
    assert big[-2:] == ["Pesanan besar: catatan untuk dapur?", "Tambahan? Sudah: -. Ketik *selesai* jika cukup."]


async def test_choice_buttons_answer_the_open_step_only(driver: Driver, mentor: Person, toy: None) -> None:
    await say(driver, mentor, "pesan")
    asked = message_of(await driver.last(mentor))
    await driver.press(mentor, "toy:k:jasa", channel=Channel.TELEGRAM)
    await driver.press(mentor, "toy:k:kue", channel=Channel.TELEGRAM)  # stale: the open step is "hours"

    assert [(b.label, b.payload) for b in asked.buttons] == [("Kue", "toy:k:kue"), ("Jasa", "toy:k:jasa")]
    assert (await driver.received(mentor))[-2:] == ["Berapa jam?", "Berapa jam?"]


async def test_confirm_button_finishes(driver: Driver, mentor: Person, toy: None) -> None:
    await say(driver, mentor, "pesan", "kue", "pandan", "2", "selesai")
    await driver.press(mentor, "toy:ok", channel=Channel.TELEGRAM)

    assert (await driver.received(mentor))[-1] == "Tersimpan: kue ×2."
    assert await stored_state(driver, mentor) is None


async def test_finish_may_send_the_person_back_to_a_step(driver: Driver, mentor: Person, toy: None) -> None:
    texts = await say(driver, mentor, "pesan", "kue", "pandan", "120", "-", "selesai", "ya", "12")

    assert texts[-2] == "Paling banyak 99.\n\nBerapa banyak?"
    assert texts[-1] == "Pesanan besar: catatan untuk dapur?"  # the form goes on from the step it went back to


async def test_button_without_an_open_form_has_expired(driver: Driver, mentor: Person, toy: None) -> None:
    await driver.press(mentor, "toy:ok", channel=Channel.TELEGRAM)

    assert await driver.received(mentor) == ["Pilihan itu sudah tidak berlaku. Ketik *menu* untuk melihat pilihan."]


async def test_form_resumes_at_the_open_step_after_something_else(driver: Driver, mentor: Person,
                                                                  toy: None) -> None:
    await say(driver, mentor, "pesan", "kue", "coklat")
    await say(driver, mentor, "menu")
    texts = await say(driver, mentor, "pesan", "4")

    assert texts == ["Berapa banyak?", "Tambahan? Sudah: -. Ketik *selesai* jika cukup."]


class KeptStore(StateStore):
    """Like a report draft: what was typed outlives the conversation state ("batal")."""

    def __init__(self) -> None:
        self.kept: dict[int, tuple[str, Data]] = {}

    async def load(self, ctx: Context, form: str) -> tuple[str, Data] | None:
        return self.kept.get(ctx.person.id)

    async def save(self, ctx: Context, form: str, step: str, data: Data) -> None:
        self.kept[ctx.person.id] = (step, data)
        await set_state(ctx.session, ctx.person.id, form, {}, ctx.now)

    async def clear(self, ctx: Context, form: str) -> None:
        self.kept.pop(ctx.person.id, None)
        await super().clear(ctx, form)


async def test_a_store_can_keep_answers_past_batal(driver: Driver, mentor: Person, toy: None) -> None:
    registry.FLOWS.pop("toy_form")
    getattr(registry, "FLOW_TRAITS", {}).pop("toy_form", None)
    FORMS["toy"] = toy_form(KeptStore())
    await say(driver, mentor, "pesan", "jasa", "3", "batal")

    texts = await say(driver, mentor, "pesan", "7", "selesai", "ya")

    assert texts == ["Berapa banyak?", "Tambahan? Sudah: -. Ketik *selesai* jika cukup.", "jasa, 7. Simpan?",
                     "Tersimpan: jasa ×7."]


def test_table_is_checked_when_the_form_is_made(toy: None) -> None:
    def ask(name: str, following: str | None = None) -> Step:
        return Step(name, "toy.ask_kind", kind, next=following)

    with pytest.raises(ValueError, match="unknown 'nowhere'"):
        Form("toy_bad", prefix="toyb", finish=save, steps=(ask("a", "nowhere"),))
    with pytest.raises(ValueError, match="distinct"):
        Form("toy_bad", prefix="toyb", finish=save, steps=(ask("a"), ask("a", FINISH)))


def saying(text: str) -> Context:
    """A context holding only a typed text (for parse functions)."""
    inbound = Inbound(Address(Channel.TELEGRAM, "1"), "ext-1", START, text=text)
    return Context(session=None, inbound=inbound, now=START, config=Config(), person=Person(id=1))  # type: ignore[arg-type]


def test_ready_made_parses_and_option_buttons() -> None:
    data: Data = {"options": [["Angkatan 1", "Angkatan 1", None], ["Kelompok Budi", "", 7]]}

    assert pick_option("options", "toy.hint_kind")(saying("kelompok budi"), data) == ("", 7)
    assert pick_option("options", "toy.hint_kind")(saying("Angkatan 3"), data) == Retry("toy.hint_kind")
    assert [(c.label, c.argument, c.value) for c in option_buttons("options", "aud")(saying(""), data)] == [
        ("Angkatan 1", "aud:0", ("Angkatan 1", None)), ("Kelompok Budi", "aud:1", ("", 7))]
    assert short_text(5, "toy.hint_kind")(saying("Judul"), {}) == "Judul"
    assert short_text(5, "toy.hint_kind")(saying("Judul!"), {}) == Retry("toy.hint_kind")
    assert confirmation("toy.hint_confirm")(saying("Ya"), {}) is True
    assert confirmation("toy.hint_confirm")(saying("nanti"), {}) == Retry("toy.hint_confirm")
