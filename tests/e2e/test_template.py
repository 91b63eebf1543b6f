"""The blank submission form a regency hands its villages: its cells and dropdowns as Excel shows
them, and a form filled in the way a village operator does, sent back as it is and run through the
real nightly DAG into the branch's enrolment list."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from rentan.config import load_config
from rentan.core.ledger import LOADED, Ledger
from rentan.core.settings import data_paths
from rentan.exports.template import LISTS_SHEET, SHEET, columns, template_name, write_template
from rentan.reference import villages
from tests.nightly import run_nightly
from tests.packages import sheet_rows

SNAPSHOT = "2025-06-30"
DELIVERED = dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC).timestamp()
LAHAT = villages(["16.04"], desa_only=True)
VILLAGE = LAHAT[LAHAT["code"] == "16.04.01.2001"].iloc[0]   # Kembang Ayun, Kecamatan Tanjungsakti Pumu
PEOPLE = [  # NIK, name, birth date, sex, occupation, phone
    ("1604011708750001", "Rudi Hartono", dt.datetime(1975, 8, 17), "L", "Petani", "081234567890"),
    ("1604015203800002", "Sri Wahyuni", dt.datetime(1980, 3, 12), "P", "Pedagang", "085267001122"),
    ("1604010101900003", "Joko Widodo", "01-01-1990", "L", "Tukang", "0813-7000-1234"),  # date typed as text
]


def _form(tmp_path, slug="lahat"):
    config = load_config()
    return write_template(tmp_path / template_name(config.regencies[slug]), config.regencies[slug], config,
                          created=dt.datetime(2025, 6, 1)), config


def _cells(ws):
    header_row = next(r[0].row for r in ws.iter_rows() if sum(c.value is not None for c in r) >= 3)
    return header_row, {c.value: c.column_letter for c in ws[header_row]}


def test_the_form_formats_nik_as_text_and_offers_dropdowns(tmp_path):
    path, config = _form(tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == SHEET and wb[LISTS_SHEET].sheet_state == "hidden"
    ws = wb[SHEET]
    header_row, col = _cells(ws)
    assert list(col) == [h for _, h in columns(config.regencies["lahat"])] == [
        "NO", "NIK", "NAMA", "TEMPAT LAHIR", "TANGGAL LAHIR", "JENIS KELAMIN", "PEKERJAAN", "ALAMAT", "RT/RW",
        "NO HP", "DESA", "KECAMATAN", "SUMBER DANA", "TAHUN"]
    assert header_row <= 20, "the header must be within the first 20 rows for the pipeline to find it"
    for name in ("NIK", "RT/RW", "NO HP"):
        assert ws.column_dimensions[col[name]].number_format == "@", f"{name} is a Text column"
    assert ws.column_dimensions[col["TANGGAL LAHIR"]].number_format == "dd-mm-yyyy"
    found = ws.data_validations.dataValidation
    # every rule covers one column of the form, from the row below the header on
    spans = [list(v.sqref.ranges) for v in found]
    assert all(len(s) == 1 and s[0].min_row == header_row + 1 and s[0].min_col == s[0].max_col for s in spans)
    rules = {get_column_letter(s[0].min_col): v for s, v in zip(spans, found)}
    assert rules[col["JENIS KELAMIN"]].type == "list" and rules[col["JENIS KELAMIN"]].formula1 == '"L,P"'
    lists = wb[LISTS_SHEET]

    def listed(rule) -> list[str]:
        ref = rule.formula1.split("!")[1].replace("$", "")
        return [c.value for row in lists[ref] for c in row]

    assert listed(rules[col["SUMBER DANA"]]) == list(config.programme.funding_sources) == ["ADD", "DD", "PAD", "APBD"]
    assert set(listed(rules[col["DESA"]])) == set(LAHAT["name"]) and VILLAGE["name"] in listed(rules[col["DESA"]])
    assert set(listed(rules[col["KECAMATAN"]])) == set(LAHAT["district_name"])
    assert (rules[col["NIK"]].type, rules[col["NIK"]].operator, rules[col["NIK"]].formula1) == ("textLength", "equal", "16")
    # a pekon regency's form says PEKON
    pekon, _ = _form(tmp_path, "lampung-barat")
    assert "PEKON" in _cells(openpyxl.load_workbook(pekon)[SHEET])[1]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == f"${header_row}:${header_row}"


@pytest.mark.e2e
def test_a_filled_in_form_goes_through_the_night_as_it_is(dagbag, data_root, tmp_path):
    from tests.services import landing

    to_enrol = landing(data_root)  # a branch extract for the night (and another village's file)
    path, _ = _form(tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET]
    header_row, col = _cells(ws)
    for i, (nik, name, born, sex, job, phone) in enumerate(PEOPLE):
        r = header_row + 1 + i
        for name_, value in (("NO", i + 1), ("NIK", nik), ("NAMA", name), ("TEMPAT LAHIR", "Lahat"),
                             ("TANGGAL LAHIR", born), ("JENIS KELAMIN", sex), ("PEKERJAAN", job),
                             ("ALAMAT", "Dusun II"), ("RT/RW", "001/003"), ("NO HP", phone),
                             ("DESA", VILLAGE["name"]), ("KECAMATAN", VILLAGE["district_name"]),
                             ("SUMBER DANA", "ADD"), ("TAHUN", 2025)):
            ws[f"{col[name_]}{r}"] = value
    sent = data_root / "landing/submissions/lahat/tanjungsakti-pumu/usulan_kembang_ayun.xlsx"
    sent.parent.mkdir(parents=True, exist_ok=True)
    wb.save(sent)
    os.utime(sent, (DELIVERED, DELIVERED))

    run = run_nightly(dagbag, run_conf={"snapshot_date": SNAPSHOT})
    states = {(t.task_id, t.map_index): t.state for t in run.get_task_instances()}
    assert all(s == "success" for s in states.values()), states

    with Ledger(data_paths(data_root).ledger_url) as ledger:
        status = {e.file: e.status for e in ledger.entries()}
    rel = "submissions/lahat/tanjungsakti-pumu/usulan_kembang_ayun.xlsx"
    assert status[rel] == LOADED
    wh = data_paths(data_root).warehouse
    silver = duckdb.sql(f"""select nik, name, birth_date, sex, occupation, phone, village_code, funding_source
                            from read_parquet('{wh}/silver/submissions/**/*.parquet') where source_file = '{rel}'
                            order by row_number""").fetchall()
    assert [(r[0], r[1], r[3], r[6], r[7]) for r in silver] == [
        (p[0], p[1], p[3], VILLAGE["code"], "ADD") for p in PEOPLE]
    assert [r[2] for r in silver] == [dt.date(1975, 8, 17), dt.date(1980, 3, 12), dt.date(1990, 1, 1)]
    quarantined = duckdb.sql(f"select count(*) from read_parquet('{wh}/quarantine/submissions/**/*.parquet', "
                             f"union_by_name = true) where source_file = '{rel}'").fetchone()[0] \
        if list((wh / "quarantine" / "submissions").rglob("*.parquet")) else 0
    assert quarantined == 0, "the form as sent passes every rule"

    header, rows = sheet_rows(data_paths(data_root).exports / f"bpjs/lahat/{SNAPSHOT}/daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx")
    listed = {r[header.index("NIK")]: dict(zip(header, r)) for r in rows}
    assert set(listed) == to_enrol | {p[0] for p in PEOPLE}
    for nik, _, _, _, job, phone in PEOPLE:
        assert (listed[nik]["PEKERJAAN"], listed[nik]["NO HP"]) == (job.upper(), phone.replace("-", ""))


def test_the_command_line_writes_the_forms(tmp_path, capsys):
    from rentan.cli import main

    assert main(["template", "--regency", "pali", "--out", str(tmp_path)]) == 0
    written = tmp_path / "templat_usulan_pali.xlsx"
    assert capsys.readouterr().out.split() == [str(written)]
    assert openpyxl.load_workbook(written).sheetnames[0] == SHEET
    assert main(["template", "--regency", "nowhere", "--out", str(tmp_path)]) == 2
    assert "unknown regency ['nowhere']" in capsys.readouterr().err
