"""Settings from the environment and .env (prefix KLINIK_, nested with __)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from enum import StrEnum
from pathlib import Path
from typing import Any, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.redact import protect
from handlers.activities.rules import ActivitiesRules
from handlers.broadcasts.rules import BroadcastsRules
from handlers.console.rules import ConsoleRules
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.topics import load_topics
from handlers.kernel.config import Config
from handlers.kernel.rules import SharedRules
from handlers.participation.rules import ParticipationRules
from handlers.privacy.rules import PrivacyRules
from handlers.reports.rules import ReportsRules

PROJECT_DIR = Path(__file__).resolve().parent.parent  # the folder holding bot/, handlers/ and .env.example
SQLITE = "sqlite+aiosqlite:///"


class SettingsError(Exception):
    """A missing or invalid setting, with the variable name in the message."""


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


def _blank_is_none(value: Any) -> Any:
    """An empty line in .env (KLINIK_TELEGRAM__TOKEN=) means "not configured"."""
    return None if isinstance(value, str) and not value.strip() else value


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    mode: TelegramMode = TelegramMode.POLLING
    webhook_secret: SecretStr | None = None
    messages_per_second: float = Field(default=30.0, gt=0)  # never more within any second at Telegram
    per_chat_interval_seconds: float = Field(default=1.0, ge=0)  # counted from the previous answer

    _blank = field_validator("token", "webhook_secret", mode="before")(_blank_is_none)


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    whatsapp_from: str | None = None
    api_base_url: str | None = None
    messages_per_second: float = Field(default=80.0, gt=0)  # a WhatsApp sender's default rate at Twilio
    templates: dict[str, str] = Field(default_factory=dict)

    _blank = field_validator("account_sid", "auth_token", "whatsapp_from", "api_base_url",
                             mode="before")(_blank_is_none)

    @field_validator("account_sid")
    @classmethod
    def _sid_shape(cls, value: str | None) -> str | None:
        if value and not (value.startswith("AC") and len(value) == 34):
            raise ValueError("must look like AC followed by 32 characters")
        return value


class DeliverySettings(BaseModel):
    """Retries, timeouts and concurrency of sending (KLINIK_DELIVERY__*)."""

    retry_for_hours: float = Field(default=24.0, gt=0)
    first_retry_seconds: float = Field(default=2.0, gt=0)
    max_retry_seconds: float = Field(default=600.0, gt=0)
    media_attempts: int = Field(default=3, ge=1)
    min_in_flight_per_channel: int = Field(default=4, ge=1)
    max_in_flight_per_channel: int = Field(default=100, ge=1)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)


class InboxSettings(BaseModel):
    """How inbound messages are processed (KLINIK_INBOX__*): different senders in parallel, each in order."""

    workers: int = Field(default=4, ge=1, le=64)  # PostgreSQL: senders handled at once by this process
    batch_size: int = Field(default=32, ge=1, le=500)  # SQLite: inbound messages per transaction (one writer)


def settable_rules(group: type[Any]) -> dict[str, Any]:
    """A rules dataclass's fields that are environment variables, with their types."""
    hints = get_type_hints(group)
    return {item.name: hints[item.name] for item in dataclasses.fields(group) if "set_by" not in item.metadata}


class RulesSettings(BaseModel):
    """Programme rules, one group per rules.py: KLINIK_RULES__<GROUP>__<RULE>, each rule explained where declared."""

    model_config = ConfigDict(extra="forbid")

    shared: SharedRules = SharedRules()  # handlers/kernel/rules.py
    consultation: ConsultationRules = Field(default_factory=ConsultationRules)  # handlers/consultation/rules.py
    activities: ActivitiesRules = ActivitiesRules()  # handlers/activities/rules.py
    participation: ParticipationRules = ParticipationRules()  # handlers/participation/rules.py
    reports: ReportsRules = ReportsRules()  # handlers/reports/rules.py
    privacy: PrivacyRules = PrivacyRules()  # handlers/privacy/rules.py
    broadcasts: BroadcastsRules = BroadcastsRules()  # handlers/broadcasts/rules.py
    console: ConsoleRules = ConsoleRules()  # handlers/console/rules.py

    @field_validator("*", mode="before")
    @classmethod
    def _from_environment(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse unknown names; decode JSON lists (pydantic-settings passes a stdlib dataclass's values as text)."""
        if not isinstance(value, dict):
            return value
        kind: Any = cls.model_fields[str(info.field_name)].annotation
        names = settable_rules(kind)
        unknown = [key for key in value if key not in names]
        if unknown:
            elsewhere = {item.name: item.metadata["set_by"] for item in dataclasses.fields(kind) if "set_by" in item.metadata}
            raise ValueError("; ".join(f"KLINIK_RULES__{str(info.field_name).upper()}__{key.upper()} "
                                       + (f"is not a setting (use {elsewhere[key]})" if key in elsewhere else "is not a rule")
                                       for key in unknown))
        return {key: _json_if_list(item, names[key]) for key, item in value.items()}

    def groups(self) -> tuple[object, ...]:
        """Every group, for Config.rule_groups."""
        return tuple(getattr(self, name) for name in type(self).model_fields)


def _json_if_list(value: Any, kind: Any) -> Any:
    if isinstance(value, str) and get_origin(kind) in (tuple, list, dict):
        try:
            return json.loads(value)
        except ValueError:
            return value  # pydantic then names the variable and says what it expected
    return value


class Settings(BaseSettings):
    """Every knob of the bot; see .env.example for each one explained."""

    # The project's .env wherever `klinik` runs from; a .env in the current folder overrides it.
    model_config = SettingsConfigDict(env_prefix="KLINIK_", env_nested_delimiter="__",
                                      env_file=(PROJECT_DIR / ".env", ".env"), extra="ignore")

    data_dir: str = ""
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=200)  # PostgreSQL connections per process (+ as many briefly)
    telegram: TelegramSettings = TelegramSettings()
    twilio: TwilioSettings = TwilioSettings()
    delivery: DeliverySettings = DeliverySettings()
    inbox: InboxSettings = InboxSettings()
    public_base_url: str = "http://localhost:8080"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    timezone: str = "Asia/Jakarta"
    language: str = "id"
    programme_name: str = "Klinik Bisnis"
    coordinator_contact: str = "koordinator program di Dinas"
    max_question_chars: int = Field(default=4000, ge=100)
    form_idle_minutes: int = Field(default=30, ge=1)
    topics_file: str = ""
    media_dir: str = ""
    media_ttl_days: int = Field(default=7, ge=1)
    rules: RulesSettings = Field(default_factory=RulesSettings)

    @model_validator(mode="after")
    def _anchor_paths(self) -> Settings:
        """Files never depend on the current folder: defaults under the data folder, relative paths from the project."""
        data = PROJECT_DIR / Path(self.data_dir or "data").expanduser()
        self.data_dir = str(data)
        if not self.database_url.strip():
            self.database_url = f"{SQLITE}{data / 'klinik.db'}"
        elif self.database_url.startswith(SQLITE) and self.database_url != f"{SQLITE}:memory:":
            self.database_url = SQLITE + str(PROJECT_DIR / self.database_url.removeprefix(SQLITE))
        self.media_dir = str(PROJECT_DIR / Path(self.media_dir).expanduser()) if self.media_dir else str(data / "media")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("id", "en"):
            raise ValueError("must be id or en")
        return value

    @property
    def has_telegram(self) -> bool:
        return self.telegram.token is not None

    @property
    def has_whatsapp(self) -> bool:
        return bool(self.twilio.account_sid and self.twilio.auth_token and self.twilio.whatsapp_from)

    def handler_config(self) -> Config:
        """The plain values the handlers need."""
        groups = self.rules.groups()
        if self.topics_file:
            topics = load_topics(Path(self.topics_file))
            groups = tuple(dataclasses.replace(group, topics=topics) if isinstance(group, ConsultationRules) else group
                           for group in groups)
        return Config(timezone=ZoneInfo(self.timezone), language=self.language,
                      programme_name=self.programme_name, coordinator_contact=self.coordinator_contact,
                      max_question_chars=self.max_question_chars, form_idle_minutes=self.form_idle_minutes,
                      media_dir=self.media_dir,
                      media_ttl_days=self.media_ttl_days, rule_groups=groups)


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value stops start-up with the variable's name."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            names = itertools.takewhile(lambda part: isinstance(part, str), problem["loc"])  # not list positions
            name = "KLINIK_" + "__".join(str(part) for part in names).upper()
            lines.append(f"- {name}: {problem['msg']}")
        raise SettingsError("\n".join(lines)) from error
    _check_consistency(settings)
    _protect_secrets(settings)
    return settings


def _protect_secrets(settings: Settings) -> None:
    """Tokens and auth never reach a log, at any level (bot/redact.py)."""
    telegram, twilio = settings.telegram, settings.twilio
    protect(*(value.get_secret_value() for value in (telegram.token, telegram.webhook_secret) if value is not None))
    if twilio.auth_token is not None:
        protect(twilio.auth_token.get_secret_value(), basic_user=twilio.account_sid)


def _check_consistency(settings: Settings) -> None:
    twilio = settings.twilio
    given = [twilio.account_sid, twilio.auth_token, twilio.whatsapp_from]
    if any(given) and not all(given):
        missing = [name for name, value in zip(("ACCOUNT_SID", "AUTH_TOKEN", "WHATSAPP_FROM"), given, strict=True)
                   if not value]
        raise SettingsError("\n".join(f"- KLINIK_TWILIO__{name}: required when WhatsApp is configured"
                                      for name in missing))
    if settings.telegram.mode == TelegramMode.WEBHOOK and settings.telegram.token and not settings.telegram.webhook_secret:
        raise SettingsError("- KLINIK_TELEGRAM__WEBHOOK_SECRET: required in webhook mode")
