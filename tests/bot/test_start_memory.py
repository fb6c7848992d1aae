"""`klinik run` starts small: a library loads when what needs it is configured or first used (issue 11: memory).

Each check runs in a fresh interpreter: the test process has imported everything already.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not in a started bot until used: each is ≈1-40 MB resident, together ≈35 MB of the 111 MB it started at.
LATER = ("matplotlib", "openpyxl", "alembic", "telegram", "twilio.rest", "aiohttp", "requests", "jinja2",
         "phonenumbers", "asyncpg", "rich", "holidays.countries")

BUILD_APP = """
import asyncio, json, sys
from bot.app import KlinikApp
from bot.cli import main  # `klinik run`'s entry point, and what it imports
from bot.settings import load_settings
from handlers.consultation.worktime import national_holidays

async def build():
    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{sys.argv[1]}/k.db",
                             data_dir=sys.argv[1], media_dir=f"{sys.argv[1]}/media", **json.loads(sys.argv[2]))
    app = KlinikApp(settings)
    holidays = sorted(str(day) for day in national_holidays("ID", 2026))  # a ticket's deadline in working hours
    print(json.dumps({"loaded": [name for name in json.loads(sys.argv[3]) if name in sys.modules],
                      "senders": sorted(app.worker.senders), "holidays": holidays}))
    if app.twilio is not None:
        await app.twilio.http_client.close()
    await app.engine.dispose()

asyncio.run(build())
"""


def build_app(tmp_path: Path, channels: dict[str, object]) -> dict[str, list[str]]:
    result = subprocess.run([sys.executable, "-c", BUILD_APP, str(tmp_path), json.dumps(channels), json.dumps(LATER)],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    built: dict[str, list[str]] = json.loads(result.stdout)
    return built


def test_a_bot_starts_without_the_libraries_of_what_it_has_not_used(tmp_path: Path) -> None:
    built = build_app(tmp_path, {})

    assert built["loaded"] == []
    assert built["senders"] == []
    assert "2026-03-19" in built["holidays"]  # Nyepi, from the one country's module


def test_configured_channels_load_their_libraries_and_senders(tmp_path: Path) -> None:
    built = build_app(tmp_path, {"telegram": {"token": "123456:ABC-def"},
                                 "twilio": {"account_sid": "AC" + "0" * 32, "auth_token": "rahasia",
                                            "whatsapp_from": "+14155238886"}})

    assert built["senders"] == ["telegram", "whatsapp"]
    assert {"telegram", "twilio.rest", "aiohttp"} <= set(built["loaded"])
