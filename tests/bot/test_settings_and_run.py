"""Start-up: settings errors name the variable; `klinik run` serves /healthz and stops on SIGTERM."""

import dataclasses
import inspect
import os
import re
import signal
import subprocess
import sys
import time
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from bot.settings import RulesSettings, Settings, SettingsError, load_settings, settable_rules
from handlers.consultation.rules import ConsultationRules
from handlers.kernel.rules import SharedRules
from tests.support.peers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_invalid_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLINIK_HTTP_PORT", "delapan")

    with pytest.raises(SettingsError, match="KLINIK_HTTP_PORT"):
        load_settings(_env_file=None)


def test_half_configured_whatsapp_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLINIK_TWILIO__ACCOUNT_SID", "AC" + "0" * 32)

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    assert str(raised.value).splitlines() == [
        "- KLINIK_TWILIO__AUTH_TOKEN: required when WhatsApp is configured",
        "- KLINIK_TWILIO__WHATSAPP_FROM: required when WhatsApp is configured"]


def test_unknown_timezone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLINIK_TIMEZONE", "Asia/Atlantis")

    with pytest.raises(SettingsError, match="KLINIK_TIMEZONE"):
        load_settings(_env_file=None)


def test_cli_reports_bad_setting_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "KLINIK_HTTP_PORT": "delapan"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, check=False)

    assert result.returncode == 2
    assert "KLINIK_HTTP_PORT" in result.stderr


def test_run_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "KLINIK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/k.db", "KLINIK_HTTP_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = _wait_for_health(f"http://127.0.0.1:{port}/healthz")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()

    assert status == 200
    assert process.returncode == 0
    assert output.startswith(f"Database: {tmp_path}/k.db\n")
    assert "Klinik Bisnis stopped" in output


def _wait_for_health(url: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1).status_code
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_default_database_is_the_same_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KLINIK_DATABASE_URL", "KLINIK_DATA_DIR", "KLINIK_MEDIA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    settings = load_settings(_env_file=None)

    assert settings.database_url == f"sqlite+aiosqlite:///{ROOT / 'data' / 'klinik.db'}"
    assert settings.media_dir == str(ROOT / "data" / "media")


def test_data_dir_and_relative_paths_are_anchored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATA_DIR", str(tmp_path / "klinik"))

    default = load_settings(_env_file=None)
    monkeypatch.setenv("KLINIK_DATABASE_URL", "sqlite+aiosqlite:///data/lain.db")
    relative = load_settings(_env_file=None)

    assert default.database_url == f"sqlite+aiosqlite:///{tmp_path / 'klinik' / 'klinik.db'}"
    assert relative.database_url == f"sqlite+aiosqlite:///{ROOT / 'data' / 'lain.db'}"


def test_programme_rules_reach_the_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLINIK_RULES__CONSULTATION__SLA_REMIND_HOURS", "4")
    monkeypatch.setenv("KLINIK_RULES__CONSULTATION__WORK_OPENS", "07:30")
    monkeypatch.setenv("KLINIK_RULES__CONSULTATION__WORK_DAYS", "[0, 1, 2]")
    monkeypatch.setenv("KLINIK_RULES__SHARED__QUIET_HOURS", '[[null, "22:00", "06:00"]]')

    config = load_settings(_env_file=None).handler_config()

    consultation = config.rules(ConsultationRules)
    assert (consultation.sla_remind_hours, consultation.work_opens, consultation.work_days) == (4.0, clock_time(7, 30), (0, 1, 2))
    assert consultation.sla_alert_hours == ConsultationRules.sla_alert_hours  # the rest of the group keeps its defaults
    assert config.rules(SharedRules).quiet_hours == ((None, clock_time(22), clock_time(6)),)


def test_topics_come_from_the_topics_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topics = tmp_path / "topics.toml"
    topics.write_text('[[topic]]\nkey = "ekspor"\nlabels = { id = "Ekspor" }\nkeywords = ["ekspor"]\n')
    monkeypatch.setenv("KLINIK_TOPICS_FILE", str(topics))
    monkeypatch.setenv("KLINIK_RULES__CONSULTATION__CONFIRM_TOPIC", "false")

    rules = load_settings(_env_file=None).handler_config().rules(ConsultationRules)

    assert ([topic.key for topic in rules.topics], rules.confirm_topic) == (["ekspor"], False)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("KLINIK_RULES__CONSULTATION__SLA_REMIND_HOURS", "delapan", "- KLINIK_RULES__CONSULTATION__SLA_REMIND_HOURS: "),
    ("KLINIK_RULES__SHARED__QUIET_HOURS", '[[null, "25:00", "06:00"]]', "- KLINIK_RULES__SHARED__QUIET_HOURS: "),
    ("KLINIK_RULES__ACTIVITIES__ACTIVITY_REMINDER_HOURS", "7-20", "- KLINIK_RULES__ACTIVITIES__ACTIVITY_REMINDER_HOURS: "),
    ("KLINIK_RULES__SLA_REMIND_HOURS", "8", "- KLINIK_RULES__SLA_REMIND_HOURS: Extra inputs"),  # the old flat name
    ("KLINIK_RULES__CONSULTATION__SLA_REMIND", "8", "KLINIK_RULES__CONSULTATION__SLA_REMIND is not a rule"),
    ("KLINIK_RULES__CONSULTATION__TOPICS", "[]", "(use KLINIK_TOPICS_FILE)"),
])
def test_a_bad_rule_stops_start_up_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                       message: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    assert message in str(raised.value)


def declared_names(model: type[BaseModel], prefix: str = "KLINIK_") -> set[str]:
    """Every environment variable a settings model reads, rules included."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= declared_names(kind, f"{prefix}{name.upper()}__")
        elif isinstance(kind, type) and dataclasses.is_dataclass(kind):
            names |= {f"{prefix}{name.upper()}__{rule.upper()}" for rule in settable_rules(kind)}
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_env_example_lists_exactly_the_settings() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    listed = re.findall(r"^(KLINIK_\w+)=", example, flags=re.MULTILINE)
    declared = declared_names(Settings)

    assert [name for name in sorted(declared) if name not in listed] == []  # every setting and rule is explained
    assert [name for name in listed if name not in declared] == []  # and nothing there is a dead name
    assert len(listed) == len(set(listed))
    assert any(name.startswith("KLINIK_RULES__CONSULTATION__") for name in declared)


def test_every_rule_is_declared_with_its_comment() -> None:
    for info in RulesSettings.model_fields.values():
        group: Any = info.annotation
        lines = inspect.getsource(group).splitlines()
        for rule in dataclasses.fields(group):
            line = next(i for i, text in enumerate(lines) if text.startswith(f"    {rule.name}:"))
            assert lines[line - 1].strip().startswith("#"), f"{group.__name__}.{rule.name} has no comment"


def test_env_example_as_is_configures_no_channel() -> None:
    settings = Settings(_env_file=str(Path(__file__).resolve().parents[2] / ".env.example"))

    assert (settings.has_telegram, settings.has_whatsapp) == (False, False)
