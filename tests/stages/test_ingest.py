"""Ingest on real files as villages and branches send them: xlsx with numeric NIK cells,
Windows csv with semicolons, broken and duplicate deliveries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from rentan.core.ledger import DUPLICATE, LOADED, UNREADABLE, Ledger
from rentan.core.settings import data_paths
from rentan.ingest import ingest
from rentan.ingest.readers import read_table

# sample NIKs: structurally valid, not real people
NIK_A = "1604011708750001"
NIK_B = 1604015508750000  # as Excel keeps a 16-digit number typed into a cell: 15 digits then 0


def _xlsx(path: Path, rows: list[list], sheet="Usulan", start_row=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(sheet)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(start_row + i, j, v)
            else:
                ws.write_number(start_row + i, j, v)
    wb.close()
    return path


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _bronze(root: Path, source="submissions"):
    glob = (root / "warehouse" / "bronze" / source / "**" / "*.parquet").as_posix()
    return duckdb.sql(
        f"select area, source_file, sheet, row_number, fields, numeric_fields "
        f"from read_parquet('{glob}', hive_partitioning=true) order by source_file, row_number"
    ).fetchall()


def _ledger(root: Path):
    with Ledger(data_paths(root).ledger_url) as led:
        return {e.file: e for e in led.entries()}


def test_xlsx_keeps_numeric_nik_as_digits_and_flags_the_cell(tmp_path):
    f = _xlsx(
        tmp_path / "a.xlsx",
        [["DAFTAR USULAN PEKERJA RENTAN"], [], ["NO", "NIK", "NAMA LENGKAP", "TGL LAHIR"],
         [1, NIK_A, "Budi Santoso", "17-08-1975"], [2, NIK_B, "Siti Aminah", 27623.0], [],
         [3, 1.60401e15, "Ani", None]],
    )
    t = read_table(f)
    assert t.sheet == "Usulan"
    assert t.header == ["NO", "NIK", "NAMA LENGKAP", "TGL LAHIR"]
    assert t.header_row == 3  # title rows above are not data
    assert t.row_numbers == [4, 5, 7]  # as Excel numbers them; the blank row 6 is skipped
    nik = t.header.index("NIK")
    assert t.columns[nik] == [NIK_A, str(NIK_B), "1604010000000000"]
    assert t.numeric[nik] == [False, True, True]
    assert t.columns[t.header.index("TGL LAHIR")] == ["17-08-1975", "27623", None]


def test_csv_windows_semicolon_with_quoted_newline(tmp_path):
    text = 'No;N I K;Nama;Alamat\r\n1;1.60401E+15;José Ñoer;"Dusun II\r\nRT 01"\r\n2;' + NIK_A + ";Ani;Jl. Lintas\r\n"
    f = _write(tmp_path / "b.csv", text.encode("cp1252"))
    t = read_table(f)
    assert t.header == ["No", "N I K", "Nama", "Alamat"]
    assert t.columns[1] == ["1.60401E+15", NIK_A]  # text exactly as the sender's file holds it
    assert t.columns[2] == ["José Ñoer", "Ani"]
    assert t.row_numbers == [2, 4]  # the line each record starts on
    assert t.numeric == []


def test_utf8_bom_and_duplicate_headers(tmp_path):
    f = _write(tmp_path / "c.csv", "\ufeffNIK,NAMA,NAMA,\n1,a,b,c\n".encode("utf-8"))
    t = read_table(f)
    assert t.header == ["NIK", "NAMA", "NAMA_2", "KOLOM_4"]
    assert [c[0] for c in t.columns] == ["1", "a", "b", "c"]


@pytest.fixture
def landing(data_root):
    land = data_root / "landing"
    good = _xlsx(land / "submissions/lahat/kota-lahat/usulan_desa_a.xlsx",
                 [["NO", "NIK", "NAMA"], [1, NIK_A, "Budi"], [2, NIK_B, "Siti"]])
    _write(land / "submissions/pali/talang-ubi/usulan_b.csv", f"NO;NIK;NAMA\n1;{NIK_A};Budi\n".encode("cp1252"))
    _write(land / "submissions/lahat/kota-lahat/kosong.csv", b"")
    _write(land / "submissions/lahat/kota-lahat/judul_saja.csv", b"NO,NIK,NAMA\n")
    _write(land / "membership/lahat/extract.xlsx", b"PK\x03\x04 not really a zip")
    _write(land / "claims/lahat/scan.pdf", b"%PDF-1.4 ...")
    _write(land / "claims/unknown-branch/klaim.csv", b"NO KLAIM,KPJ,NIK\n1,2,3\n")
    copy = land / "submissions/lahat/kota-lahat/usulan_desa_a (1).xlsx"
    shutil.copyfile(good, copy)
    # the copy arrived later than the original
    os.utime(copy, (good.stat().st_mtime + 60, good.stat().st_mtime + 60))
    return land


def test_ingest_loads_good_files_records_bad_ones_and_goes_on(data_root, landing):
    rep = ingest(data_paths(data_root), load_id="night-1")
    assert (rep.loaded, rep.duplicates, rep.unreadable) == (2, 1, 5)
    assert rep.rows == {("submissions", "lahat"): 2, ("submissions", "pali"): 1}

    led = _ledger(data_root)
    assert led["submissions/lahat/kota-lahat/usulan_desa_a.xlsx"].status == LOADED
    dup = led["submissions/lahat/kota-lahat/usulan_desa_a (1).xlsx"]
    assert dup.status == DUPLICATE and dup.duplicate_of == "submissions/lahat/kota-lahat/usulan_desa_a.xlsx"
    reasons = {f: e.reason_code for f, e in led.items() if e.status == UNREADABLE}
    assert reasons == {
        "submissions/lahat/kota-lahat/kosong.csv": "empty_file",
        "submissions/lahat/kota-lahat/judul_saja.csv": "no_data_rows",
        "membership/lahat/extract.xlsx": "corrupt_xlsx",
        "claims/lahat/scan.pdf": "not_spreadsheet",
        "claims/unknown-branch/klaim.csv": "unknown_area",
    }
    for e in led.values():
        if e.status == UNREADABLE:
            assert e.reason and e.alasan, f"{e.file} has no reason in both languages"

    rows = _bronze(data_root)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("lahat", "submissions/lahat/kota-lahat/usulan_desa_a.xlsx", 2),
        ("lahat", "submissions/lahat/kota-lahat/usulan_desa_a.xlsx", 3),
        ("pali", "submissions/pali/talang-ubi/usulan_b.csv", 2),
    ]
    assert rows[1][4] == {"NO": "2", "NIK": str(NIK_B), "NAMA": "Siti"}
    assert rows[1][5] == ["NO", "NIK"]
    assert not any((data_root / "work").rglob("*.parquet")), "work in progress left behind"


def test_batches_of_any_size_load_the_same(data_root, landing, monkeypatch, tmp_path):
    """Files are read and recorded a batch at a time: batches of two give what one batch gives,
    a copy in another batch is still a duplicate, and the ledger keeps the landing order."""
    from rentan.ingest import batch as ingest_mod

    whole = tmp_path / "whole"
    shutil.copytree(data_root, whole)
    one = ingest(data_paths(whole), load_id="night-1")
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 2)
    two = ingest(data_paths(data_root), load_id="night-1")
    assert two.as_dict() == one.as_dict()
    assert _bronze(data_root) == _bronze(whole)
    fields = lambda e: (e.status, e.reason_code, e.duplicate_of, e.sha256, e.data_rows)  # noqa: E731
    assert {f: fields(e) for f, e in _ledger(data_root).items()} == {f: fields(e) for f, e in _ledger(whole).items()}
    order = lambda root: [e.file for e in Ledger(data_paths(root).ledger_url).entries()]  # noqa: E731
    assert order(data_root) == order(whole)


def test_misfiled_files_are_told_apart_all_at_once_as_one_by_one():
    from rentan.config import load_config
    from rentan.ingest.fit import misfiled, misfiled_many
    from rentan.ingest.readers import Table

    def table(niks, desa):
        return Table(sheet="Sheet1", header_row=1, header=["NIK", "DESA"], row_numbers=list(range(2, 2 + len(niks))),
                     columns=[list(niks), list(desa)])

    lahat, pali = "1604011708750001", "1612011708750001"
    tables = [
        table([pali] * 4, ["Talang Ubi"] * 4),                         # PALI's rows in Lahat's folder
        table([lahat] * 4, ["Kota Lahat"] * 4),                        # at home
        table([pali, pali], ["x", "y"]),                               # too few rows say anything
        table([pali, lahat, pali, lahat, pali], [None] * 5),           # mixed: not clearly elsewhere
        Table(sheet="S", header_row=1, header=["NAMA"], row_numbers=[2], columns=[["Ani"]]),  # no evidence
    ]
    config = load_config()
    together = misfiled_many(tables, "submissions", "lahat", config)
    assert together == [misfiled(t, "submissions", "lahat", config) for t in tables]
    assert together[0] is not None and together[0].regency == "pali" and together[0].rows == 4
    assert together[1:] == [None, None, None, None]


def test_second_run_loads_nothing_and_a_corrected_file_loads(data_root, landing):
    ingest(data_paths(data_root), load_id="night-1")
    before = len(_bronze(data_root))
    rep = ingest(data_paths(data_root), load_id="night-2")
    assert (rep.loaded, rep.duplicates, rep.unreadable) == (0, 0, 0)
    assert rep.already_known == rep.files_seen == 8
    assert len(_bronze(data_root)) == before
    assert len(_ledger(data_root)) == 8

    # the branch files its claims correctly: same bytes, right folder -> loaded, not a duplicate
    moved = landing / "claims/lahat/klaim.csv"
    shutil.copyfile(landing / "claims/unknown-branch/klaim.csv", moved)
    rep = ingest(data_paths(data_root), load_id="night-3")
    assert rep.loaded == 1 and rep.duplicates == 0
    assert len(_bronze(data_root, "claims")) == 1


def test_areas_limit_the_run_and_unknown_areas_are_refused(data_root, landing):
    rep = ingest(data_paths(data_root), load_id="pali-only", areas=["pali"])
    assert rep.rows == {("submissions", "pali"): 1}
    assert set(_ledger(data_root)) == {"submissions/pali/talang-ubi/usulan_b.csv"}
    with pytest.raises(ValueError, match="unknown area"):
        ingest(data_paths(data_root), load_id="x", areas=["atlantis"])
