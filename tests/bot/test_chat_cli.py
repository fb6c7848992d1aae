"""`klinik demo` then `klinik chat`: a newcomer's first session, read as a transcript."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

SCRIPT = """/sebagai Sari
halo
1
bagaimana cara ngurus nib?
1
/sebagai Budi
halo
/tekan 1
jawab 1 Daftar NIB di oss.go.id dengan NIK.
/keluar
"""


def klinik(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KLINIK_")}
    env["KLINIK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    env["KLINIK_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)


def test_demo_import_is_idempotent(tmp_path: Path) -> None:
    first = klinik(tmp_path, "demo")
    second = klinik(tmp_path, "demo")

    assert "dibuat 10, diperbarui 0, tidak berubah 0" in first.stdout
    assert "dibuat 0, diperbarui 0, tidak berubah 10" in second.stdout


def test_chat_shows_a_question_reaching_the_mentor_and_the_answer_coming_back(tmp_path: Path) -> None:
    klinik(tmp_path, "demo")

    result = klinik(tmp_path, "chat", stdin=SCRIPT)

    transcript = result.stdout
    assert result.returncode == 0, result.stderr
    assert "✅ Pertanyaan Anda diterima sebagai *#1*. Pendamping Anda, Budi Pendamping, akan menjawab di sini." in transcript
    assert "┌─ untuk Budi Pendamping (pendamping, telegram)" in transcript
    assert "❓ Pertanyaan baru *#1* dari Sari Peserta (Keripik Sari)" in transcript
    answer_to_sari = transcript.split("┌─ untuk Sari Peserta (peserta, whatsapp)")[-1]
    assert "💬 Jawaban pendamping Budi Pendamping untuk pertanyaan #1:" in answer_to_sari
    assert "Daftar NIB di oss.go.id dengan NIK." in answer_to_sari


def test_chat_names_its_database_and_keeps_log_lines_out_of_the_conversation(tmp_path: Path) -> None:
    klinik(tmp_path, "demo")

    result = klinik(tmp_path, "chat", stdin=SCRIPT)

    assert result.stdout.splitlines()[0] == f"Database: {tmp_path}/demo.db"
    assert result.stderr == ""
    assert "INFO" not in result.stdout
    assert (tmp_path / "data" / "klinik-chat.log").exists()


def test_help_is_indonesian_by_default_and_english_on_request(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    said = {}
    for language in ("id", "en"):
        monkeypatch.setenv("KLINIK_LANGUAGE", language)
        with pytest.raises(SystemExit):
            main(["cuti", "add", "--help"])
        said[language] = capsys.readouterr().out

    assert said["id"].startswith("Cara pakai: klinik cuti add [-h] [--move-open] mentor start end backup\n")
    assert "  mentor                nama atau nomor pendamping\n" in said["id"]
    assert "  -h, --help            tampilkan bantuan ini lalu keluar\n" in said["id"]
    assert "  mentor                the mentor's name or phone number\n" in said["en"]


def test_cli_speaks_the_configured_language(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    said = {}
    for language in ("id", "en"):
        monkeypatch.setenv("KLINIK_LANGUAGE", language)
        assert main(["tugas", "list"]) == 0
        assert main(["digest", "--week", "minggu lalu"]) == 2
        said[language] = capsys.readouterr().out.splitlines()

    assert said == {"id": ["Belum ada tugas.", "Minggu tidak dikenal: 'minggu lalu' (contoh: 2026-W10)"],
                    "en": ["No tugas yet.", "Unknown week: 'minggu lalu' (e.g. 2026-W10)"]}


def test_chat_delivers_what_the_background_owes_a_ringkasan_and_a_broadcast_report(tmp_path: Path) -> None:
    # `klinik chat` has no scheduler: the follow-ups `klinik run` sends within seconds must still arrive.
    klinik(tmp_path, "demo")
    script = ("/sebagai Sari\nhalo\n1\n/sebagai Rina\nhalo\n1\nringkasan\n"
              "siaran angkatan 1\nbesok pelatihan jam 9 di aula ya bapak ibu\nya\n/keluar\n")

    transcript = klinik(tmp_path, "chat", stdin=script).stdout

    to_rina = transcript.split("┌─ untuk Rina Koordinator (koordinator, whatsapp)")
    assert any("Ringkasan mingguan" in part for part in to_rina)  # the figures followed the "sedang disiapkan"
    assert "besok pelatihan jam 9 di aula ya bapak ibu" in transcript.split("┌─ untuk Sari Peserta")[-1]
    assert "📊 *Laporan siaran #1* (angkatan 1, selesai): 1 penerima" in to_rina[-1]
