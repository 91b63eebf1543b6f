"""How each regency's villages lay out their usulan spreadsheets.

``HEADER_TEMPLATES`` is the single list of header spellings the generator writes, per regency and
template, so that the ingest stage's header mapping can be tested against every spelling it will meet.
Header cells are written as listed, except that a few villages leave a trailing space in one header
cell (typed by hand), so a mapping must strip before it compares.
"""

from __future__ import annotations

from typing import Any

# Canonical field names of a submission row, in the order the regencies' circulars list them.
FIELDS = (
    "no",
    "nik",
    "nama",
    "tempat_lahir",
    "tanggal_lahir",
    "jenis_kelamin",
    "pekerjaan",
    "alamat",
    "rt_rw",
    "no_hp",
    "desa",
    "kecamatan",
    "sumber_dana",
    "tahun",
)

# Fields every template carries; the others may be left out by a village.
REQUIRED_FIELDS = ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "desa")

# regency slug -> template name -> ordered (field, header) pairs
HEADER_TEMPLATES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "lahat": {
        # the DPMD circular's own table, copied by most desa
        "dpmd": (
            ("no", "NO"), ("nik", "NIK"), ("nama", "NAMA LENGKAP"), ("tempat_lahir", "TEMPAT LAHIR"),
            ("tanggal_lahir", "TANGGAL LAHIR"), ("jenis_kelamin", "JENIS KELAMIN"),
            ("pekerjaan", "PEKERJAAN"), ("alamat", "ALAMAT"), ("rt_rw", "RT/RW"), ("no_hp", "NO HP"),
            ("desa", "DESA"), ("kecamatan", "KECAMATAN"), ("sumber_dana", "SUMBER DANA"), ("tahun", "TAHUN"),
        ),
        # retyped by the operator, in sentence case
        "retyped": (
            ("no", "No."), ("nik", "N I K"), ("nama", "Nama Lengkap"), ("tempat_lahir", "Tempat Lahir"),
            ("tanggal_lahir", "Tgl. Lahir"), ("jenis_kelamin", "L/P"), ("pekerjaan", "Pekerjaan"),
            ("alamat", "Alamat"), ("rt_rw", "RT/RW"), ("no_hp", "No. HP"), ("desa", "Desa"),
            ("kecamatan", "Kecamatan"), ("sumber_dana", "Sumber Dana"), ("tahun", "Tahun"),
        ),
        # an older list reused: name first, no RT/RW
        "nama_dulu": (
            ("no", "NO"), ("nama", "NAMA"), ("nik", "NIK"), ("jenis_kelamin", "L/P"),
            ("tempat_lahir", "TEMPAT LAHIR"), ("tanggal_lahir", "TGL LAHIR"), ("pekerjaan", "PEKERJAAN"),
            ("alamat", "ALAMAT"), ("no_hp", "NO. HP"), ("desa", "DESA"), ("kecamatan", "KECAMATAN"),
            ("sumber_dana", "SUMBER DANA"), ("tahun", "TAHUN"),
        ),
    },
    "pali": {
        "kabupaten": (
            ("no", "NO"), ("nik", "NIK"), ("nama", "NAMA"), ("tempat_lahir", "TEMPAT LAHIR"),
            ("tanggal_lahir", "TGL LAHIR"), ("jenis_kelamin", "JENIS KELAMIN"), ("pekerjaan", "PEKERJAAN"),
            ("alamat", "ALAMAT"), ("rt_rw", "RT/RW"), ("no_hp", "NO HP"), ("desa", "DESA"),
            ("kecamatan", "KECAMATAN"), ("sumber_dana", "SUMBER DANA"), ("tahun", "TAHUN"),
        ),
        "huruf_kecil": (
            ("no", "No"), ("nik", "Nik"), ("nama", "Nama Lengkap"), ("tempat_lahir", "Tempat Lahir"),
            ("tanggal_lahir", "Tanggal Lahir"), ("jenis_kelamin", "Jenis Kelamin"), ("pekerjaan", "Pekerjaan"),
            ("alamat", "Alamat"), ("rt_rw", "Rt/Rw"), ("no_hp", "No Hp"), ("desa", "Desa"),
            ("kecamatan", "Kecamatan"), ("sumber_dana", "Sumber Dana"), ("tahun", "Tahun"),
        ),
        # a short list without contact columns
        "ringkas": (
            ("no", "NO"), ("nik", "NIK"), ("nama", "NAMA"), ("tanggal_lahir", "TGL. LAHIR"),
            ("tempat_lahir", "TEMPAT LAHIR"), ("jenis_kelamin", "L/P"), ("pekerjaan", "PEKERJAAN"),
            ("alamat", "ALAMAT"), ("desa", "DESA"), ("kecamatan", "KECAMATAN"), ("sumber_dana", "SUMBER DANA"),
        ),
    },
    "lampung-barat": {
        "pekon": (
            ("no", "NO"), ("nik", "NIK"), ("nama", "NAMA"), ("jenis_kelamin", "JENIS KELAMIN"),
            ("tempat_lahir", "TEMPAT LAHIR"), ("tanggal_lahir", "TANGGAL LAHIR"), ("pekerjaan", "PEKERJAAN"),
            ("alamat", "ALAMAT"), ("no_hp", "NO. HP"), ("desa", "PEKON"), ("kecamatan", "KECAMATAN"),
            ("sumber_dana", "SUMBER DANA"), ("tahun", "TAHUN"),
        ),
        "pekon_lp": (
            ("no", "No"), ("nik", "NIK"), ("nama", "Nama Lengkap"), ("jenis_kelamin", "L/P"),
            ("tempat_lahir", "Tempat Lahir"), ("tanggal_lahir", "Tgl Lahir"), ("pekerjaan", "Pekerjaan"),
            ("alamat", "Alamat"), ("rt_rw", "RT/RW"), ("no_hp", "No HP"), ("desa", "Pekon"),
            ("kecamatan", "Kecamatan"), ("sumber_dana", "Sumber Dana"), ("tahun", "Tahun"),
        ),
        "nik_berspasi": (
            ("no", "NO."), ("nik", "N I K"), ("nama", "NAMA LENGKAP"), ("tempat_lahir", "TEMPAT LAHIR"),
            ("tanggal_lahir", "TGL. LAHIR"), ("jenis_kelamin", "JENIS KELAMIN"), ("pekerjaan", "PEKERJAAN"),
            ("alamat", "ALAMAT"), ("desa", "PEKON"), ("kecamatan", "KECAMATAN"), ("sumber_dana", "SUMBER DANA"),
            ("tahun", "TAHUN"),
        ),
    },
}


def header_spellings() -> dict[str, set[str]]:
    """Every header spelling written for each field, over all regencies and templates."""
    out: dict[str, set[str]] = {f: set() for f in FIELDS}
    for templates in HEADER_TEMPLATES.values():
        for pairs in templates.values():
            for field, header in pairs:
                out[field].add(header)
    return out


# How often each regency's villages use each template, file format and presentation.
# Formats: xlsx; csv_comma_utf8 (LibreOffice / Google Sheets export); csv_comma_utf8_bom (Excel "CSV UTF-8");
# csv_semicolon_cp1252 (Excel "CSV" on a Windows set to Indonesian, where the comma is the decimal mark).
REGENCY_STYLE: dict[str, dict] = {
    "lahat": {
        "templates": {"dpmd": 0.6, "retyped": 0.25, "nama_dulu": 0.15},
        "formats": {"xlsx": 0.85, "csv_comma_utf8": 0.1, "csv_semicolon_cp1252": 0.05},
        "title_share": 0.45,
        "upper_share": 0.75,
        "address_word": "DUSUN",
        "rt_rw_share": 0.9,
    },
    "pali": {
        "templates": {"kabupaten": 0.6, "huruf_kecil": 0.25, "ringkas": 0.15},
        "formats": {"csv_semicolon_cp1252": 0.8, "xlsx": 0.15, "csv_comma_utf8": 0.05},
        "title_share": 0.2,
        "upper_share": 0.6,
        "address_word": "DUSUN",
        "rt_rw_share": 0.8,
    },
    "lampung-barat": {
        "templates": {"pekon": 0.5, "pekon_lp": 0.3, "nik_berspasi": 0.2},
        "formats": {"xlsx": 0.5, "csv_comma_utf8": 0.15, "csv_comma_utf8_bom": 0.15, "csv_semicolon_cp1252": 0.2},
        "title_share": 0.35,
        "upper_share": 0.7,
        # pekon are divided into pemangku rather than dusun
        "address_word": "PEMANGKU",
        "rt_rw_share": 0.3,
    },
}

# Fallback for a regency added to the configuration after this module was written.
DEFAULT_STYLE_REGENCY = "lahat"

CSV_FORMATS: dict[str, dict[str, Any]] = {
    "csv_comma_utf8": {"sep": ",", "encoding": "utf-8", "bom": False, "newline": "\n", "decimal": "."},
    "csv_comma_utf8_bom": {"sep": ",", "encoding": "utf-8", "bom": True, "newline": "\r\n", "decimal": "."},
    "csv_semicolon_cp1252": {"sep": ";", "encoding": "cp1252", "bom": False, "newline": "\r\n", "decimal": ","},
}

SHEET_NAMES = ("Sheet1", "Sheet1", "Sheet1", "USULAN", "Data", "Lembar1", "DAFTAR USULAN", "Pekerja Rentan")

# Birth-date presentations (the truth's ``date_format``), with their weights in xlsx and csv files.
DATE_FORMATS_XLSX = {
    "excel_date": 0.45, "dmy_dash": 0.15, "dmy_slash": 0.1, "long_id": 0.1, "excel_serial": 0.05,
    "iso": 0.05, "dmy_slash_yy": 0.05, "dmy_dot": 0.05,
}
DATE_FORMATS_CSV = {
    "dmy_slash": 0.35, "dmy_dash": 0.25, "dmy_slash_yy": 0.1, "long_id": 0.1, "iso": 0.1, "dmy_dot": 0.05,
    "excel_serial": 0.05,
}
# Share of rows in a file typed in another format than the file's usual one.
DATE_FORMAT_DRIFT = 0.15

MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
    "November", "Desember",
)

# KTP occupation wording, weighted per regency (rubber in PALI, coffee smallholders in Lampung Barat).
OCCUPATIONS: dict[str, dict[str, float]] = {
    "lahat": {
        "PETANI/PEKEBUN": 0.45, "BURUH HARIAN LEPAS": 0.15, "BURUH TANI/PERKEBUNAN": 0.1, "PEDAGANG": 0.07,
        "TUKANG BATU": 0.04, "TUKANG KAYU": 0.03, "OJEK": 0.04, "PETERNAK": 0.03, "SOPIR": 0.03,
        "NELAYAN/PERIKANAN": 0.02, "MENGURUS RUMAH TANGGA": 0.02, "WIRASWASTA": 0.02,
    },
    "pali": {
        "PETANI/PEKEBUN": 0.35, "PENYADAP KARET": 0.15, "BURUH HARIAN LEPAS": 0.18, "BURUH TANI/PERKEBUNAN": 0.1,
        "PEDAGANG": 0.06, "TUKANG BATU": 0.03, "OJEK": 0.05, "SOPIR": 0.03, "NELAYAN/PERIKANAN": 0.03,
        "WIRASWASTA": 0.02,
    },
    "lampung-barat": {
        "PETANI/PEKEBUN": 0.55, "PEKEBUN KOPI": 0.12, "BURUH HARIAN LEPAS": 0.1, "BURUH TANI/PERKEBUNAN": 0.07,
        "PEDAGANG": 0.05, "NELAYAN/PERIKANAN": 0.04, "TUKANG KAYU": 0.03, "OJEK": 0.04,
    },
}

SUMBER_DANA = {"ADD": 0.96, "PAD": 0.015, "APBD": 0.015, "DD": 0.01}

# Title rows some villages type above the table; each has a single non-empty cell.
TITLE_LINES = (
    ("DAFTAR USULAN PEKERJA RENTAN", "{word} {village} KECAMATAN {district}"),
    ("DAFTAR USULAN PEKERJA RENTAN PENERIMA BANTUAN IURAN BPJS KETENAGAKERJAAN",
     "{word} {village} KECAMATAN {district}", "TAHUN ANGGARAN {year}"),
    ("USULAN PESERTA BPJS KETENAGAKERJAAN SUMBER DANA ADD TAHUN {year}",),
    ("DATA PEKERJA RENTAN {word} {village}", "KECAMATAN {district} KABUPATEN {regency}"),
)
