"""Start-up and shutdown in order: database, delivery, inbox, channels, HTTP server, scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.request_validator import RequestValidator

from bot.console import Console
from bot.delivery import (
    DeliveryWorker,
    Pace,
    RateLimiter,
    RetryPolicy,
    Sender,
    is_dead_neighbour,
    reachability_hook,
)
from bot.health import Health, Heartbeat, Pulse, process_holder
from bot.http import WebApp
from bot.inbox import InboxProcessor
from bot.media import MediaStore
from bot.processes import ALL_ROLES, ProcessRole, roles_text
from bot.settings import Settings, TelegramMode
from bot.whatsapp.webhooks import WhatsAppWebhooks
from handlers.kernel.messages import Inbound
from scheduler.runner import LIBC, RENEW_SECONDS, Leadership, build_scheduler
from storage.db import make_engine, make_sessionmaker, upgrade_apart

if TYPE_CHECKING:
    # A channel's library loads when the channel is configured (python-telegram-bot ≈6 MB, aiohttp for Twilio's
    # REST API ≈9 MB resident): bot.telegram and bot.whatsapp.http/sender are imported where used.
    from telegram import Bot

    from bot.telegram import TelegramPoller
    from bot.whatsapp.http import TwilioClient, TwilioHttp

log = logging.getLogger(__name__)

HTTP_CHECK_SECONDS = 2.0
HTTP_BOUND_SECONDS = 60.0
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """At most two glibc malloc arenas in the process, as MALLOC_ARENA_MAX=2 would (set here: no re-exec).

    glibc gives threads that allocate at the same time arenas of their own (up to 8 per core), each keeping what
    was freed in it: the database threads (one per aiosqlite connection, the digest's side connections) held
    ≈ 5 MB more at the digest's peak at 100k and ≈ 6 MB more after it. Arenas are made as threads first need
    them, so this runs before the database threads start. An explicit MALLOC_ARENA_MAX is left as it is."""
    if LIBC is not None and "MALLOC_ARENA_MAX" not in os.environ:
        LIBC.mallopt(M_ARENA_MAX, MALLOC_ARENAS)


class _Server(uvicorn.Server):
    """Uvicorn inside our event loop; the app owns signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class KlinikApp:
    """Everything `klinik run` starts, wired once."""

    settings: Settings
    twilio_http: TwilioHttp | None = None  # HTTP to Twilio's API; None: built from the settings
    roles: frozenset[ProcessRole] = ALL_ROLES  # `klinik run --only …`: the loops this process runs
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = self.settings.handler_config()
        self.engine = make_engine(self.settings.database_url, pool_size=self.settings.database_pool_size)
        self.sessions = make_sessionmaker(self.engine)
        self.bot = self._telegram_bot()
        self.twilio = self._twilio_client()
        self.media = MediaStore(self.sessions, bot=self.bot, twilio_auth=self._twilio_auth(),
                                twilio_base_url=self.settings.twilio.api_base_url,
                                public_base_url=self.settings.public_base_url,
                                link_lifetime=timedelta(days=self.settings.media_ttl_days))
        self.holder = process_holder()
        self.worker = DeliveryWorker(self.sessions, self._senders(), self._limiter(),
                                     on_permanent_failure=reachability_hook(self.config), retry=self._retry_policy(),
                                     min_in_flight=self.settings.delivery.min_in_flight_per_channel,
                                     max_in_flight=self.settings.delivery.max_in_flight_per_channel, holder=self.holder)
        self.processor = InboxProcessor(self.sessions, self.config, after_commit=self.worker.wake,
                                        workers=self.settings.inbox.workers, batch_size=self.settings.inbox.batch_size)
        self.poll_lease = Leadership(self.sessions, name="telegram_polling", holder=self.holder,
                                     is_dead=lambda other: is_dead_neighbour(other, self.holder))
        self.poller = self._telegram_poller()
        # A leader that crashed on this host is replaced at its next renewal by another process, not 90 s later.
        self.leadership = Leadership(self.sessions, holder=self.holder,
                                     is_dead=lambda other: is_dead_neighbour(other, self.holder))
        self.scheduler_pulse = Pulse("scheduler", bound_seconds=4 * RENEW_SECONDS)
        self.scheduler = build_scheduler(self.sessions, self.config, after_run=self.worker.wake,
                                         leadership=self.leadership, beat=self.scheduler_pulse)
        self.http_pulse = Pulse("http", bound_seconds=HTTP_BOUND_SECONDS)
        pulses = self._pulses()
        self.health = Health(self.sessions, pulses)
        self.heartbeat = Heartbeat(self.sessions, self.holder, pulses)
        self.server = _Server(uvicorn.Config(self._web().build(), host=self.settings.http_host,
                                             port=self.settings.http_port, log_level="warning", lifespan="off",
                                             ws="none"))  # no websockets: their protocol module never loads

    def _telegram_bot(self) -> Bot | None:
        token = self.settings.telegram.token
        if not token:
            return None
        from bot.telegram import make_bot

        delivery = self.settings.delivery
        return make_bot(token.get_secret_value(), self.settings.telegram.api_base_url,
                        connect_timeout=delivery.connect_timeout_seconds,
                        read_timeout=delivery.read_timeout_seconds,
                        connections=delivery.max_in_flight_per_channel)

    def _twilio_auth(self) -> tuple[str, str] | None:
        twilio = self.settings.twilio
        if twilio.account_sid and twilio.auth_token:
            return twilio.account_sid, twilio.auth_token.get_secret_value()
        return None

    def _twilio_client(self) -> TwilioClient | None:
        auth = self._twilio_auth() if self.settings.has_whatsapp else None
        if auth is None:
            return None
        from bot.whatsapp.http import make_client

        delivery = self.settings.delivery
        return make_client(*auth, self.settings.twilio.api_base_url, self.twilio_http,
                           connect_timeout=delivery.connect_timeout_seconds,
                           read_timeout=delivery.read_timeout_seconds,
                           connections=delivery.max_in_flight_per_channel)

    def _telegram_poller(self) -> TelegramPoller | None:
        if self.bot is None or self.settings.telegram.mode != TelegramMode.POLLING:
            return None
        from bot.telegram import TelegramPoller

        return TelegramPoller(self.bot, self.ingest, self.processor.wake, lease=self.poll_lease)

    def _retry_policy(self) -> RetryPolicy:
        delivery = self.settings.delivery
        return RetryPolicy(first_seconds=delivery.first_retry_seconds, max_seconds=delivery.max_retry_seconds,
                           retry_for=timedelta(hours=delivery.retry_for_hours))

    def _senders(self) -> dict[str, Sender]:
        senders: dict[str, Sender] = {}
        if self.bot is not None:
            from bot.telegram import TelegramSender

            senders["telegram"] = TelegramSender(self.bot, self.media, self.config.language,
                                                 media_attempts=self.settings.delivery.media_attempts)
        if self.twilio is not None:
            from bot.whatsapp.sender import WhatsAppSender

            twilio = self.settings.twilio
            senders["whatsapp"] = WhatsAppSender(
                self.twilio, self.sessions, sender=str(twilio.whatsapp_from),
                status_callback=f"{self.settings.public_base_url.rstrip('/')}/twilio/status",
                templates=twilio.templates, media=self.media)
        return senders

    def _limiter(self) -> RateLimiter:
        telegram, twilio = self.settings.telegram, self.settings.twilio
        return RateLimiter({"telegram": Pace(telegram.messages_per_second, telegram.per_chat_interval_seconds,
                                             strict=True),
                            "whatsapp": Pace(twilio.messages_per_second)})

    def _whatsapp_webhooks(self) -> WhatsAppWebhooks | None:
        auth = self._twilio_auth()
        if auth is None:
            return None
        return WhatsAppWebhooks(validator=RequestValidator(auth[1]), public_base_url=self.settings.public_base_url,
                                sessions=self.sessions, config=self.config, ingest=self.ingest,
                                after_ingest=self.processor.wake, after_status=self.worker.wake)

    def _web(self) -> WebApp:
        secret = self.settings.telegram.webhook_secret
        web = WebApp(sessions=self.sessions, ingest=self.ingest, after_ingest=self.processor.wake,
                      media=self.media, whatsapp=self._whatsapp_webhooks(),
                      telegram_bot=self.bot if self.settings.telegram.mode == TelegramMode.WEBHOOK else None,
                      telegram_secret=secret.get_secret_value() if secret else None,
                      max_body_bytes=self.settings.http_max_body_bytes,
                      console=Console(sessions=self.sessions, config=self.config,
                                      public_base_url=self.settings.public_base_url, after_commit=self.worker.wake,
                                      refresh_in_background=True))
        web.check_health = self.check_health
        return web

    def _pulses(self) -> list[Pulse]:
        """The loops of this process's roles: /healthz and `klinik status` report exactly these."""
        pulses: list[Pulse] = []
        if ProcessRole.WEB in self.roles:
            pulses.append(self.http_pulse)
        if ProcessRole.WORKER in self.roles:
            pulses += [self.processor.pulse, self.worker.pulse] + ([self.poller.pulse] if self.poller else [])
        if ProcessRole.SCHEDULER in self.roles:
            pulses.append(self.scheduler_pulse)
        return pulses

    async def check_health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz: the database and this process's loops, and which roles run here."""
        healthy, report = await self.health.check()
        return healthy, {"roles": [role.value for role in ProcessRole if role in self.roles]} | report

    async def _watch_http(self) -> None:
        """The http pulse passes while uvicorn accepts connections (the server has no passes of its own)."""
        while not self.server.should_exit:
            if self.server.started:
                self.http_pulse.passed()
            await asyncio.sleep(HTTP_CHECK_SECONDS)

    async def ingest(self, inbound: Inbound) -> bool:
        """Store one inbound message (dedupe by channel and external id; grouped with others on SQLite)."""
        return await self.processor.store(inbound, datetime.now(UTC))

    async def start(self) -> None:
        """Bring every part up; pending outbox rows and unprocessed inbox items resume here."""
        limit_malloc_arenas()
        await upgrade_apart(self.settings.database_url)
        self._warn_missing_templates()
        roles = self.roles
        if self.bot is not None and roles & {ProcessRole.WEB, ProcessRole.WORKER}:
            await self.bot.initialize()
            if ProcessRole.WEB in roles:
                await self._configure_webhook()
        await self.heartbeat.beat()  # alive before claiming: no other process takes our rows
        await self.heartbeat.forget_old()
        self.tasks = [asyncio.create_task(self.heartbeat.run(), name="heartbeat")]
        if ProcessRole.WORKER in roles:
            await self.worker.take_back_from_dead_neighbours()
            self.tasks += [asyncio.create_task(self.worker.run(), name="delivery"),
                           asyncio.create_task(self.processor.run(), name="inbox")]
            if self.poller is not None:
                self.tasks.append(asyncio.create_task(self.poller.run(), name="telegram-polling"))
        if ProcessRole.WEB in roles:
            self.tasks += [asyncio.create_task(self.server.serve(), name="http"),
                           asyncio.create_task(self._watch_http(), name="http-pulse")]
        if ProcessRole.SCHEDULER in roles:
            self.scheduler.start()
        log.info("Klinik Bisnis running (%s): telegram=%s whatsapp=%s http=%s", roles_text(roles),
                 self.bot is not None, self.twilio is not None,
                 f"{self.settings.http_host}:{self.settings.http_port}" if ProcessRole.WEB in roles else "-")

    async def _configure_webhook(self) -> None:
        assert self.bot is not None
        if self.settings.telegram.mode != TelegramMode.WEBHOOK:
            return
        secret = self.settings.telegram.webhook_secret
        await self.bot.set_webhook(f"{self.settings.public_base_url.rstrip('/')}/telegram/webhook",
                                   secret_token=secret.get_secret_value() if secret else None,
                                   allowed_updates=["message", "callback_query"])

    def _warn_missing_templates(self) -> None:
        if self.twilio is None:
            return
        from bot.whatsapp.sender import HELD_TEMPLATE

        for purpose in (HELD_TEMPLATE,):
            if purpose not in self.settings.twilio.templates:
                log.warning("No WhatsApp template for %r (KLINIK_TWILIO__TEMPLATES): messages outside the "
                            "24-hour window wait until the person writes again", purpose)

    async def stop(self) -> None:
        """Stop taking work, finish what is in hand, close connections."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            await self.leadership.release()
        if self.poller is not None:
            self.poller.stop()
            with contextlib.suppress(Exception):
                await self.poll_lease.release()
        self.server.should_exit = True
        self.processor.stop()
        if ProcessRole.WORKER in self.roles:
            await self.worker.finish(grace_seconds=5)
        self.heartbeat.stop()
        _done, pending = await asyncio.wait(self.tasks, timeout=10)
        for task in pending:
            task.cancel()
        if self.bot is not None:
            with contextlib.suppress(Exception):
                await self.bot.shutdown()
        if self.twilio is not None:
            await self.twilio.http_client.close()
        await self.engine.dispose()
        log.info("Klinik Bisnis stopped")


async def serve(settings: Settings, roles: frozenset[ProcessRole] = ALL_ROLES) -> None:
    """Run until SIGTERM or SIGINT."""
    app = KlinikApp(settings, roles=roles)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await app.start()
    # What the process made to start (modules, catalogs, the app) lives as long as it does: kept out of the
    # collector's full passes, each of which otherwise walks it all (≈80 ms of a stalled event loop)
    gc.collect()
    gc.freeze()
    await stopping.wait()
    await app.stop()
