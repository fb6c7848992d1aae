"""`klinik run` starts small: a library loads when what needs it is configured or first used (issue 11: memory).

Each check runs in a fresh interpreter: the test process has imported everything already.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not in a started bot until used: each is ≈1-40 MB resident, together ≈35 MB of the 111 MB it started at.
LATER = ("matplotlib", "openpyxl", "alembic", "telegram", "aiohttp", "jinja2", "phonenumbers", "asyncpg", "rich",
         "holidays.countries")
# Never: the Twilio SDK's generated REST API and HTTP layer, and requests (≈11 MB): the bot calls the API itself.
NEVER = ("twilio.rest", "twilio.http", "requests")

BUILD_APP = """
import asyncio, json, sys
from bot.app import KlinikApp
from bot.cli import main  # `klinik run`'s entry point, and what it imports
from bot.settings import load_settings
from handlers.consultation.worktime import national_holidays

async def twilio_peer(channels):
    # A Twilio API on loopback (the standard library's server: aiohttp must load only through the bot):
    # a create answers a SID, a list an empty page.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Messages(BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer(201, {"sid": "SM" + "1" * 32, "status": "queued"})

        def do_GET(self):
            self.answer(200, {"messages": [], "next_page_uri": None})

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Messages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channels["twilio"]["api_base_url"] = f"http://127.0.0.1:{server.server_address[1]}"
    return server

async def build():
    channels, names = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    peer = await twilio_peer(channels) if "twilio" in channels else None
    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{sys.argv[1]}/k.db",
                             data_dir=sys.argv[1], media_dir=f"{sys.argv[1]}/media", **channels)
    app = KlinikApp(settings)
    holidays = sorted(str(day) for day in national_holidays("ID", 2026))  # a ticket's deadline in working hours
    built = {"loaded": [name for name in names if name in sys.modules], "senders": sorted(app.worker.senders),
             "holidays": holidays}
    if app.twilio is not None:
        from datetime import UTC, datetime
        from handlers.kernel.messages import OutgoingPart
        from storage.models import OutboxMessage

        row = OutboxMessage(id=1, channel="whatsapp", address="+6281200000001",
                            payload=OutgoingPart(text="Halo kak").to_json())
        sender = app.worker.senders["whatsapp"]
        built["sent"] = await sender.send(row)
        built["looked"] = await sender.already_sent(row, datetime.now(UTC))
        built["loaded after a send"] = [name for name in names if name in sys.modules]
        await app.twilio.http_client.close()
    if peer is not None:
        peer.shutdown()
    await app.engine.dispose()
    print(json.dumps(built, default=str))

asyncio.run(build())
"""


def build_app(tmp_path: Path, channels: dict[str, object]) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", BUILD_APP, str(tmp_path), json.dumps(channels),
                             json.dumps(LATER + NEVER)], capture_output=True, text=True, cwd=ROOT, check=True)
    built: dict[str, object] = json.loads(result.stdout)
    return built


def test_a_bot_starts_without_the_libraries_of_what_it_has_not_used(tmp_path: Path) -> None:
    built = build_app(tmp_path, {})

    assert built["loaded"] == []
    assert built["senders"] == []
    assert "2026-03-19" in built["holidays"]  # Nyepi, from the one country's module


def test_configured_channels_load_their_libraries_and_senders_but_never_the_twilio_sdk(tmp_path: Path) -> None:
    built = build_app(tmp_path, {"telegram": {"token": "123456:ABC-def"},
                                 "twilio": {"account_sid": "AC" + "0" * 32, "auth_token": "rahasia",
                                            "whatsapp_from": "+14155238886"}})

    assert built["senders"] == ["telegram", "whatsapp"]
    assert {"telegram", "aiohttp"} <= set(built["loaded"])
    assert (built["sent"], built["looked"]) == ("SM" + "1" * 32, None)  # one create and one list went through
    assert set(NEVER).isdisjoint(built["loaded"])
    assert set(NEVER).isdisjoint(built["loaded after a send"])
