"""Start-up: settings errors name the variable; `klinik run` serves /healthz and stops on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.settings import SettingsError, load_settings
from tests.support.peers import free_port


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
    assert "Klinik Bisnis stopped" in output


def _wait_for_health(url: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1).status_code
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_programme_rules_reach_the_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLINIK_RULES__SLA_REMIND_HOURS", "4")
    monkeypatch.setenv("KLINIK_RULES__WORK_OPENS", "07:30")

    config = load_settings(_env_file=None).handler_config()

    assert (config.sla_remind_hours, config.work_opens.isoformat()) == (4.0, "07:30:00")


def test_every_programme_rule_is_documented_in_env_example() -> None:
    from bot.settings import Rules

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()

    assert [name for name in Rules.model_fields if f"KLINIK_RULES__{name.upper()}" not in example] == []


def test_env_example_as_is_configures_no_channel() -> None:
    from bot.settings import Settings

    settings = Settings(_env_file=str(Path(__file__).resolve().parents[2] / ".env.example"))

    assert (settings.has_telegram, settings.has_whatsapp) == (False, False)
