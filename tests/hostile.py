"""A hostile landing zone: files as careless, unlucky or malicious senders make them, each with
the outcome a night must give it. Every case is its own file, so one night shows them all.

An outcome is ``(status, code)``: the ledger's status and reason for a file that is not loaded;
``("loaded", None)`` for an odd file that must load whole; ``("loaded", "<row reason>")`` for a
file that loads but whose one bad row must be quarantined with that reason; ``("blocked",
"<file reason>")`` for a file read but held back by a file-level rule.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import openpyxl
import xlsxwriter

from tests import builders as b

WHEN = dt.datetime(2025, 6, 5, 9, tzinfo=b.WIB)
LOADED, UNREADABLE, IGNORED, DUPLICATE, BLOCKED = "loaded", "unreadable", "ignored", "duplicate", "blocked"
# a NIK in a file's name: the ledger and the fix-list keep it, logs, XCom and alerts must not
NIK_IN_NAME = b.nik(9, 9, 89, 4321)


class Corpus:
    """Writes files under a landing zone, remembering what each must give."""

    def __init__(self, land: Path, outside: Path):
        self.land, self.outside = land, outside
        self.expect: dict[str, tuple[str, str | None]] = {}
        self.bad_niks: set[str] = set()  # NIKs of rows that must not reach silver
        self._serial = 0

    def nik(self) -> str:
        """A fresh well-formed NIK of Tanjung Sakti Pumi, a man born 1 Jan 1980 + serial days."""
        self._serial += 1
        return b.nik(1 + self._serial % 28, 1 + self._serial // 28 % 12, 80, 1000 + self._serial)

    def born(self, nik_: str) -> str:
        return f"{nik_[6:8]}-{nik_[8:10]}-19{nik_[10:12]}"

    def put(self, rel: str, data: bytes | str, outcome: tuple[str, str | None]) -> Path:
        p = self.land / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        self.expect[rel] = outcome
        return b.delivered(p, WHEN)

    def people(self, n: int) -> list[list]:
        out = []
        for i in range(n):
            k = self.nik()
            out.append(b.person(i + 1, k, f"Warga Baik {self._serial}", self.born(k)))
        return out

    def csv(self, rows: list[list], header: list[str] = b.LIST_HEADER, sep: str = ",") -> str:
        q = lambda v: f'"{v}"' if sep in str(v) or '"' in str(v) else ("" if v is None else str(v))  # noqa: E731
        return "".join(sep.join(q(v) for v in r) + "\n" for r in [header, *rows])


def xlsx_bytes(rows: list[list], numeric_nik: bool = False) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("USULAN")
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if numeric_nik and i and j == 1:
                ws.write_number(i, j, float(v))
            elif v is not None:
                ws.write_string(i, j, str(v)) if i == 0 or j == 1 or not isinstance(v, int) else ws.write_number(i, j, v)
    wb.close()
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return buf.getvalue()


def _with_sheet_xml(xlsx: bytes, body: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    return _zip({i.filename: (body if i.filename.endswith("sheet1.xml") else src.read(i)) for i in src.infolist()})


def file_cases(c: Corpus) -> None:
    """Files that cannot or must not be read, each a ledger entry with its reason."""
    s = "submissions/lahat/berkas/"
    good = xlsx_bytes([b.LIST_HEADER, *c.people(2)])
    wb = openpyxl.Workbook()
    wb.active["XFD1048576"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    c.put(s + "far_cell.xlsx", buf.getvalue(), (UNREADABLE, "xlsx_too_large"))
    # a sheet that claims a small range but unpacks to far more than any village list
    dim = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b'<dimension ref="A1:B2"/><sheetData>' + b"<row>" + b" " * 60_000_000 + b"</row></sheetData></worksheet>")
    c.put(s + "zip_bomb.xlsx", _with_sheet_xml(good, dim), (UNREADABLE, "xlsx_too_large"))
    c.put(s + "encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048), (UNREADABLE, "xlsx_encrypted"))
    c.put(s + "not_a_zip.xlsx", b"PK\x03\x04 half a zip", (UNREADABLE, "corrupt_xlsx"))
    c.put(s + "truncated.xlsx", good[: len(good) // 2], (UNREADABLE, "corrupt_xlsx"))
    c.put(s + "zip_of_text.xlsx", _zip({"readme.txt": b"bukan excel"}), (UNREADABLE, "corrupt_xlsx"))
    c.put(s + "pdf_renamed.xlsx", b"%PDF-1.4\n" + bytes(500), (UNREADABLE, "corrupt_xlsx"))
    c.put(s + "bad_sheet_xml.xlsx", _with_sheet_xml(good, b"<worksheet><sheetData><row><c r="), (UNREADABLE, "corrupt_xlsx"))
    # the sheet's XML says row 40 holds a value, but its cells say row 3: the reader and the file disagree
    lost = zipfile.ZipFile(io.BytesIO(good)).read("xl/worksheets/sheet1.xml").replace(b'<row r="3"', b'<row r="40"')
    c.put(s + "baris_hilang.xlsx", _with_sheet_xml(good, lost), (UNREADABLE, "xlsx_rows_lost"))
    c.put(s + "long_field.csv", "NO,NIK,NAMA\n1," + c.nik() + "," + "a" * 200_000 + "\n", (UNREADABLE, "csv_malformed"))
    c.put(s + "open_quote.csv", f'NO,NIK,NAMA\n1,{c.nik()},"Budi\n2,{c.nik()},Ani\n3,{c.nik()},Sri\n',
          (UNREADABLE, "csv_rows_swallowed"))
    c.put(s + "binary.csv", b"\x00\x01\x02\x03garbage\x00" * 50, (UNREADABLE, "not_text"))
    c.put(s + "empty.csv", b"", (UNREADABLE, "empty_file"))
    c.put(s + "usulan.pdf", b"%PDF-1.4\n", (UNREADABLE, "not_spreadsheet"))
    c.put(s + "usulan.docx", _zip({"word/document.xml": b"<w/>"}), (UNREADABLE, "not_spreadsheet"))
    c.put(s + "usulan", c.csv(c.people(1)), (UNREADABLE, "not_spreadsheet"))
    c.put(s + "usulan.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), (UNREADABLE, "not_spreadsheet"))
    c.put(s + ".DS_Store", b"\x00\x00\x00\x01Bud1", (IGNORED, "ignored"))
    c.put(s + "~$usulan.xlsx", b"\x05owner", (IGNORED, "ignored"))
    c.put(s + ".usulan_lama.csv", c.csv(c.people(1)), (IGNORED, "ignored"))
    c.put("submissions/usulan_tanpa_folder.csv", c.csv(c.people(1)), (UNREADABLE, "no_area_folder"))
    c.put("submissions/atlantis/usulan.csv", c.csv(c.people(1)), (UNREADABLE, "unknown_area"))
    secret = c.outside / "rahasia.csv"
    outside_rows = c.people(1)
    secret.write_text(c.csv(outside_rows))
    c.bad_niks.add(outside_rows[0][1])
    for name, target, code in (("link_out.csv", secret, "symlink_outside"),
                               ("link_passwd.csv", Path("/etc/passwd"), "symlink_outside"),
                               ("dangling.csv", c.land / s / "tidak_ada.csv", "symlink_invalid"),
                               ("link_loop.csv", c.land / s / "link_loop.csv", "symlink_invalid")):
        (c.land / s).mkdir(parents=True, exist_ok=True)
        os.symlink(target, c.land / s / name)
        c.expect[s + name] = (UNREADABLE, code)
    os.mkfifo(c.land / s / "pipe.csv")
    c.expect[s + "pipe.csv"] = (UNREADABLE, "not_regular_file")
    # read, but held back whole by a file-level rule
    c.put(s + "tanpa_kolom_nik.xlsx", xlsx_bytes([["NO", "NAMA", "DESA"], [1, "Budi", "Kembang Ayun"]]),
          (BLOCKED, "missing_column"))
    # a NIK in the names of files the night must talk about: a warning, the gate's message, an alert
    c.put(s + f"KTP {NIK_IN_NAME} Budi.pdf", b"%PDF-1.4\n", (UNREADABLE, "not_spreadsheet"))
    c.put(s + f"usulan {NIK_IN_NAME}.xlsx", xlsx_bytes([["NO", "NAMA", "DESA"], [1, "Budi Lain", "Kembang Ayun"]]),
          (BLOCKED, "missing_column"))
    c.put(s + "berkas_anggaran_salah_folder.csv",
          "KODE DESA,NAMA DESA,TAHUN ANGGARAN,PAGU ADD\n1604012001,Kembang Ayun,2025,650000000\n",
          (BLOCKED, "missing_column"))
    shifted = [[r[0], "", *r[1:]] for r in c.people(6)]  # every cell one column to the right
    c.put(s + "kolom_bergeser.csv", c.csv(shifted), (BLOCKED, "too_many_invalid"))
    # the same bytes twice: one copy
    again = c.csv(c.people(2))
    c.put(s + "usulan_asli.csv", again, (LOADED, None))
    c.put("submissions/lahat/kiriman_ulang/usulan_asli_salinan.csv", again, (DUPLICATE, None))


def odd_but_good(c: Corpus) -> None:
    """Files that look wrong but hold good rows: every row must load."""
    s = "submissions/lahat/ganjil/"
    text = lambda: c.csv(c.people(2))  # noqa: E731
    c.put(s + "utf16_bom.csv", text().encode("utf-16"), (LOADED, None))
    c.put(s + "utf16_tanpa_bom.csv", text().encode("utf-16-le"), (LOADED, None))
    c.put(s + "utf8_bom.csv", b"\xef\xbb\xbf" + text().encode(), (LOADED, None))
    c.put(s + "cp1252.csv", text().replace("Warga", "Wargá").encode("cp1252"), (LOADED, None))
    c.put(s + "titik_koma.csv", c.csv(c.people(2), sep=";"), (LOADED, None))
    c.put(s + "crlf.csv", text().replace("\n", "\r\n"), (LOADED, None))
    c.put(s + "tanpa_baris_akhir.csv", text().rstrip("\n"), (LOADED, None))
    c.put(s + "baris_kosong.csv", text().replace("\n", "\n\n"), (LOADED, None))
    rows = c.people(1)
    c.put(s + "judul_ganda.csv", c.csv([[*r, "0811", "0812", "0813"] for r in rows],
                                        header=[*b.LIST_HEADER, "NO HP", "NO HP", "NO HP_2"]), (LOADED, None))
    two = [["NO", "IDENTITAS", "", "", "", "WILAYAH", "", "SUMBER DANA", "TAHUN"],
           ["", "NIK", "NAMA LENGKAP", "TGL. LAHIR", "L/P", "DESA", "KECAMATAN", "", ""]]
    c.put(s + "judul_dua_baris.csv", c.csv(c.people(1), header=two[0]).replace(",".join(two[0]) + "\n",
                                                                                 c.csv([], header=two[0]) + ",".join(two[1]) + "\n", 1),
          (LOADED, None))
    c.put(s + "nomor_kolom.csv", c.csv([[str(i) for i in range(1, 10)], *c.people(1)]), (LOADED, None))
    c.put(s + f"KTP {NIK_IN_NAME} Budi.csv", c.csv(c.people(1)), (LOADED, None))
    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "2024"
    old.append(b.LIST_HEADER)
    old.append(b.person(1, "1604010101800001", "Tahun Lalu", "01-01-1980"))
    old.sheet_state = "hidden"
    new = wb.create_sheet("USULAN")
    for r in [b.LIST_HEADER, *c.people(1)]:
        new.append([str(v) if v is not None else None for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    c.put(s + "lembar_tersembunyi.xlsx", buf.getvalue(), (LOADED, None))
    c.bad_niks.add("1604010101800001")
    wb = openpyxl.Workbook()
    for r in [b.LIST_HEADER, *c.people(1)]:
        wb.active.append([str(v) if v is not None else None for v in r])
    extra = wb.create_sheet("TAMBAHAN")
    extra.append(b.LIST_HEADER)
    buf = io.BytesIO()
    wb.save(buf)
    c.put(s + "lembar_kedua.xlsx", buf.getvalue(), (LOADED, None))


def _one_bad(c: Corpus, rel: str, bad: list, code: str, good: list[list], header: list[str], xlsx: bool = False,
             bad_nik: str | None = None) -> None:
    rows = [*good[:3], bad, *good[3:]]
    c.put(rel, xlsx_bytes([header, *rows]) if xlsx else c.csv(rows, header=header), (LOADED, code))
    if bad_nik:
        c.bad_niks.add(bad_nik)


def row_cases(c: Corpus) -> None:
    """Good files with one bad row each: the row is quarantined with its reason, the rest loads."""
    s = "submissions/lahat/baris/"
    H = b.LIST_HEADER

    def proposal(name: str, code: str, nik_: str | None = None, nama: str = "Orang Salah", born: str | None = None,
                 village=b.KEMBANG_AYUN, sex: str = "L", xlsx: bool = False) -> None:
        k = nik_ if nik_ is not None else c.nik()
        row = b.person(9, k, nama, born if born is not None else c.born(c.nik()), village=village, sex=sex)
        _one_bad(c, s + name, row, code, c.people(7), H, xlsx, bad_nik=k)

    proposal("nama_strip.csv", "name_no_letters", nama="-")
    proposal("nama_tak_terlihat.csv", "name_no_letters", nama="\u200b")
    proposal("nama_angka.xlsx", "name_no_letters", nama="123", xlsx=True)
    proposal("nama_kosong.csv", "name_missing", nama="")
    proposal("nik_huruf.csv", "nik_not_digits", nik_="16040101O1800001")
    proposal("nik_pendek.csv", "nik_wrong_length", nik_="160401010180001")
    proposal("nik_ilmiah.csv", "nik_scientific", nik_="1.60401E+15")
    proposal("nik_desimal.csv", "nik_decimal", nik_="1604010101800002.0")
    proposal("nik_wilayah.csv", "nik_unknown_region", nik_="9999010101800003")
    proposal("nik_tgl_lahir.csv", "nik_bad_birth_date", nik_="1604013501800004")
    proposal("nik_0000.csv", "nik_serial_zero", nik_="1604010101800000")
    proposal("nik_kosong.csv", "nik_missing", nik_="")
    k = c.nik()
    proposal("tgl_mustahil.csv", "date_impossible", nik_=k, born="31-02-1980")
    proposal("tgl_teks.csv", "date_unreadable", born="kemarin sore")
    proposal("tgl_masa_depan.csv", "date_in_future", born="01-01-2099")
    proposal("tgl_kosong.csv", "date_missing", born="")
    proposal("desa_tak_dikenal.csv", "village_unknown", village=("Atlantis", "Tanjung Sakti Pumi", ""))
    proposal("desa_kosong.csv", "village_missing", village=("", "Tanjung Sakti Pumi", ""))
    # an xlsx whose NIK cells are numbers: Excel kept 15 digits, the 16th is gone
    rows = c.people(6)
    nik_num = c.nik()
    rows.insert(2, b.person(9, nik_num, "Angka Excel", c.born(nik_num)))
    c.put(s + "nik_angka.xlsx", _numeric_nik_sheet(rows, nik_num), (LOADED, "nik_numeric_cell"))
    c.bad_niks.add(nik_num)

    m, mh = "membership/lahat/", b.MEMBERSHIP_HEADER

    def membership(name: str, code: str, **bad) -> None:
        good = [b.member(f"7{c._serial:010d}", (k := c.nik()), "PESERTA BAIK", c.born(k)) for _ in range(7)]
        k = c.nik()
        row = b.member(f"8{c._serial:010d}", k, "PESERTA SALAH", c.born(k))
        for col, v in bad.items():
            row[mh.index(col)] = v
        _one_bad(c, m + name, row, code, good, mh, bad_nik=k)

    membership("kepesertaan_2099.csv", "date_out_of_range", **{"TGL KEPESERTAAN": "01-01-2099"})
    membership("kepesertaan_1800.csv", "date_out_of_range", **{"TGL KEPESERTAAN": "01-01-1800"})
    membership("kepesertaan_kpj_pendek.csv", "kpj_invalid", KPJ="1234567890")
    membership("kepesertaan_segmen.csv", "segment_unknown", SEGMEN="XYZ")
    membership("kepesertaan_status.csv", "status_unknown", STATUS="MUNGKIN")
    membership("kepesertaan_tgl_teks.csv", "registration_date_invalid", **{"TGL KEPESERTAAN": "belum tahu"})

    k_, ch = "claims/lahat/", b.CLAIMS_HEADER

    def claim(name: str, code: str, **bad) -> None:
        good = [b.claim(f"KL-{name}-{i}", "90000000000", b.nik(1, 1, 70, 9000)) for i in range(7)]
        row = b.claim(f"KL-{name}-X", "90000000000", b.nik(1, 1, 70, 9000))
        for col, v in bad.items():
            row[ch.index(col)] = v
        _one_bad(c, k_ + name, row, code, good, ch)

    claim("klaim_nominal_20_digit.csv", "amount_out_of_range", NOMINAL="99999999999999999999")
    claim("klaim_nominal_inf.csv", "amount_out_of_range", NOMINAL="inf")
    claim("klaim_nominal_1e30.csv", "amount_out_of_range", NOMINAL="1e30")
    claim("klaim_nominal_10_miliar.csv", "amount_out_of_range", NOMINAL="Rp 10.000.000.000")
    claim("klaim_nominal_negatif.csv", "amount_negative", NOMINAL="-5000")
    claim("klaim_nominal_teks.csv", "amount_invalid", NOMINAL="seratus ribu")
    claim("klaim_bayar_1800.csv", "date_out_of_range", **{"TGL BAYAR": "20-05-1800"})
    claim("klaim_bayar_sebelum_kejadian.csv", "paid_before_incident", **{"TGL BAYAR": "01-04-2025"})
    claim("klaim_jenis.csv", "claim_type_unknown", **{"JENIS KLAIM": "SANTUNAN"})
    claim("klaim_tanpa_nomor.csv", "claim_number_missing", **{"NO KLAIM": ""})

    g, gh = "budget/lahat/", ["KODE DESA", "NAMA DESA", "TAHUN ANGGARAN", "PAGU ADD", "ANGGARAN IURAN BPJS TK",
                             "JUMLAH PEKERJA DIANGGARKAN", "REALISASI"]

    def budget(name: str, code: str, **bad) -> None:
        good = [["1604012001", "Kembang Ayun", y, 650_000_000, "Rp 20.160.000", 100, 10_080_000] for y in range(2017, 2024)]
        row = ["1604012002", "Gunung Meraksa", 2025, 650_000_000, "Rp 20.160.000", 100, 10_080_000]
        for col, v in bad.items():
            row[gh.index(col)] = v
        _one_bad(c, g + name, row, code, good, gh)

    budget("apbdes_iuran_20_digit.csv", "amount_out_of_range", **{"ANGGARAN IURAN BPJS TK": "99999999999999999999"})
    budget("apbdes_pagu_1e30.csv", "amount_out_of_range", **{"PAGU ADD": "1e30"})
    budget("apbdes_realisasi_negatif.csv", "amount_negative", REALISASI="-1")
    budget("apbdes_tahun.csv", "budget_year_invalid", **{"TAHUN ANGGARAN": "dua ribu"})


def _numeric_nik_sheet(rows: list[list], numeric: str) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("USULAN")
    ws.write_row(0, 0, b.LIST_HEADER)
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r):
            if j == 1 and v == numeric:
                ws.write_number(i, j, float(v))  # Excel keeps 15 significant digits
            elif v is not None:
                ws.write_string(i, j, str(v))
    wb.close()
    return buf.getvalue()


def hostile_landing(land: Path, outside: Path) -> Corpus:
    """The whole corpus, beside each branch's good extracts so the night can complete."""
    c = Corpus(land, outside)
    file_cases(c)
    odd_but_good(c)
    row_cases(c)
    b.every_branch_extracts(land, WHEN - dt.timedelta(days=1))
    return c
