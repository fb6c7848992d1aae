"""`klinik angkatan set|jeda|list`: cohort dates and pauses from the command line."""

import shutil
from pathlib import Path

import pytest

from bot.cli import main


def test_set_pause_and_list_cohorts(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("KLINIK_LANGUAGE", "id")

    assert main(["angkatan", "list"]) == 0
    assert main(["angkatan", "set", "Angkatan 1", "--mulai", "2026-01-05", "--selesai", "2026-06-30"]) == 0
    assert main(["angkatan", "jeda", "Angkatan 1", "--dari", "2026-03-18", "--sampai", "2026-03-24"]) == 0
    assert main(["angkatan", "list"]) == 0
    assert main(["angkatan", "jeda", "Angkatan 1", "--hapus-jeda"]) == 0
    assert main(["angkatan", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Belum ada angkatan dengan tanggal.",
        "Tanggal Angkatan 1 dicatat: 5 Jan–30 Jun 2026.",
        "Angkatan 1 dijeda 18–24 Mar 2026: tanpa pengingat dan sapaan.",
        "Angkatan 1: 5 Jan–30 Jun 2026 (jeda 18–24 Mar 2026)",
        "Jeda Angkatan 1 dihapus.",
        "Angkatan 1: 5 Jan–30 Jun 2026"]


def test_bad_dates_and_unknown_cohort_are_refused(tmp_path: Path, sqlite_template: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLINIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("KLINIK_LANGUAGE", "id")

    assert main(["angkatan", "set", "Angkatan 1", "--mulai", "2026-06-30", "--selesai", "2026-01-05"]) == 2
    assert main(["angkatan", "jeda", "Angkatan 9", "--dari", "2026-03-18", "--sampai", "2026-03-24"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "Tanggal tidak valid: pakai YYYY-MM-DD, dan tanggal awal tidak sesudah tanggal akhir.",
        "Angkatan 9 belum punya tanggal: catat dulu dengan klinik angkatan set."]
