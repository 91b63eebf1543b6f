"""Fix-lists for the villages, and the xlsx writer every export for people goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rentan.core.settings import data_paths
from rentan.exports.desa import HELD_BACK, write_fix_lists
from rentan.exports.xlsx import neutralise, write_xlsx
from rentan.quality.reasons import REASONS

SNAPSHOT = dt.date(2025, 6, 5)

SCHEMA = pa.schema([
    ("source", pa.string()), ("source_file", pa.string()), ("sheet", pa.string()), ("row_number", pa.int32()),
    ("file_sha256", pa.string()), ("load_id", pa.string()), ("village_code", pa.string()),
    ("regency_code", pa.string()), ("reason_code", pa.string()), ("field", pa.string()),
    ("sender_header", pa.string()), ("value", pa.string()), ("reason", pa.string()), ("alasan", pa.string()),
    ("tindakan", pa.string()), ("suggestions", pa.string()), ("reason_codes", pa.list_(pa.string())),
    ("name_given", pa.string()), ("blocked", pa.bool_()),
])

KEMBANG_AYUN = "16.04.01.2001"   # desa in Kecamatan Tanjungsakti Pumu, Kabupaten Lahat
GUNUNG_MERAKSA = "16.04.01.2002"  # same district; sent a clean file, so nothing in quarantine
KUBU_PERAHU = "18.04.04.2002"    # pekon in Kecamatan Balik Bukit, Kabupaten Lampung Barat

FILE_A = "submissions/lahat/tanjungsakti-pumu/usulan_kembang_ayun.xlsx"
FILE_B = "submissions/lampung-barat/balik-bukit/usulan_kubu_perahu.csv"
FILE_C = "submissions/lahat/lain/usulan_desa_baru.xlsx"
HYPERLINK = '=HYPERLINK("http://contoh.invalid/x","klik")'


def _row(source_file, row_number, village_code, regency_code, reason_code, *, field=None, header=None, value=None,
         codes=None, name=None, suggestions=None, blocked=False, sheet="Sheet1"):
    r = REASONS[reason_code]
    return {
        "source": "submissions", "source_file": source_file, "sheet": sheet, "row_number": row_number,
        "file_sha256": hashlib.sha256(source_file.encode()).hexdigest(), "load_id": "load-1",
        "village_code": village_code, "regency_code": regency_code, "reason_code": reason_code, "field": field,
        "sender_header": header, "value": value, "reason": r.en, "alasan": r.id, "tindakan": r.action,
        "suggestions": suggestions, "reason_codes": codes or [reason_code], "name_given": name, "blocked": blocked,
    }


def _lahat_village_rows():
    return [
        _row(FILE_A, 7, KEMBANG_AYUN, "16.04", "nik_numeric_cell", field="nik", header="N I K",
             value="1604014508750000", codes=["nik_numeric_cell", "date_unreadable"], name="SITI AMINAH"),
        _row(FILE_A, 5, KEMBANG_AYUN, "16.04", "nik_not_digits", field="nik", header="N I K", value=HYPERLINK,
             name="=cmd|' /C calc'!A0"),
        _row(FILE_A, 12, KEMBANG_AYUN, "16.04", "nik_wrong_length", field="nik", header="N I K",
             value="+6281234567", name="-BUDI"),
        _row(FILE_A, 9, KEMBANG_AYUN, "16.04", "village_unknown", field="desa", header="DESA", value="Kembang Ayn",
             name="ANI", suggestions="Kembang Ayun (Kec. Tanjungsakti Pumu)"),
    ]


def _lahat_unknown_rows():
    return [_row(FILE_C, 3, None, "16.04", "date_impossible", field="tanggal_lahir", header="TGL LAHIR",
                 value="31-02-1980", name="RUDI")]


def _pekon_rows():
    # a file held back whole: its required birth-date column is missing
    return [_row(FILE_B, n, KUBU_PERAHU, "18.04", "missing_column", field="tanggal_lahir", name=f"WARGA {n}",
                 value="@SUM(A1)" if n == 3 else None, blocked=True, sheet="") for n in (4, 2, 3)]


def _write_quarantine(root: Path, area: str, rows: list[dict], name: str = "part.parquet") -> Path:
    folder = data_paths(root).layer("quarantine", "submissions") / f"area={area}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    return path


@pytest.fixture
def quarantine(data_root) -> Path:
    _write_quarantine(data_root, "lahat", _lahat_village_rows() + _lahat_unknown_rows())
    _write_quarantine(data_root, "lampung-barat", _pekon_rows())
    return data_root


def _desa(root: Path) -> Path:
    return data_paths(root).exports / "desa"


NAMED = {KEMBANG_AYUN: "kembang-ayun", KUBU_PERAHU: "kubu-perahu"}


def _list_of(root: Path, slug: str, code: str) -> Path:
    """A village's list is named by its name and code."""
    return _desa(root) / slug / code / f"daftar_perbaikan_{NAMED[code]}_{code}.xlsx"


def _table(path: Path, sheet: str = "Daftar Perbaikan"):
    """(title lines, header, data rows as lists of cells) of one sheet."""
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows())
    at = next(i for i, r in enumerate(rows) if r[0].value == "Berkas")
    titles = [r[0].value for r in rows[:at] if r[0].value]
    header = [c.value for c in rows[at]]
    return titles, header, [list(r) for r in rows[at + 1:]]


def _col(header, data, name):
    i = header.index(name)
    return [r[i] for r in data]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- fix-lists -----------------------------------------------------------------------------------

def test_one_list_per_village_where_the_spec_puts_it(quarantine):
    written = write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    expected = {
        _list_of(quarantine, "lahat", KEMBANG_AYUN),
        _list_of(quarantine, "lampung-barat", KUBU_PERAHU),
        _desa(quarantine) / "lahat" / "tanpa-kode-desa" / "daftar_perbaikan_usulan_desa_baru.xlsx",
    }
    assert set(written) == expected
    templates = {_desa(quarantine) / slug / f"templat_usulan_{slug}.xlsx" for slug in ("lahat", "lampung-barat", "pali")}
    assert set(_desa(quarantine).rglob("*.xlsx")) == expected | templates
    # a village with nothing in quarantine gets nothing, and no scratch is left behind
    assert not (_desa(quarantine) / "lahat" / GUNUNG_MERAKSA).exists()
    assert not any(p.is_file() for p in (data_paths(quarantine).work / "exports").rglob("*"))


def test_identifiers_are_text_and_formulas_are_neutralised(quarantine):
    write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    path = _list_of(quarantine, "lahat", KEMBANG_AYUN)
    _, header, data = _table(path)
    values = _col(header, data, "Isi Saat Ini")
    names = _col(header, data, "Nama")

    nik = next(c for c in values if c.value == "1604014508750000")
    assert nik.data_type == "s" and nik.number_format == "@"
    assert {c.value for c in values} >= {"'" + HYPERLINK, "'+6281234567"}
    assert {c.value for c in names} >= {"'=cmd|' /C calc'!A0", "'-BUDI", "SITI AMINAH"}
    for cell in values + names:
        assert cell.data_type == "s"
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets and not any("<f>" in s or "<f " in s for s in sheets)


def test_rows_are_those_of_the_senders_file_in_order(quarantine):
    write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    _, header, data = _table(_list_of(quarantine, "lahat", KEMBANG_AYUN))
    rows = _col(header, data, "Baris")
    assert [c.value for c in rows] == [5, 7, 9, 12]
    assert all(c.data_type == "n" for c in rows)
    assert {c.value for c in _col(header, data, "Berkas")} == {"usulan_kembang_ayun.xlsx"}
    by_row = {r[header.index("Baris")].value: {h: c.value for h, c in zip(header, r)} for r in data}
    assert by_row[7]["Kolom"] == "N I K"
    assert by_row[7]["Masalah"] == REASONS["nik_numeric_cell"].id
    assert by_row[7]["Yang Harus Dilakukan"] == REASONS["nik_numeric_cell"].action
    assert by_row[7]["Masalah Lain"] == REASONS["date_unreadable"].id
    assert by_row[5]["Masalah Lain"] is None
    assert by_row[9]["Saran"] == "Kembang Ayun (Kec. Tanjungsakti Pumu)"


def test_titles_name_the_village_its_district_and_regency(quarantine):
    write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    titles, _, _ = _table(_list_of(quarantine, "lahat", KEMBANG_AYUN))
    text = "\n".join(titles)
    assert titles[0] == "DAFTAR PERBAIKAN USULAN PEKERJA RENTAN"
    assert "Desa Kembang Ayun" in text and "Kecamatan Tanjungsakti Pumu" in text and "Kabupaten Lahat" in text
    assert "Keadaan data per 05-06-2025" in text
    pekon, _, _ = _table(_list_of(quarantine, "lampung-barat", KUBU_PERAHU))
    assert "Pekon Kubu Perahu" in "\n".join(pekon) and "Kabupaten Lampung Barat" in "\n".join(pekon)


def test_a_held_back_file_is_led_by_one_line_saying_so(quarantine):
    write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    titles, header, data = _table(_list_of(quarantine, "lampung-barat", KUBU_PERAHU))
    cells = [{h: c.value for h, c in zip(header, r)} for r in data]
    assert cells[0]["Masalah"].startswith(HELD_BACK)
    assert REASONS["missing_column"].id in cells[0]["Masalah"] and "TANGGAL LAHIR" in cells[0]["Masalah"]
    assert cells[0]["Baris"] is None and cells[0]["Berkas"] == "usulan_kubu_perahu.csv"
    assert [c["Baris"] for c in cells[1:]] == [2, 3, 4]
    assert [c["Isi Saat Ini"] for c in cells[1:]] == [None, "'@SUM(A1)", None]
    assert any(HELD_BACK in t for t in titles)


def test_summary_counts_every_reason_of_every_row(quarantine):
    write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    _, header, data = _table(_list_of(quarantine, "lahat", KEMBANG_AYUN), "Ringkasan")
    counts = {r[header.index("Masalah")].value: r[header.index("Jumlah Baris")].value for r in data}
    assert counts == {REASONS[c].id: 1 for c in
                      ("nik_numeric_cell", "date_unreadable", "nik_not_digits", "nik_wrong_length", "village_unknown")}
    assert all(r[header.index("Jumlah Baris")].data_type == "n" for r in data)


def test_lists_of_fixed_villages_are_removed_on_the_next_run(quarantine):
    paths = data_paths(quarantine)
    write_fix_lists(paths, snapshot=SNAPSHOT)
    assert _list_of(quarantine, "lahat", KEMBANG_AYUN).exists()

    # Kembang Ayun sent a corrected file: only the file of unknown village is left in Lahat
    _write_quarantine(quarantine, "lahat", _lahat_unknown_rows())
    written = write_fix_lists(paths, snapshot=SNAPSHOT)
    assert not (_desa(quarantine) / "lahat" / KEMBANG_AYUN).exists()
    assert set(_desa(quarantine).rglob("daftar_perbaikan_*.xlsx")) == set(written) == {
        _list_of(quarantine, "lampung-barat", KUBU_PERAHU),
        _desa(quarantine) / "lahat" / "tanpa-kode-desa" / "daftar_perbaikan_usulan_desa_baru.xlsx",
    }

    # everything fixed: the quarantine is gone, and so are all lists
    for f in paths.layer("quarantine", "submissions").rglob("*.parquet"):
        f.unlink()
    assert write_fix_lists(paths, snapshot=SNAPSHOT) == []
    assert not list(_desa(quarantine).rglob("daftar_perbaikan_*.xlsx"))
    # what stays is each regency's blank form
    assert sorted(p.relative_to(_desa(quarantine)).as_posix() for p in _desa(quarantine).rglob("*.xlsx")) == [
        f"{slug}/templat_usulan_{slug}.xlsx" for slug in ("lahat", "lampung-barat", "pali")]


def test_no_quarantine_folder_gives_no_lists(data_root):
    assert write_fix_lists(data_paths(data_root), snapshot=SNAPSHOT) == []
    assert not list(_desa(data_root).rglob("daftar_perbaikan_*.xlsx"))


def test_same_quarantine_gives_identical_bytes_whatever_the_row_order(quarantine):
    paths = data_paths(quarantine)
    first = {p: _sha(p) for p in write_fix_lists(paths, snapshot=SNAPSHOT)}
    again = {p: _sha(p) for p in write_fix_lists(paths, snapshot=SNAPSHOT)}
    assert first == again

    # the same rows, stored in another order and split over two files
    rows = _lahat_village_rows() + _lahat_unknown_rows()
    _write_quarantine(quarantine, "lahat", rows[::-1][:2])
    _write_quarantine(quarantine, "lahat", rows[::-1][2:], name="other.parquet")
    shuffled = {p: _sha(p) for p in write_fix_lists(paths, snapshot=SNAPSHOT)}
    assert shuffled == first

    later = {p: _sha(p) for p in write_fix_lists(paths, snapshot=SNAPSHOT + dt.timedelta(days=1))}
    assert set(later) == set(first) and all(later[p] != first[p] for p in first)


def test_no_personal_data_in_file_names(quarantine):
    written = write_fix_lists(data_paths(quarantine), snapshot=SNAPSHOT)
    personal = {r["name_given"] for r in _lahat_village_rows() + _pekon_rows() + _lahat_unknown_rows()}
    personal |= {r["value"] for r in _lahat_village_rows() if r["value"]}
    for path in written:
        rel = str(path.relative_to(_desa(quarantine)))
        assert not any(p and p in rel for p in personal)
        assert re.fullmatch(r"(lahat|lampung-barat)/(\d\d\.\d\d\.\d\d\.\d{4}|tanpa-kode-desa)/"
                            r"daftar_perbaikan_([a-z-]+_\d\d\.\d\d\.\d\d\.\d{4}|usulan_desa_baru)\.xlsx", rel), rel


# --- the xlsx writer -------------------------------------------------------------------------------

def test_neutralise_prefixes_what_a_spreadsheet_would_run():
    given = pd.Series(["=1+1", "+62812", "-5", "@SUM(A1)", "\tx", "\rx", "ok", None, "a=b", "'=x", ""],
                      dtype="object")
    got = neutralise(given)
    assert got.tolist()[:7] == ["'=1+1", "'+62812", "'-5", "'@SUM(A1)", "'\tx", "'\rx", "ok"]
    assert got.isna().tolist()[7] and got.tolist()[8:] == ["a=b", "'=x", ""]
    assert got.index.equals(given.index)


def test_write_xlsx_types_header_and_layout(tmp_path):
    frame = pd.DataFrame({
        "NIK": ["1604014508750001", "0012", None],
        "Jumlah": pd.array([3, None, 7], dtype="Int64"),
        "Nominal": [16800.5, float("nan"), 0.0],
        "Tanggal": [dt.date(1975, 8, 17), None, dt.date(2000, 1, 1)],
    })
    path = tmp_path / "out" / "t.xlsx"
    write_xlsx(path, {"Data": frame}, created=dt.datetime(2025, 1, 1), title_rows={"Data": ["JUDUL", "+baris 2"]})
    ws = openpyxl.load_workbook(path)["Data"]
    assert ws["A1"].value == "JUDUL" and ws["A2"].value == "'+baris 2"
    assert [c.value for c in ws[4]] == ["NIK", "Jumlah", "Nominal", "Tanggal"] and ws["A4"].font.b
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref == "A4:D7"
    assert ws["A5"].data_type == "s" and ws["A5"].value == "1604014508750001" and ws["A6"].value == "0012"
    assert ws["B5"].data_type == "n" and ws["B5"].value == 3 and ws["B6"].value is None
    assert ws["C5"].value == 16800.5 and ws["C6"].value is None
    assert ws["D5"].is_date and ws["D5"].value == dt.datetime(1975, 8, 17) and ws["D5"].number_format == "dd-mm-yyyy"
    assert 6 <= ws.column_dimensions["A"].width <= 60


def test_write_xlsx_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Data": pd.DataFrame({"a": ["x"]})}, created=dt.datetime(2025, 1, 1))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_xlsx(path, {"Data": pd.DataFrame({"a": ["y"]}), "bad/name": pd.DataFrame({"a": ["y"]})},
                   created=dt.datetime(2025, 1, 1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_files_of_unknown_village_get_safe_distinct_list_names(data_root):
    one, two = "submissions/lahat/a/Usulan Desa (1).xlsx", "submissions/lahat/b/Usulan Desa (1).xlsx"
    _write_quarantine(data_root, "lahat", [
        _row(one, 3, None, "16.04", "name_missing", field="nama", header="NAMA"),
        _row(two, 4, None, "16.04", "name_missing", field="nama", header="NAMA"),
    ])
    written = write_fix_lists(data_paths(data_root), snapshot=SNAPSHOT)
    folder = _desa(data_root) / "lahat" / "tanpa-kode-desa"
    assert len(written) == 2 and all(p.parent == folder for p in written)
    for path in written:
        assert re.fullmatch(r"daftar_perbaikan_Usulan_Desa_1_[0-9a-f]{8}\.xlsx", path.name), path.name
    rows = sorted(_col(*_table(path)[1:], "Baris")[0].value for path in written)
    assert rows == [3, 4]
