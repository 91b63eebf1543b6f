"""The blank submission form (templat usulan) of a regency: a workbook a village operator fills in
and sends back, which the pipeline takes as it is.

- the first sheet, ``Usulan``, has the villages' usual columns (the first spelling of each field
  in ``config/headers.yaml``, in that order; DESA or PEKON as the regency says) under three title
  lines, like the forms the regencies already use;
- the NIK, RT/RW and phone columns are formatted as Text, so Excel keeps a typed NIK's 16 digits
  (the damage the pipeline otherwise has to turn back); TANGGAL LAHIR is a date column shown
  ``dd-mm-yyyy``;
- dropdowns: L/P, SUMBER DANA (``programme.funding_sources``), the regency's desa and kecamatan
  (from the official reference, on a hidden sheet); the NIK cell warns unless it holds 16
  characters;
- a ``Petunjuk`` sheet says how to fill it in. Only the first sheet is read on arrival.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pandas as pd
import xlsxwriter

from rentan import reference
from rentan.config import Config, Regency
from rentan.exports.xlsx import LINE_HEIGHT_PT, WORKBOOK_OPTIONS, formats, set_up_page, wrapped_lines
from rentan.standardise import fields_of

SHEET = "Usulan"
HELP_SHEET = "Petunjuk"
LISTS_SHEET = "Daftar"
TITLE = "USULAN PEKERJA RENTAN PESERTA BPJS KETENAGAKERJAAN (JKK DAN JKM) DENGAN IURAN DARI DESA"
# rows of the form that carry the dropdowns and formats; a village has at most a few hundred proposals
FORM_ROWS = 1000
HELP_WIDTH = 100
TEXT_FIELDS = {"nik", "rt_rw", "no_hp", "nama", "tempat_lahir", "pekerjaan", "alamat", "desa", "kecamatan",
               "sumber_dana", "jenis_kelamin"}
WIDTHS = {"no": 5, "nik": 19, "nama": 28, "tempat_lahir": 14, "tanggal_lahir": 12, "jenis_kelamin": 9,
          "pekerjaan": 16, "alamat": 26, "rt_rw": 8, "no_hp": 15, "desa": 22, "kecamatan": 20, "sumber_dana": 9,
          "tahun": 7}


def template_name(regency: Regency) -> str:
    return f"templat_usulan_{regency.slug}.xlsx"


def columns(regency: Regency) -> list[tuple[str, str]]:
    """(field, header) of the form, in order."""
    from rentan.exports.desa import _header_names

    names = _header_names()
    return [(f, regency.village_word.upper() if f == "desa" else names.get(f, f.upper())) for f in fields_of("submissions")]


def _help(regency: Regency, config: Config) -> list[str]:
    word = regency.village_word
    return [
        "PETUNJUK PENGISIAN",
        f"1. Isi lembar {SHEET}: satu baris untuk satu pekerja, mulai dari baris pertama di bawah judul kolom. "
        "Jangan mengubah, menghapus atau memindah judul kolom, dan jangan menambah lembar di depannya.",
        "2. NIK: ketik 16 angka sesuai KTP. Kolom ini berformat Teks, jadi semua angka tersimpan; "
        "jangan menyalin NIK dari kolom berformat angka (angka terakhirnya akan hilang).",
        "3. TANGGAL LAHIR: ketik hari-bulan-tahun, misalnya 17-08-1975.",
        "4. JENIS KELAMIN: pilih L (laki-laki) atau P (perempuan).",
        f"5. {word.upper()} dan KECAMATAN: pilih dari daftar, sesuai nama resmi di {regency.name}.",
        "6. SUMBER DANA: pilih dari daftar (" + ", ".join(config.programme.funding_sources) + ").",
        f"7. Pekerja yang diusulkan: bekerja di sektor informal, kurang mampu, masih aktif bekerja dan berusia "
        f"di bawah {config.programme.max_age_years} tahun, belum menjadi peserta aktif BPJS Ketenagakerjaan dan "
        "tidak dibiayai anggaran lain (tidak double).",
        f"8. Simpan sebagai .xlsx dan kirim ke {regency.contact or 'kabupaten'}. Baris yang tidak dapat diterima "
        f"akan dikembalikan dalam daftar perbaikan {word} Anda.",
    ]


def write_template(path: str | os.PathLike, regency: Regency, config: Config, *, created: dt.datetime) -> Path:
    """Write the blank form of ``regency`` to ``path`` (replaced atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = columns(regency)
    places = reference.villages([regency.code], desa_only=True)
    village_names = sorted(places["name"].unique())
    district_names = sorted(places["district_name"].unique())
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb = xlsxwriter.Workbook(str(tmp), WORKBOOK_OPTIONS)
        wb.set_properties({"created": created, "author": "", "company": "", "title": TITLE})
        fmt = formats(wb)
        # in this order: only the first sheet is read when the form comes back
        ws, help_ws, lists = (wb.add_worksheet(n) for n in (SHEET, HELP_SHEET, LISTS_SHEET))
        header_row = _write_form_header(ws, fmt, regency, cols)
        _write_lists(lists, regency, config, village_names, district_names)
        _add_validations(ws, header_row + 1, header_row + FORM_ROWS, cols, regency, config,
                         len(village_names), len(district_names))
        ws.freeze_panes(header_row + 1, 0)
        set_up_page(ws, header_row, f"{TITLE} - {regency.name}")
        _write_help(help_ws, fmt, regency, config)
        wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_form_header(ws, fmt: dict[str, xlsxwriter.format.Format], regency: Regency,
                       cols: list[tuple[str, str]]) -> int:
    """The form's title lines, its column headers and formats; return the header's row."""
    titles = [TITLE, f"{regency.name}: {regency.village_word.upper()} ........................  "
                     f"KECAMATAN ........................", "Lihat lembar Petunjuk sebelum mengisi."]
    for r, t in enumerate(titles):
        ws.write_string(r, 0, t, fmt["title"] if r == 0 else fmt["subtitle"])
    header_row = len(titles) + 1
    for c, (field, header) in enumerate(cols):
        cell = fmt["date"] if field == "tanggal_lahir" else fmt["text"] if field in TEXT_FIELDS else fmt["number"]
        ws.set_column(c, c, WIDTHS.get(field, 14), cell)
        ws.write_string(header_row, c, header, fmt["header"])
    ws.set_row(header_row, LINE_HEIGHT_PT * 2)
    return header_row


def _write_lists(lists, regency: Regency, config: Config, village_names: list[str], district_names: list[str]) -> None:
    """The hidden sheet the dropdowns take their choices from, one column per list."""
    for c, (title, values) in enumerate(((regency.village_word.upper(), village_names),
                                         ("KECAMATAN", district_names),
                                         ("SUMBER DANA", list(config.programme.funding_sources)))):
        lists.write_string(0, c, title)
        for r, v in enumerate(values, start=1):
            lists.write_string(r, c, v)
    lists.hide()


def _add_validations(ws, first: int, last: int, cols: list[tuple[str, str]], regency: Regency, config: Config,
                     n_villages: int, n_districts: int) -> None:
    """The dropdowns and checks on the form's rows ``first`` to ``last``."""
    at = {field: c for c, (field, _) in enumerate(cols)}

    def dropdown(field: str, source, title: str, message: str) -> None:
        if field in at:
            ws.data_validation(first, at[field], last, at[field], {
                "validate": "list", "source": source, "input_title": title[:32], "input_message": message[:255],
                "error_title": title[:32], "error_message": "Pilih salah satu isi daftar."[:255]})

    def ref(col: int, n: int) -> str:
        letter = chr(ord("A") + col)
        return f"={LISTS_SHEET}!${letter}$2:${letter}${n + 1}"

    dropdown("jenis_kelamin", ["L", "P"], "Jenis kelamin", "L (laki-laki) atau P (perempuan).")
    dropdown("sumber_dana", ref(2, len(config.programme.funding_sources)), "Sumber dana",
             "Dari mana iuran dibayar.")
    dropdown("desa", ref(0, n_villages), regency.village_word.capitalize(),
             f"Nama resmi {regency.village_word} di {regency.name}.")
    dropdown("kecamatan", ref(1, n_districts), "Kecamatan", f"Nama resmi kecamatan di {regency.name}.")
    if "nik" in at:
        ws.data_validation(first, at["nik"], last, at["nik"], {
            "validate": "length", "criteria": "==", "value": 16, "error_type": "warning",
            "input_title": "NIK", "input_message": "Ketik 16 angka NIK sesuai KTP.",
            "error_title": "NIK", "error_message": "NIK harus 16 angka. Periksa lagi dengan KTP."})
    if "tanggal_lahir" in at:
        ws.data_validation(first, at["tanggal_lahir"], last, at["tanggal_lahir"], {
            "validate": "date", "criteria": "between", "minimum": dt.date(1900, 1, 1),
            "maximum": dt.date(2100, 12, 31), "error_type": "warning",
            "input_title": "Tanggal lahir", "input_message": "Hari-bulan-tahun, misalnya 17-08-1975.",
            "error_title": "Tanggal lahir", "error_message": "Ketik tanggal sebagai hari-bulan-tahun."})


def _write_help(help_ws, fmt: dict[str, xlsxwriter.format.Format], regency: Regency, config: Config) -> None:
    help_ws.set_column(0, 0, HELP_WIDTH, fmt["wrap"])
    lines = _help(regency, config)
    heights = wrapped_lines(pd.Series(lines), HELP_WIDTH)
    for r, line in enumerate(lines):
        help_ws.write_string(r, 0, line, fmt["title"] if r == 0 else fmt["wrap"])
        help_ws.set_row(r, LINE_HEIGHT_PT * float(heights[r]))
    set_up_page(help_ws, None, f"Petunjuk - {regency.name}")
