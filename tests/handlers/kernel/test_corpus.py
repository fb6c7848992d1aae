"""The message corpus: what participants and mentors really write, each with the outcome it must have.

`tests/corpus/messages.txt` holds the cases: a line `## <situation> -> <outcome>` starts a section,
every following non-empty line is one message. Add a line for every misread message a user reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers.activities.money import parse_rupiah
from handlers.kernel.messages import Channel
from storage.models import (
    ConversationState,
    Meeting,
    ParkedFlow,
    Person,
    Ticket,
    TicketMessage,
    TicketRating,
)
from tests.support.driver import Driver

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "messages.txt"
TG = Channel.TELEGRAM


@dataclass(frozen=True)
class Case:
    """One message in one situation with the outcome it must have."""

    situation: str
    outcome: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"{CORPUS.name}:{self.line} {self.situation}->{self.outcome} {self.text[:40]!r}"


def load_cases() -> list[Case]:
    """Every case of the corpus file, with its line number."""
    cases: list[Case] = []
    situation = outcome = ""
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith("## "):
            situation, _, outcome = (part.strip() for part in line[3:].partition("->"))
        elif line and not line.startswith("#"):
            cases.append(Case(situation, outcome, line.replace("\\n", "\n"), number))
    return cases


CASES = load_cases()


def test_corpus_is_large_and_covers_every_situation() -> None:
    situations = {case.situation for case in CASES}

    assert len(CASES) >= 300
    assert situations >= {"fresh", "open_ticket", "answered_ticket", "rating_asked", "no_consent",
                          "session_ahead", "jawab", "amount"}


@pytest.mark.parametrize("case", [c for c in CASES if c.situation == "amount"], ids=str)
def test_amounts_people_type_are_read_as_meant(case: Case) -> None:
    assert parse_rupiah(case.text) == int(case.outcome)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("case", [c for c in CASES if c.situation != "amount"], ids=str)
async def test_message_lands_where_it_was_meant(case: Case, driver: Driver, participant: Person,
                                                mentor: Person) -> None:
    await SITUATIONS[case.situation](driver, participant, mentor)
    before = await counts(driver)

    sender = mentor if case.situation == "jawab" else participant
    await driver.say(sender, case.text, channel=TG if sender is mentor else Channel.WHATSAPP)

    await OUTCOMES[case.outcome](driver, participant, case.text, before)


# Situations: what happened before the message.

async def fresh(driver: Driver, participant: Person, mentor: Person) -> None:
    """A consented participant with no open question."""


async def open_ticket(driver: Driver, participant: Person, mentor: Person) -> None:
    """Question #1 waits for the mentor."""
    await driver.say(participant, "Kak, cara hitung HPP keripik gimana ya?")
    await driver.press(participant, "tp:keuangan")


async def answered_ticket(driver: Driver, participant: Person, mentor: Person) -> None:
    """The mentor answered question #1 (a statement, no question back)."""
    await open_ticket(driver, participant, mentor)
    await driver.say(mentor, "jawab 1 Jumlahkan bahan, tenaga dan overhead, lalu bagi dengan jumlah produk.",
                     channel=TG)


async def rating_asked(driver: Driver, participant: Person, mentor: Person) -> None:
    """The mentor closed answered question #1 and the participant was asked to rate it."""
    await answered_ticket(driver, participant, mentor)
    await driver.say(mentor, "tutup 1", channel=TG)


async def no_consent(driver: Driver, participant: Person, mentor: Person) -> None:
    """A participant on the roster who has not consented yet."""
    async with driver.sessions.begin() as session:
        stored = await session.get(Person, participant.id)
        assert stored is not None
        stored.consent_given, stored.consent_at = False, None


async def session_ahead(driver: Driver, participant: Person, mentor: Person) -> None:
    """A session of the participant's cohort tomorrow."""
    starts = driver.clock.now + timedelta(days=1)
    async with driver.sessions.begin() as session:
        session.add(Meeting(title="Kelas Pemasaran", cohort=participant.cohort, mentor_id=None,
                            starts_at=starts, ends_at=starts + timedelta(hours=2),
                            checkin_opens_at=starts - timedelta(minutes=30),
                            checkin_closes_at=starts + timedelta(minutes=15), checkin_code="4821",
                            late_after_at=starts + timedelta(minutes=10),
                            created_by_id=mentor.id, created_at=driver.clock.now))


async def jawab(driver: Driver, participant: Person, mentor: Person) -> None:
    """The mentor pressed Jawab on question #1: the next message is the answer."""
    await open_ticket(driver, participant, mentor)
    await driver.press(mentor, "ans:1", channel=TG)


SITUATIONS = {f.__name__: f for f in (fresh, open_ticket, answered_ticket, rating_asked, no_consent,
                                      session_ahead, jawab)}


# Outcomes: what must be true afterwards.

async def counts(driver: Driver) -> dict[str, int]:
    """How many ticket messages and tickets exist now."""
    async with driver.sessions() as session:
        messages = (await session.execute(select(func.count()).select_from(TicketMessage))).scalar_one()
        tickets = (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()
    return {"messages": messages, "tickets": tickets}


async def question(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """A new question: drafted with its full text, waiting for the topic (or queued)."""
    async with driver.sessions() as session:
        state = await session.get(ConversationState, participant.id)
        found = (await session.execute(select(TicketMessage.text).order_by(TicketMessage.id.desc()))).scalars()
        texts = list(found)
    drafted = state is not None and state.flow == "ask" and state.data["text"] == text.strip()
    assert drafted or text.strip() in texts[:1], (state and state.data, texts[:1])


async def follow_up(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """Joined the open question #1 with its full text."""
    async with driver.sessions() as session:
        last = (await session.execute(select(TicketMessage).order_by(TicketMessage.id.desc()).limit(1))).scalar_one()
    assert (last.ticket_id, last.kind, last.text) == (1, "question", text.strip())


async def ack(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """Acknowledged: no ticket and no thread message created, no draft opened, one kind reply."""
    async with driver.sessions() as session:
        state = await session.get(ConversationState, participant.id)
    assert await counts(driver) == before
    assert state is None
    assert len(await driver.received(participant)) >= 1


def rating(score: int):  # a factory of outcome checks
    async def check(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
        async with driver.sessions() as session:
            stored = (await session.execute(select(TicketRating.score))).scalars().all()
        assert list(stored) == [score]
    return check


def consent(given: bool):
    async def check(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
        assert (await driver.refresh(participant)).consent_given is given
    return check


async def kept_before_consent(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """Not consented yet: asked for consent again, and the message kept to be offered afterwards."""
    async with driver.sessions() as session:
        kept = (await session.execute(select(ParkedFlow.data))).scalars().all()
    assert (await driver.refresh(participant)).consent_given is False
    assert [item["text"] for item in kept] == [text.strip()]


async def leave_offer(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """Offered izin/sakit for tomorrow's session, with the text kept as a possible question."""
    async with driver.sessions() as session:
        kept = (await session.execute(select(ParkedFlow.data))).scalars().all()
    received = await driver.received(participant)
    assert received
    assert "Kelas Pemasaran" in received[-1]
    assert [item["text"] for item in kept] == [text.strip()]


async def answer(driver: Driver, participant: Person, text: str, before: dict[str, int]) -> None:
    """The mentor's text is the answer to #1, whatever its first word, and reaches the participant."""
    async with driver.sessions() as session:
        last = (await session.execute(select(TicketMessage).order_by(TicketMessage.id.desc()).limit(1))).scalar_one()
    assert (last.ticket_id, last.kind, last.text) == (1, "answer", text.strip())
    assert any(text.strip()[:30] in message for message in await driver.received(participant))


OUTCOMES = {
    "question": question, "follow_up": follow_up, "ack": ack, "consent_yes": consent(True),
    "consent_no": consent(False), "kept_before_consent": kept_before_consent, "leave_offer": leave_offer,
    "answer": answer, **{f"rating:{n}": rating(n) for n in range(1, 6)},
}


def test_every_section_names_a_known_situation_and_outcome() -> None:
    unknown = [str(c) for c in CASES if c.situation != "amount"
               and (c.situation not in SITUATIONS or c.outcome not in OUTCOMES)]

    assert unknown == []

