"""A branch package as its officer opens and prints it: the enrolment list's columns (the default
layout or the branch's own), the Keterangan sheet, reasons and village names in the exceptions,
the NIK a village typed on its rejected rows, page setup on every sheet, and LibreOffice's own
print of the lists (one page wide, header on every page)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
import yaml

from rentan.config import DEFAULT_CONFIG, load_config
from rentan.core.settings import data_paths
from rentan.exports.bpjs import export
from rentan.exports.layout import enrolment_columns
from rentan.exports.notes import NOTES_SHEET
from rentan.identity import resolve
from rentan.ingest import ingest
from rentan.marts import load
from rentan.pipeline import standardise_night
from rentan.quality.reasons import REASONS
from rentan.standardise import rules_version
from tests.builders import write_xlsx
from tests.lahat import AWAY, DELIVERED, HOME, SNAPSHOT, nik
from tests.packages import sheet_rows

FULL_HEADER = ["NO", "NIK", "NAMA", "TEMPAT LAHIR", "TANGGAL LAHIR", "JENIS KELAMIN", "PEKERJAAN", "ALAMAT",
               "RT/RW", "NO HP", "DESA", "KECAMATAN", "SUMBER DANA"]
DEFAULT_HEADERS = ["NO", "NIK", "NAMA", "TEMPAT LAHIR", "TANGGAL LAHIR", "JENIS KELAMIN", "PEKERJAAN", "ALAMAT",
                   "RT/RW", "NO HP", "KODE DESA", "DESA", "KECAMATAN", "SUMBER DANA", "PROGRAM",
                   "UPAH DILAPORKAN (RP)", "IURAN JKK (RP)", "IURAN JKM (RP)", "IURAN PER BULAN (RP)"]
N_MARTS = 11  # the marts test's night to enrol: 10 eligible at home, the one the away village keeps
N_VALID = 60
N_AWAY = 60  # a second village's list, so the enrolment list runs over more than one printed page
LOAD_ID = "n3"
# people told apart by their names as well as their NIK and birth date: a list of one name with
# numbers after it would be, to identity, one person typed many times
FIRST = ["Agus", "Bambang", "Cahya", "Dedi", "Eko", "Fajar", "Gilang", "Hendra", "Indra", "Joko", "Kurnia", "Lukman"]
LAST = ["Saputra", "Wibowo", "Hidayat", "Nugroho", "Siregar", "Pratama", "Kusuma", "Halim", "Ramadhan", "Utomo"]


def _name(i: int, offset: int = 0) -> str:
    j = i + offset
    return f"{FIRST[j % len(FIRST)]} {LAST[j // len(FIRST) % len(LAST)]}"


def _valid(i: int) -> list:
    day, month = 1 + i % 28, 1 + i // 28
    # half the phones typed into a numeric cell, which drops the leading 0
    phone = 81234567000 + i if i % 2 == 0 else f"0812-3456-7{i:03d}"
    return [i + 1, nik(day, month, 86, 500 + i), _name(i), "Lahat", f"{day:02d}-{month:02d}-1986", "L",
            "Petani" if i % 3 else "Pedagang", f"Dusun {i % 4 + 1}", "001/002", phone, HOME["name"],
            HOME["district_name"], "ADD"]


def _away(i: int) -> list:
    day, month = 1 + i % 28, 1 + i // 28
    region = AWAY["district_code"].replace(".", "")
    return [i + 1, nik(day, month, 88, 600 + i, region), _name(i, N_VALID), "Lahat", f"{day:02d}-{month:02d}-1988",
            "P", "Petani", "Dusun 1", "002/003", "081300000000", AWAY["name"], AWAY["district_name"], "ADD"]


def _rejected() -> tuple[list[list], dict[str, str]]:
    """Rows the village typed wrong, and the NIK cell's text each carries (what the branch must see)."""
    rows, typed = [], {}
    for k in range(10):
        good = nik(1 + k, 9, 87, 700 + k)
        rows.append([100 + k, good, f"Tanggal Salah {k}", "Lahat", "31-02-1987", "P", "Petani", "Dusun 1", "001/001",
                     "081200000000", HOME["name"], HOME["district_name"], "ADD"])
        typed[f"Tanggal Salah {k}"] = good
        as_number = int(nik(1 + k, 10, 87, 800 + k))
        rows.append([200 + k, as_number, f"Angka Excel {k}", "Lahat", f"{1 + k:02d}-10-1987", "L", "Petani", "Dusun 2",
                     "001/001", "081200000001", HOME["name"], HOME["district_name"], "ADD"])
        typed[f"Angka Excel {k}"] = str(as_number)
        short = nik(1 + k, 11, 87, 900 + k)[:15]
        rows.append([300 + k, short, f"Kurang Angka {k}", "Lahat", f"{1 + k:02d}-11-1987", "L", "Petani", "Dusun 3",
                     "001/001", "081200000002", HOME["name"], HOME["district_name"], "ADD"])
        typed[f"Kurang Angka {k}"] = short
    return rows, typed


@pytest.fixture
def package(full_night):
    """The marts test's night, plus a village file with every column of the form: 60 good rows and
    30 the village typed wrong; then the night's marts and the branch packages."""
    land = full_night / "landing"
    bad, _ = _rejected()
    f = write_xlsx(land / "submissions/lahat/tanjung-sakti-pumi/usulan_lengkap.xlsx", FULL_HEADER,
                   [_valid(i) for i in range(N_VALID)] + bad)
    g = write_xlsx(land / "submissions/lahat/lain/usulan_seberang.xlsx", FULL_HEADER, [_away(i) for i in range(N_AWAY)])
    for p in (f, g):
        os.utime(p, (DELIVERED.timestamp(), DELIVERED.timestamp()))
    paths = data_paths(full_night)
    ingest(paths, load_id=LOAD_ID)
    standardise_night(paths, load_id=LOAD_ID, today=SNAPSHOT)
    resolve(paths, load_id=LOAD_ID, snapshot=SNAPSHOT)
    load(paths, load_id=LOAD_ID, snapshot=SNAPSHOT)
    export(paths, load_id=LOAD_ID, snapshot=SNAPSHOT)
    return full_night


def _folder(root: Path, branch: str = "lahat") -> Path:
    return data_paths(root).exports / "bpjs" / branch / SNAPSHOT.isoformat()


def _notes(path: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path)[NOTES_SHEET]
    values = [[c.value for c in r] for r in ws.iter_rows()]
    at = next(i for i, r in enumerate(values) if r[:2] == ["Hal", "Keterangan"])
    return {r[0]: r[1] for r in values[at + 1:] if r[0]}


def _header_at(ws) -> int:
    """1-based row of a table's header: the first row with three or more filled cells (or the
    notes sheet's two)."""
    for r in ws.iter_rows():
        filled = [c.value for c in r if c.value is not None]
        if len(filled) >= 3 or filled == ["Hal", "Keterangan"]:
            return r[0].row
    raise AssertionError(f"no header row on {ws.title}")


def test_enrolment_list_has_occupation_phone_and_text_niks(package):
    path = _folder(package) / f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx"
    header, rows = sheet_rows(path)
    config = load_config()
    assert header == DEFAULT_HEADERS == [c.header for c in enrolment_columns(config.branches["lahat"], config)]
    by_name = {r[header.index("NAMA")]: dict(zip(header, r)) for r in rows}
    assert len(rows) == N_MARTS + N_VALID + N_AWAY, "the marts test's 11 and the good rows of the two full forms"
    for i in range(N_VALID):
        r = by_name[_name(i)]
        assert r["PEKERJAAN"] == ("PETANI" if i % 3 else "PEDAGANG")
        assert r["NO HP"] == f"0812345670{i:02d}", "the leading 0 a numeric cell dropped is back"
        assert (r["ALAMAT"], r["RT/RW"], r["TEMPAT LAHIR"], r["KODE DESA"], r["DESA"]) == (
            f"Dusun {i % 4 + 1}", "001/002", "Lahat", HOME["code"], HOME["name"])
        assert r["TANGGAL LAHIR"] == dt.datetime(1986, 1 + i // 28, 1 + i % 28)
    assert by_name["Warga Jauh"]["DESA"] == AWAY["name"]
    ws = openpyxl.load_workbook(path).worksheets[0]
    h = _header_at(ws)
    cols = {c.value: c.column_letter for c in ws[h]}
    body = list(ws.iter_rows(min_row=h + 1))
    nik_cells = [r[header.index("NIK")] for r in body]
    assert all(c.data_type == "s" and re.fullmatch(r"\d{16}", c.value) for c in nik_cells)
    assert all(r[header.index("NO HP")].data_type == "s" for r in body if r[header.index("NO HP")].value)
    fees = [r[header.index("IURAN PER BULAN (RP)")] for r in body]
    assert {c.value for c in fees} == {16_800} and {c.number_format for c in fees} == {"#,##0"}
    # a NIK typed in by hand later stays text: the whole column is Text-formatted
    assert ws.column_dimensions[cols["NIK"]].number_format == "@"


def test_every_sheet_of_the_package_is_set_up_to_print(package):
    folder = _folder(package)
    books = sorted(folder.glob("*.xlsx"))
    assert [b.name for b in books] == [f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx", f"penarikan_lahat_{SNAPSHOT}.xlsx",
                                       f"pengecualian_lahat_{SNAPSHOT}.xlsx", f"rekonsiliasi_desa_lahat_{SNAPSHOT}.xlsx"]
    for book in books:
        wb = openpyxl.load_workbook(book)
        assert len(wb.worksheets) == 2 and wb.sheetnames[1] == NOTES_SHEET, book.name
        for ws in wb.worksheets:
            where = f"{book.name}/{ws.title}"
            setup = ws.page_setup
            # fitToWidth left out means 1, the file format's default; fitToHeight 0: as many pages as needed
            width = 1 if setup.fitToWidth is None else setup.fitToWidth
            assert (setup.orientation, setup.paperSize, width, setup.fitToHeight) == ("landscape", 9, 1, 0), where
            assert ws.sheet_properties.pageSetUpPr.fitToPage, where
            h = _header_at(ws)
            assert ws.print_title_rows == f"${h}:${h}", f"{where}: the header row repeats on every page"
            assert "BPJS Ketenagakerjaan Cabang Lahat" in ws.oddHeader.left.text, where
            assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text, where
            assert ws.print_options.gridLines, where


def test_each_workbook_says_what_it_is_in_a_notes_sheet(package):
    folder = _folder(package)
    config = load_config()
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = {name: f["rows"] for name, f in manifest["files"].items()}
    _, typed = _rejected()
    for book in sorted(folder.glob("*.xlsx")):
        notes = _notes(book)
        header, data = sheet_rows(book)
        assert notes["Cabang"] == "BPJS Ketenagakerjaan Cabang Lahat"
        assert notes["Kabupaten"] == "Kabupaten Lahat"
        assert notes["Data per"].startswith("30-06-2025")
        assert LOAD_ID not in notes.values(), "the same night gives the same bytes whichever run wrote it"
        assert rules_version() in notes["Versi aturan"]
        assert notes["Jumlah baris"].startswith(f"{len(data)} baris") and len(data) == rows[book.name]
        assert f"daftar pendaftaran {rows[f'daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx']} orang" in notes["Isi paket"]
        assert f"({len(typed)} ditolak saat validasi)" in notes["Isi paket"]
        assert notes["Kontak Kabupaten Lahat"] == config.regencies["lahat"].contact
        assert "Rp16.800 per orang per bulan" in notes["Iuran"]
        # every column is explained
        assert {k[len("Kolom "):] for k in notes if k.startswith("Kolom ")} == set(header), book.name
        assert all(notes[f"Kolom {c}"] for c in header), book.name


def test_exceptions_say_why_in_indonesian_first_and_name_every_village(package):
    path = _folder(package) / f"pengecualian_lahat_{SNAPSHOT}.xlsx"
    header, rows = sheet_rows(path)
    assert header == ["NIK", "NAMA", "KODE DESA", "DESA", "STATUS", "ALASAN", "KODE ALASAN", "KODE DESA PEMEGANG",
                      "DESA PEMEGANG", "BERKAS", "BARIS", "REASON"]
    by_name = {r[header.index("NAMA")]: dict(zip(header, r)) for r in rows}
    dup = by_name["BUDI SANTOSO"]
    assert (dup["STATUS"], dup["KODE ALASAN"]) == ("GANDA", "duplicate_across_villages")
    assert (dup["KODE DESA"], dup["DESA"]) == (AWAY["code"], AWAY["name"])
    assert (dup["KODE DESA PEMEGANG"], dup["DESA PEMEGANG"]) == (HOME["code"], HOME["name"])
    assert dup["ALASAN"] == REASONS["duplicate_across_villages"].id and dup["REASON"] == REASONS["duplicate_across_villages"].en
    _, typed = _rejected()
    for name, nik_text in typed.items():
        r = by_name[name]
        assert r["STATUS"] == "DITOLAK SAAT VALIDASI", name
        assert r["NIK"] == nik_text, f"{name}: the NIK cell as the village typed it"
        assert r["ALASAN"] == REASONS[r["KODE ALASAN"]].id, name
        assert (r["KODE DESA"], r["DESA"]) == (HOME["code"], HOME["name"]), name
    assert {by_name[n]["KODE ALASAN"] for n in typed} == {"date_impossible", "nik_numeric_cell", "nik_wrong_length"}
    ws = openpyxl.load_workbook(path).worksheets[0]
    h = _header_at(ws)
    assert all(r[0].data_type == "s" for r in ws.iter_rows(min_row=h + 1) if r[0].value is not None), "NIKs are text"


def test_a_branch_lays_out_its_enrolment_list_as_its_own_upload_sheet(package, tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["branches"]["lahat"]["enrolment_list"] = [
        {"field": "nik", "header": "NOMOR KTP"}, {"field": "nama", "header": "NAMA LENGKAP"},
        {"field": "tanggal_lahir", "header": "TGL LAHIR"}, {"field": "no_hp", "header": "HP"},
        {"field": "kabupaten", "header": "KABUPATEN"}, {"field": "iuran_per_bulan", "header": "IURAN (RP)"}]
    own = tmp_path / "regencies.yaml"
    own.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    export(data_paths(package), load_id="n4", snapshot=SNAPSHOT, config=load_config(own), branches=["lahat"])
    path = _folder(package) / f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx"
    header, rows = sheet_rows(path)
    assert header == ["NOMOR KTP", "NAMA LENGKAP", "TGL LAHIR", "HP", "KABUPATEN", "IURAN (RP)"]
    assert len(rows) == N_MARTS + N_VALID + N_AWAY and {r[4] for r in rows} == {"Kabupaten Lahat"} and {r[5] for r in rows} == {16_800}
    assert _notes(path)["Kolom NOMOR KTP"].startswith("Nomor Induk Kependudukan")

    raw["branches"]["lahat"]["enrolment_list"].append({"field": "golongan_darah", "header": "GOL DARAH"})
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"branches\.lahat\.enrolment_list.*golongan_darah"):
        export(data_paths(package), load_id="n5", snapshot=SNAPSHOT, config=load_config(wrong), branches=["lahat"])


# --- printed by LibreOffice -------------------------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture
def printer():
    """LibreOffice to print with and poppler to read the pages back (.ci/run installs both)."""
    if not (SOFFICE and shutil.which("pdftotext") and shutil.which("pdfinfo")):
        why = "LibreOffice and poppler-utils are missing (Debian: libreoffice-calc-nogui, poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(why + "; .ci/run installs them")
        pytest.skip(why)


def _print(book: Path, out: Path) -> tuple[list[str], str]:
    """(text of each page, page size) of LibreOffice's PDF of ``book``."""
    out.mkdir(parents=True, exist_ok=True)
    profile = out / "profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), str(book)], check=True, capture_output=True, timeout=180)
    pdf = out / (book.stem + ".pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    n = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return pages[:n], re.search(r"^Page size:\s+(.*)$", info, re.M).group(1)


def _landscape(size: str) -> bool:
    w, h = map(float, re.match(r"([\d.]+) x ([\d.]+)", size).groups())
    return w > h


def test_libreoffice_prints_the_enrolment_list_one_page_wide_with_its_header_on_every_page(printer, package, tmp_path):
    book = _folder(package) / f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx"
    pages, size = _print(book, tmp_path / "pdf")
    assert _landscape(size), size
    listed = [p for p in pages if re.search(r"\b\d{16}\b", p)]
    assert len(listed) >= 2, f"{len(listed)} page(s) for 130 people ({len(pages)} pages in all)"
    seen = set()
    for i, page in enumerate(listed):
        lines = page.splitlines()
        head = next((n for n, line in enumerate(lines) if re.search(r"\bNIK\b", line) and "NAMA" in line), None)
        assert head is not None, f"page {i + 1}: no header row"
        assert "PROGRAM" in lines[head], f"page {i + 1}: the header does not reach the last columns"
        for line in lines[head + 1:]:
            m = re.search(r"\b(\d{16})\b", line)
            if m:
                seen.add(m.group(1))
                # a person's first and last columns on one printed line: the page is one table wide
                assert "JKK, JKM" in line and re.search(r"16[.,]800\s*$", line), f"page {i + 1}: {line.strip()}"
    header, rows = sheet_rows(book)
    assert seen == {r[header.index("NIK")] for r in rows}, "every person printed, none cut off"


def test_libreoffice_prints_a_fix_list_one_page_wide_with_its_header_on_every_page(printer, package, tmp_path):
    folder = data_paths(package).exports / "desa" / "lahat" / HOME["code"]
    (book,) = folder.glob("daftar_perbaikan_*.xlsx")
    assert book.name == f"daftar_perbaikan_kembang-ayun_{HOME['code']}.xlsx"
    pages, size = _print(book, tmp_path / "pdf")
    assert _landscape(size), size
    listed = [p for p in pages if re.search(r"usulan_lengkap\.xlsx\s+USULAN", p)]
    assert len(listed) >= 2, f"30 rows to fix take more than one page ({len(pages)} pages in all)"
    rows = 0
    for i, page in enumerate(listed):
        lines = page.splitlines()
        head = next((n for n, line in enumerate(lines) if "Berkas" in line and "Baris" in line), None)
        assert head is not None, f"page {i + 1}: no header row"
        assert "Masalah" in lines[head] and "Saran" in lines[head], f"page {i + 1}: the header is cut off"
        for line in lines[head + 1:]:
            if re.search(r"usulan_lengkap\.xlsx\s+USULAN\s+\d+", line):
                rows += 1
                # the row's own problem, far to the right, prints on the same line as its file
                assert re.search(r"(tanggal|NIK|angka)", line[line.index("USULAN"):], re.I), f"page {i + 1}: {line}"
    assert rows == 30, "every row to fix printed once"


def test_every_field_a_layout_can_name_has_its_values():
    """A branch may name any field of layout.yaml: each one must come out as a column."""
    import dataclasses

    import pandas as pd

    from rentan.exports.bpjs import _enrolment_list
    from rentan.exports.layout import field_meanings

    config = load_config()
    fields = list(field_meanings())
    branch = dataclasses.replace(config.branches["lahat"], enrolment_list=tuple((f, f.upper()) for f in fields))
    columns = enrolment_columns(branch, config)
    assert [c.field for c in columns] == fields
    people = pd.DataFrame({"status": ["eligible"], "over_quota": [False], "nik": ["1604011708750001"], "name": ["Budi"],
                           "birth_date": [dt.date(1975, 8, 17)], "phone": ["81234567890"], "regency": ["lahat"],
                           "source_file": ["submissions/lahat/x/usulan.xlsx"], "row_number": [7]})
    frame = _enrolment_list(people, config, columns)
    assert list(frame.columns) == [f.upper() for f in fields] and len(frame) == 1
    row = frame.iloc[0]
    assert (row["NIK"], row["NO_HP"], row["KABUPATEN"], row["BERKAS"], row["BARIS"]) == (
        "1604011708750001", "081234567890", "Kabupaten Lahat", "usulan.xlsx", 7)


def test_phone_numbers_as_a_branch_dials_them():
    import pandas as pd

    from rentan.exports.bpjs import phone_display

    given = pd.Series(["81234567890", "+6281234567890", "6281234567890", "081234567890", "0711123456", None, "12"],
                      dtype="string")
    assert phone_display(given).tolist() == ["081234567890", "081234567890", "081234567890", "081234567890",
                                             "0711123456", pd.NA, "12"]
