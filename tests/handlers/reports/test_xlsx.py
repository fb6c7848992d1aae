"""The digest's streaming workbook writer, read back with openpyxl."""

from pathlib import Path

from openpyxl import load_workbook

from handlers.reports.xlsx import RowsXml, write_xlsx


def test_cells_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_xlsx(path, [("Berisiko", [["Nama", "Skor", "Aktif", "Catatan"],
                                    ["Sari & Joko <UD Maju>", 42.5, True, None],
                                    ["=HYPERLINK(\"http://x\",\"klik\")", 7, False, "baris\x00 kotor\x1f"]]),
                      ("Target: 2026/W10 [baru]", [["Instansi"], ["DKPP"]])])

    book = load_workbook(path)
    rows = [[(c.value, c.data_type, c.quotePrefix) for c in row] for row in book["Berisiko"].iter_rows(min_row=2)]
    assert rows[0][:3] == [("Sari & Joko <UD Maju>", "s", False), (42.5, "n", False), (True, "b", False)]
    assert rows[0][3][0] is None
    assert rows[1] == [('=HYPERLINK("http://x","klik")', "s", True), (7, "n", False), (False, "b", False),
                       ("baris kotor", "s", False)]
    assert book.sheetnames == ["Berisiko", "Target  2026 W10  baru "]


def test_rows_written_ahead_read_back_as_rows_written_in_place(tmp_path: Path) -> None:
    rows = [["Sari", "Angkatan 1", 42.5, "=1+1"], ["Joko & Rudi", "Angkatan 1", 7, "=1+1"], ["Tono", None, 0.5, "ok"]]
    ahead = RowsXml(start=2)
    ahead.add(rows[:2])
    ahead.add(rows[2:])
    write_xlsx(tmp_path / "ahead.xlsx", [("Berisiko", [["Nama", "Angkatan", "Skor", "Alasan"], ahead, ["Total"]])])
    write_xlsx(tmp_path / "inline.xlsx", [("Berisiko", [["Nama", "Angkatan", "Skor", "Alasan"], *rows, ["Total"]])])
    ahead.close()

    def cells(path: Path) -> list[list[tuple[object, str, bool]]]:
        return [[(c.value, c.data_type, c.quotePrefix) for c in row] for row in load_workbook(path)["Berisiko"].rows]

    assert cells(tmp_path / "ahead.xlsx") == cells(tmp_path / "inline.xlsx")
    assert [row[0][0] for row in cells(tmp_path / "ahead.xlsx")] == ["Nama", "Sari", "Joko & Rudi", "Tono", "Total"]


def test_spaces_and_line_breaks_are_kept_as_written(tmp_path: Path) -> None:
    texts = [" Sari", "Joko ", "UD  Maju", "baris\nbaru", "\tmasuk", "biasa saja"]
    write_xlsx(tmp_path / "book.xlsx", [("Catatan", [[text] for text in texts])])

    assert [row[0] for row in load_workbook(tmp_path / "book.xlsx")["Catatan"].iter_rows(values_only=True)] == texts
