"""Settings from the environment and .env (prefix KLINIK_, nested with __)."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.kernel.config import Config


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
    messages_per_second: float = Field(default=25.0, gt=0)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0)

    _blank = field_validator("token", "webhook_secret", mode="before")(_blank_is_none)


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    whatsapp_from: str | None = None
    api_base_url: str | None = None
    messages_per_second: float = Field(default=20.0, gt=0)
    templates: dict[str, str] = Field(default_factory=dict)

    _blank = field_validator("account_sid", "auth_token", "whatsapp_from", "api_base_url",
                             mode="before")(_blank_is_none)

    @field_validator("account_sid")
    @classmethod
    def _sid_shape(cls, value: str | None) -> str | None:
        if value and not (value.startswith("AC") and len(value) == 34):
            raise ValueError("must look like AC followed by 32 characters")
        return value


# Config fields that are set from top-level settings or files, not as programme rules.
NOT_RULES = frozenset({"timezone", "language", "programme_name", "coordinator_contact", "max_question_chars",
                       "topics", "telegram_text_limit", "whatsapp_text_limit"})


def _rules_model() -> type[BaseModel]:
    """A settings model mirroring every programme rule of handlers.kernel.config.Config, with its default."""
    hints = get_type_hints(Config)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(Config):
        if item.name in NOT_RULES:
            continue
        default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[misc]
        fields[item.name] = (hints[item.name], default)
    return create_model("Rules", **fields)


Rules = _rules_model()


class Settings(BaseSettings):
    """Every knob of the bot; see .env.example for each one explained."""

    model_config = SettingsConfigDict(env_prefix="KLINIK_", env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/klinik.db"
    telegram: TelegramSettings = TelegramSettings()
    twilio: TwilioSettings = TwilioSettings()
    public_base_url: str = "http://localhost:8080"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    timezone: str = "Asia/Jakarta"
    language: str = "id"
    programme_name: str = "Klinik Bisnis"
    coordinator_contact: str = "koordinator program di Dinas"
    max_question_chars: int = Field(default=4000, ge=100)
    topics_file: str = ""
    rules: Rules = Field(default_factory=Rules)  # type: ignore[valid-type]

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
        extra: dict[str, Any] = {}
        if self.topics_file:
            from handlers.consultation.topics import load_topics

            extra["topics"] = load_topics(Path(self.topics_file))
        return Config(timezone=ZoneInfo(self.timezone), language=self.language,
                      programme_name=self.programme_name, coordinator_contact=self.coordinator_contact,
                      max_question_chars=self.max_question_chars, **self.rules.model_dump(), **extra)


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value stops start-up with the variable's name."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "KLINIK_" + "__".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"- {name}: {problem['msg']}")
        raise SettingsError("\n".join(lines)) from error
    _check_consistency(settings)
    return settings


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
