"""The Keterangan (notes) sheet every workbook of a branch package carries: what the file is, which
night and rules made it, what the package holds, whom to ask, and what each column means, in
Bahasa Indonesia."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

import rentan
from rentan.config import Branch, Config
from rentan.core.night import WIB
from rentan.exports.layout import Column, meanings

NOTES_SHEET = "Keterangan"
NOTES_COLUMNS = ["Hal", "Keterangan"]
# the notes are prose: a wide second column, so a landscape page holds them at a readable size
NOTES_WIDTHS: dict[str, float] = {"Hal": 30, "Keterangan": 110}

# what each workbook of the package is, by its data sheet
ABOUT = {
    "Pendaftaran": "Daftar pekerja rentan yang didaftarkan sebagai peserta BPU program JKK dan JKM dengan iuran "
                   "dari desa/pekon: usulan yang memenuhi syarat dan masih dalam kuota desanya.",
    "Pengecualian": "Setiap usulan desa/pekon yang tidak ada di daftar pendaftaran, dengan alasannya: ganda, sudah "
                    "terdaftar, tidak memenuhi syarat, menunggu verifikasi, lebih kuota, atau ditolak saat validasi.",
    "Rekonsiliasi": "Per desa/pekon: kuota, usulan, yang memenuhi syarat, peserta terdaftar dan aktif, anggaran dan "
                    "pembayaran iuran dalam APBDes.",
    "Penarikan": "Orang yang ada di daftar pendaftaran paket sebelumnya dan tidak lagi diusulkan: desa/pekonnya "
                 "mengirim daftar baru untuk tahun yang sama tanpa mereka. Jangan didaftarkan bila belum terdaftar.",
}
CELL_RULES = ("NIK dan kode wilayah disimpan sebagai teks, jadi angkanya tidak berubah saat berkas dibuka atau "
              "disimpan ulang. Teks dari berkas desa yang diawali = + - @ diberi tanda ' di depannya agar tidak "
              "pernah dijalankan sebagai rumus.")
PERSONAL_DATA = ("Berkas ini memuat data pribadi (UU 27/2022 tentang Pelindungan Data Pribadi): hanya untuk "
                 "pendaftaran peserta oleh cabang ini; jangan diteruskan atau disimpan di tempat lain.")


@dataclass
class PackageNotes:
    """What the notes of one branch package say besides each workbook's own columns."""

    branch: Branch
    config: Config
    snapshot: dt.date
    load_id: str  # not printed: the same night's package is the same bytes whichever run wrote it
    rules_version: str
    cutoff: dt.datetime | None = None
    rows: dict[str, int] = field(default_factory=dict)   # data sheet -> rows in it
    rejected: int = 0                                    # of the exceptions, rows turned back at validation
    enrolment_columns: list[Column] = field(default_factory=list)


def _rupiah(n: int) -> str:
    return "Rp" + f"{n:,}".replace(",", ".")


def _contents(notes: PackageNotes) -> str:
    parts = []
    if "Pendaftaran" in notes.rows:
        parts.append(f"daftar pendaftaran {notes.rows['Pendaftaran']:,} orang".replace(",", "."))
    if "Pengecualian" in notes.rows:
        parts.append(f"pengecualian {notes.rows['Pengecualian']:,} baris".replace(",", ".")
                     + (f" ({notes.rejected:,} ditolak saat validasi)".replace(",", ".") if notes.rejected else ""))
    if "Rekonsiliasi" in notes.rows:
        parts.append(f"rekonsiliasi {notes.rows['Rekonsiliasi']:,} desa/pekon".replace(",", "."))
    parts += [f"{sheet.lower()} {n:,} baris".replace(",", ".") for sheet, n in notes.rows.items()
              if sheet not in ABOUT]
    return "; ".join(parts) + "."


def _column_meanings(sheet: str, columns: list[str], notes: PackageNotes) -> dict[str, str]:
    if sheet == "Pendaftaran":
        return {c.header: c.meaning for c in notes.enrolment_columns}
    known = {"Pengecualian": "exceptions", "Rekonsiliasi": "reconciliation", "Penarikan": "withdrawn"}
    if sheet in known:
        return meanings(known[sheet])
    # a workbook this module does not describe: whatever another workbook says of the same header
    return {**meanings("reconciliation"), **meanings("exceptions")}


def notes_frame(sheet: str, frame: pd.DataFrame, notes: PackageNotes) -> pd.DataFrame:
    """The Keterangan sheet of the workbook whose data sheet is ``sheet``."""
    cfg, b = notes.config, notes.branch
    rates = cfg.programme.rates
    cutoff = notes.cutoff.astimezone(WIB) if notes.cutoff and notes.cutoff.tzinfo else notes.cutoff
    lines: list[tuple[str, str]] = [
        ("Berkas", ABOUT.get(sheet, f"Lembar {sheet} dari paket cabang.")),
        ("Cabang", b.name),
        ("Kabupaten", ", ".join(cfg.regencies[r].name for r in b.regencies)),
        ("Data per", f"{notes.snapshot:%d-%m-%Y}: berkas yang diterima"
                     + (f" sampai {cutoff:%d-%m-%Y %H:%M} WIB" if cutoff else " sampai akhir hari itu (WIB)")),
        ("Versi aturan", f"aturan validasi {notes.rules_version}, rentan {rentan.__version__}"),
        ("Jumlah baris", f"{len(frame):,}".replace(",", ".") + f" baris di lembar {sheet}."),
        ("Isi paket", _contents(notes)),
        ("Iuran", f"JKK {rates.jkk_percent_of_income:g}% x {_rupiah(rates.income_basis_min_idr)} = "
                  f"{_rupiah(rates.jkk_monthly_idr)}, JKM {_rupiah(rates.jkm_monthly_idr)}; "
                  f"{_rupiah(rates.monthly_idr)} per orang per bulan."),
    ]
    for slug in b.regencies:
        reg = cfg.regencies[slug]
        lines.append((f"Kontak {reg.name}", reg.contact or "belum diatur (contact di konfigurasi kabupaten)"))
    lines += [("Sel", CELL_RULES), ("Data pribadi", PERSONAL_DATA)]
    described = _column_meanings(sheet, list(frame.columns), notes)
    for col in frame.columns:
        lines.append((f"Kolom {col}", described.get(str(col), "")))
    return pd.DataFrame(lines, columns=NOTES_COLUMNS).astype("string")
