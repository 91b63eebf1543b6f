"""Builders of landing-zone files as senders make them (xlsx lists, csv extracts), dated as
delivered: the time of receipt a night's cut-off reads is a file's modification time."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import xlsxwriter

from rentan.core.settings import data_paths
from rentan.ingest import ingest
from rentan.standardise import standardise

WIB = dt.timezone(dt.timedelta(hours=7))
LIST_HEADER = ["NO", "NIK", "NAMA LENGKAP", "TGL. LAHIR", "L/P", "DESA", "KECAMATAN", "SUMBER DANA", "TAHUN"]
MEMBERSHIP_HEADER = ["KPJ", "NIK", "NAMA", "TGL LAHIR", "SEGMEN", "PROGRAM", "TGL KEPESERTAAN", "STATUS",
                     "BLTH TERAKHIR", "PEMBAYAR", "KODE DESA PEMBAYAR"]
CLAIMS_HEADER = ["NO KLAIM", "KPJ", "NIK", "JENIS KLAIM", "TGL KEJADIAN", "TGL BAYAR", "NOMINAL", "PENERIMA"]
# Kembang Ayun and Gunung Meraksa: desa of Kecamatan Tanjung Sakti Pumi, Lahat (16.04.01)
KEMBANG_AYUN = ("Kembang Ayun", "Tanjung Sakti Pumi", "16.04.01.2001")
GUNUNG_MERAKSA = ("Gunung Meraksa", "Tanjung Sakti Pumi", "16.04.01.2002")


def nik(day: int, month: int, yy: int, serial: int, region: str = "160401") -> str:
    """A well-formed NIK: region, DDMMYY (day + 40 for women), serial."""
    return f"{region}{day:02d}{month:02d}{yy:02d}{serial:04d}"


def delivered(path: Path, when: dt.datetime) -> Path:
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def person(no: int, nik_: str, name: str, born: str, village=KEMBANG_AYUN, sex: str = "L", fund: str = "ADD",
           year: int | None = 2025) -> list:
    return [no, nik_, name, born, sex, village[0], village[1], fund, year]


def village_list(path: Path, rows: list[list], when: dt.datetime, header: list[str] = LIST_HEADER) -> Path:
    """A village's list as an xlsx workbook, NIKs typed as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("USULAN")
    ws.write_row(0, 0, header)
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r):
            if isinstance(v, (int, float)) and header[j] != "NIK":
                ws.write_number(i, j, v)
            elif v is not None:
                ws.write_string(i, j, str(v))
    wb.close()
    return delivered(path, when)


def csv_extract(path: Path, header: list[str], rows: list[list], when: dt.datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    quote = lambda v: f'"{v}"' if "," in str(v) else str(v)  # noqa: E731
    path.write_text("\n".join(",".join(quote(v) for v in r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return delivered(path, when)


def member(kpj: str, nik_: str, name: str, born: str, segment: str = "PU", status: str = "AKTIF",
           payer: str = "PT BUKIT ASAM", payer_code: str = "", last_paid: str = "2025-05") -> list:
    programmes = "JKK, JKM" if segment == "BPU" else "JKK, JKM, JHT, JP"
    return [kpj, nik_, name, born, segment, programmes, "01-01-2024", status, last_paid, payer, payer_code]


def claim(no: str, kpj: str, nik_: str, kind: str = "JKK", amount: int = 1_500_000) -> list:
    return [no, kpj, nik_, kind, "01-05-2025", "20-05-2025", amount, "PENERIMA"]


def every_branch_extracts(land: Path, when: dt.datetime, skip: tuple[str, ...] = ()) -> None:
    """A small membership and claims extract for each configured branch not in ``skip``."""
    for i, (branch, region) in enumerate((("lahat", "160402"), ("muara-enim", "161201"), ("lampung-tengah", "180401"))):
        if branch in skip:
            continue
        kpj = f"9{i}000000000"
        csv_extract(land / f"membership/{branch}/kepesertaan_{branch}.csv", MEMBERSHIP_HEADER,
                    [member(kpj, nik(1, 1, 70, 9000 + i, region), "WARGA LAIN", "01-01-1970")], when)
        csv_extract(land / f"claims/{branch}/klaim_{branch}.csv", CLAIMS_HEADER,
                    [claim(f"K-{branch}-1", kpj, nik(1, 1, 70, 9000 + i, region))], when)


# village files as the stage tests write them: an eight-column list, by default under a title row
TODAY = dt.date(2025, 6, 30)
# Kembang Ayun and Gunung Meraksa are desa of Kecamatan Tanjung Sakti Pumi, Lahat (16.04.01)
HEADER = ["NO", "NIK", "NAMA LENGKAP", "TGL. LAHIR", "L/P", "DESA", "KECAMATAN", "SUMBER DANA"]


def row(no, nik, name="Budi Santoso", born="17-08-1975", sex="L", desa="Kembang Ayun", kec="Tanjung Sakti Pumi"):
    return [no, nik, name, born, sex, desa, kec, "ADD"]


def write_xlsx(path: Path, header: list, rows: list[list], title: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("USULAN")
    start = 0
    if title:
        ws.write_string(0, 0, "DAFTAR USULAN PEKERJA RENTAN DESA KEMBANG AYUN")
        start = 2
    ws.write_row(start, 0, header)
    for i, r in enumerate(rows, start=start + 1):
        for j, v in enumerate(r):
            if isinstance(v, (int, float)):
                ws.write_number(i, j, v)  # what Excel does with a NIK typed without a leading '
            elif v is not None:
                ws.write_string(i, j, v)
    wb.close()
    return path


def run(root: Path) -> dict:
    ingest(data_paths(root), load_id="t")
    return standardise(data_paths(root), load_id="t", today=TODAY).as_dict()


def layer(root: Path, name: str, source: str = "submissions") -> list[dict]:
    glob = (root / "warehouse" / name / source / "**" / "*.parquet").as_posix()
    if not list((root / "warehouse" / name / source).rglob("*.parquet")):
        return []
    rel = duckdb.sql(f"select * from read_parquet('{glob}', hive_partitioning=true) order by source_file, row_number")
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]  # Python types: dates stay dates
