"""`klinik chat`: a terminal channel to try the bot as anyone on the roster, no account needed."""

from __future__ import annotations

import asyncio
import shlex
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryWorker, Pace, PartSent, RateLimiter, no_progress
from bot.inbox import InboxProcessor, ingest
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Address, Channel, Inbound
from handlers.kernel.numbers import option_number
from handlers.kernel.outbox import message_of
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.models import OutboxMessage, Person

# Jobs whose answers a person waits for in chat: `klinik chat` runs them after every message (it has no scheduler).
FOLLOW_UP_JOBS = tuple(job for job in JOBS if job.id in {"summary_requests", "broadcasts"})


@dataclass
class Seen:
    """The buttons of the last message a person received, to press by number."""

    buttons: list[tuple[str, str]] = field(default_factory=list)


def chat_telegram_id(phone: str) -> str:
    """The Telegram user id the chat uses for a person (stable, derived from the phone)."""
    return "7" + phone[-9:]


class ConsoleSender:
    """Prints each delivered row as the recipient would see it."""

    def __init__(self, chat: ChatSession, channel: str) -> None:
        self.chat, self.channel = chat, channel

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None:
        """Show the message (all its parts at once); return a message id the user can reply to."""
        return await self.chat.show(row)


class ChatSession:
    """A REPL over the real inbox, router, outbox and delivery worker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: Config, out=sys.stdout) -> None:
        self.sessions, self.config, self.out = sessions, config, out
        self.actor: Person | None = None
        self.channel = Channel.WHATSAPP
        self.clock_offset = datetime.now(UTC) - datetime.now(UTC)
        self.seen: dict[str, Seen] = {}
        self.counter = 0
        self.shown = 0
        senders = {"telegram": ConsoleSender(self, "telegram"), "whatsapp": ConsoleSender(self, "whatsapp")}
        self.worker = DeliveryWorker(self.sessions, senders, RateLimiter({"telegram": Pace(1000), "whatsapp": Pace(1000)}),
                                     concurrency=1, clock=self.now)
        self.processor = InboxProcessor(self.sessions, config, after_commit=lambda: None, clock=self.now)

    def now(self) -> datetime:
        """The chat's clock (movable with /waktu)."""
        return datetime.now(UTC) + self.clock_offset

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def say(self, key: str, **values: object) -> None:
        """Print a text of the cli catalog in the configured language."""
        self.print(t(key, self.config.language, **values))

    async def show(self, row: OutboxMessage) -> str:
        async with self.sessions() as session:
            person = await session.get(Person, row.recipient_id) if row.recipient_id else None
        self.shown += 1
        number = self.shown
        who = f"{person.name} ({person.role}, {row.channel})" if person else f"{row.address} ({row.channel})"
        self.print()
        self.say("cli.chat_to", who=who, number=number)
        message = message_of(row)
        for line in message.text.splitlines() or [""]:
            self.print(f"│ {line}")
        key = f"{row.channel}:{row.address}"
        seen = self.seen.setdefault(key, Seen())
        seen.buttons = [(b.label, b.payload) for b in message.buttons]
        if message.buttons and row.channel == "telegram":
            self.print("│ " + "  ".join(f"[{i}] {label}" for i, (label, _) in enumerate(seen.buttons, 1)))
        if message.request_contact:
            self.say("cli.chat_share_contact", button=t("core.share_contact_button", self.config.language))
        for attachment in message.attachments:
            self.print(f"│ 📎 {attachment.kind} {attachment.name or ''}")
        self.print("└─")
        return f"chat-{number}"

    async def people(self) -> list[Person]:
        async with self.sessions() as session:
            return list((await session.execute(select(Person).order_by(Person.role, Person.id))).scalars())

    async def choose(self, wanted: str) -> None:
        people = await self.people()
        match = None
        if (number := option_number(wanted, len(people))) is not None:
            match = people[number - 1]
        else:
            match = next((p for p in people if wanted.lower() in p.name.lower() or wanted in p.phone), None)
        if match is None:
            self.say("cli.chat_not_found")
            return
        self.actor = match
        self.channel = Channel(match.preferred_channel or Channel.WHATSAPP)
        self.say("cli.chat_now_as", name=match.name, role=match.role, channel=self.channel)

    def address(self) -> Address:
        assert self.actor is not None
        if self.channel == Channel.TELEGRAM:
            return Address(Channel.TELEGRAM, self.telegram_id())
        return Address(Channel.WHATSAPP, self.actor.phone)

    def telegram_id(self) -> str:
        assert self.actor is not None
        return chat_telegram_id(self.actor.phone)

    async def send(self, text: str = "", **extra: object) -> None:
        if self.actor is None:
            self.say("cli.chat_choose_first")
            return
        self.counter += 1
        address = self.address()
        inbound = Inbound(address=address, external_id=f"chat-in-{self.now().timestamp()}-{self.counter}",
                          received_at=self.now(), sender_id=address.id if self.channel == Channel.TELEGRAM
                          else self.actor.phone, sender_name=self.actor.name, text=text, **extra)  # type: ignore[arg-type]
        await ingest(self.sessions, inbound, self.now())
        await self.settle()

    async def settle(self) -> None:
        """Process everything stored and deliver everything owed, then the follow-ups `klinik run` would send
        within seconds (a `ringkasan` being prepared, a broadcast due or its delivery report), delivered too."""
        await self.processor.drain_once()
        for _ in range(2):  # a broadcast's rows are delivered in the first round, its report in the second
            while await self.worker.drain_once():
                pass
            for job in FOLLOW_UP_JOBS:
                await run_job(job, self.sessions, self.config, self.now())
        while await self.worker.drain_once():
            pass

    async def handle(self, line: str) -> bool:
        """One line typed by the user; False to quit."""
        if not line.startswith("/") or line.split()[0] not in COMMANDS:
            await self.press_or_send(line)
            return True
        words = shlex.split(line)
        return await COMMANDS[words[0]](self, words[1:])

    async def last_seen(self) -> Seen | None:
        """What the actor last received here; after a restart, read back from the outbox."""
        address = self.address()
        key = f"{address.channel}:{address.id}"
        if key not in self.seen:
            async with self.sessions() as session:
                query = (select(OutboxMessage).where(OutboxMessage.channel == address.channel.value,
                                                     OutboxMessage.address == address.id)
                         .order_by(OutboxMessage.id.desc()).limit(1))
                row = (await session.execute(query)).scalar_one_or_none()
            buttons = message_of(row).buttons if row else ()
            self.seen[key] = Seen(buttons=[(b.label, b.payload) for b in buttons])
        return self.seen[key]

    async def press_or_send(self, line: str) -> None:
        seen = await self.last_seen() if self.actor else None
        if self.channel == Channel.TELEGRAM and seen and line.strip().isdigit() and seen.buttons:
            await cmd_press(self, [line.strip()])
            return
        await self.send(line)


async def cmd_people(chat: ChatSession, _args: list[str]) -> bool:
    for index, person in enumerate(await chat.people(), 1):
        chat.print(f"{index:>3}. {person.name} — {person.role}, {person.phone}, {person.preferred_channel or 'whatsapp'}")
    return True


async def cmd_as(chat: ChatSession, args: list[str]) -> bool:
    await chat.choose(" ".join(args))
    return True


async def cmd_channel(chat: ChatSession, args: list[str]) -> bool:
    if args and args[0] in ("telegram", "whatsapp"):
        chat.channel = Channel(args[0])
    chat.say("cli.chat_channel", channel=chat.channel)
    return True


async def cmd_contact(chat: ChatSession, _args: list[str]) -> bool:
    if chat.actor is None:
        chat.say("cli.chat_choose_first")
        return True
    chat.channel = Channel.TELEGRAM
    await chat.send("", contact_phone=chat.actor.phone, contact_user_id=chat.telegram_id())
    return True


async def cmd_press(chat: ChatSession, args: list[str]) -> bool:
    seen = await chat.last_seen() if chat.actor else None
    number = option_number(args[0], len(seen.buttons)) if seen and args else None
    if seen is None or number is None:
        chat.say("cli.chat_no_button")
        return True
    if chat.channel == Channel.WHATSAPP:
        await chat.send(str(number))
    else:
        await chat.send("", payload=seen.buttons[number - 1][1])
    return True


async def cmd_reply(chat: ChatSession, args: list[str]) -> bool:
    if len(args) < 2 or not args[0].isdigit():
        chat.say("cli.chat_reply_usage")
        return True
    await chat.send(" ".join(args[1:]), reply_to_external_id=f"chat-{args[0]}")
    return True


async def cmd_photo(chat: ChatSession, args: list[str]) -> bool:
    from handlers.kernel.messages import Attachment

    photo = Attachment("photo", "demo-photo", chat.channel, "image/jpeg", "foto.jpg", 52_000)
    await chat.send(" ".join(args), attachments=(photo,))
    return True


async def cmd_time(chat: ChatSession, args: list[str]) -> bool:
    if args:
        wanted = datetime.strptime(" ".join(args), "%Y-%m-%d %H:%M").replace(tzinfo=chat.config.timezone)
        chat.clock_offset = wanted - datetime.now(UTC)
    now = chat.now().astimezone(chat.config.timezone)
    chat.say("cli.chat_clock", weekday=t("dates.weekdays", chat.config.language).split(",")[now.weekday()],
             when=f"{now:%Y-%m-%d %H:%M %Z}")
    return True


async def cmd_run(chat: ChatSession, args: list[str]) -> bool:
    job = next((j for j in JOBS if args and j.id == args[0]), None)
    if job is None:
        chat.say("cli.chat_jobs", jobs=", ".join(j.id for j in JOBS) or t("cli.chat_no_jobs", chat.config.language))
        return True
    count = await run_job(job, chat.sessions, chat.config, chat.now())
    chat.say("cli.chat_job_done", job=job.id, count=count)
    await chat.settle()
    return True


async def cmd_help(chat: ChatSession, _args: list[str]) -> bool:
    chat.say("cli.chat_help")
    return True


async def cmd_quit(_chat: ChatSession, _args: list[str]) -> bool:
    return False


COMMANDS = {"/orang": cmd_people, "/sebagai": cmd_as, "/kanal": cmd_channel, "/kontak": cmd_contact,
            "/tekan": cmd_press, "/balas": cmd_reply, "/foto": cmd_photo, "/waktu": cmd_time,
            "/jalankan": cmd_run, "/bantuan-chat": cmd_help, "/keluar": cmd_quit}


async def repl(sessions: async_sessionmaker[AsyncSession], config: Config, actor: str | None = None) -> None:
    """Read lines until /keluar or end of input."""
    chat = ChatSession(sessions, config)
    chat.say("cli.chat_welcome")
    await chat.settle()
    if not await chat.people():
        chat.say("cli.chat_empty_roster")
    if actor:
        await chat.choose(actor)
    loop = asyncio.get_running_loop()
    while True:
        who = f"{chat.actor.name} · {chat.channel}" if chat.actor else t("cli.chat_nobody", config.language)
        line = await loop.run_in_executor(None, _read_line, f"\n[{who}] > ")
        if line is None or not await chat.handle(line.strip()):
            break


def _read_line(prompt: str) -> str | None:
    # Piped input is echoed so a saved transcript reads like the screen.
    interactive = sys.stdin.isatty()
    try:
        line = input(prompt if interactive else "")
    except EOFError:
        return None
    if not interactive:
        print(prompt.strip() + " " + line, flush=True)
    return line
