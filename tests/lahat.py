"""A small Lahat night built by hand, whose every proposal's status, figure and package line the
identity, marts and branch-package tests work out on paper: the proposals and members, their NIKs,
and the builders of the night's files (``build_night``, then ``build_full_night``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from rentan.core.settings import data_paths
from rentan.identity import resolve
from rentan.ingest import ingest
from rentan.reference import villages
from rentan.standardise import standardise
from tests.builders import HEADER, nik, write_xlsx

SNAPSHOT = dt.date(2025, 6, 30)
DELIVERED = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def delivered(land: Path, when: dt.datetime) -> None:
    """Date the files as delivered before the snapshot (the ledger's received time is a file's)."""
    for p in land.rglob("*"):
        if p.is_file():
            os.utime(p, (when.timestamp(), when.timestamp()))
LAHAT = villages(["16.04"], desa_only=True)
HOME = LAHAT[LAHAT["code"] == "16.04.01.2001"].iloc[0]            # Kembang Ayun, district 16.04.01
# a desa of another district, whose name no other Lahat village shares
AWAY = LAHAT[(LAHAT["district_code"] != "16.04.01") & ~LAHAT["name"].duplicated(keep=False)].iloc[0]


def proposal(no, nik_, name, born, v=HOME, sex="L"):
    return [no, nik_, name, born, sex, v["name"], v["district_name"], "ADD"]


N_DUP = nik(1, 2, 80, 1)
N_PU = nik(2, 3, 81, 2)
N_BPU_OTHER = nik(3, 4, 82, 3)
N_BPU_HERE = nik(4, 5, 83, 4)
N_OLD = nik(5, 6, 55, 5)                      # born 1955: 70 on the snapshot
N_MEMBER = nik(6, 7, 84, 6)                   # a lapsed member...
N_MISTYPED = N_MEMBER[:-2] + N_MEMBER[-1] + N_MEMBER[-2]   # ...proposed with two digits swapped
N_NAMESAKE = nik(47, 8, 85, 7)                # a woman: day + 40
N_NAMESAKE_MEMBER = nik(47, 8, 85, 8)         # same name and birth date, the next serial: a typo or a namesake
N_FAR = nik(48, 9, 86, 9)                     # a member...
N_FAR_PROPOSAL = nik(48, 9, 86, 4321)         # ...and a proposal of the same name and birth date, NIK four digits off


def build_night(data_root: Path) -> Path:
    """The proposals and members above, delivered, ingested and standardised."""
    land = data_root / "landing"
    home = [
        proposal(1, N_DUP, "Budi Santoso", "01-02-1980"),
        proposal(2, N_PU, "Agus Salim", "02-03-1981"),
        proposal(3, N_BPU_OTHER, "Rudi Hartono", "03-04-1982"),
        proposal(4, N_BPU_HERE, "Joko Susilo", "04-05-1983"),
        proposal(5, N_OLD, "Karto Wiryo", "05-06-1955"),
        proposal(6, N_MISTYPED, "Dedi Kurniawan", "06-07-1984"),
        proposal(7, N_NAMESAKE, "Siti Aminah", "07-08-1985", sex="P"),
        # a member's NIK typed for someone else altogether: two persons under one NIK
        proposal(8, N_PU, "Yohanes Pattinama", "11-11-1991"),
        proposal(9, N_FAR_PROPOSAL, "R.A. Sri Wahyuni", "08-09-1986", sex="P"),
    ] + [proposal(10 + i, nik(10 + i, 1, 90, 100 + i), f"Warga Baik {chr(65 + i)}", f"{10 + i}-01-1990")
         for i in range(6)]
    # no title rows: data starts on Excel row 2
    write_xlsx(land / "submissions/lahat/tanjung-sakti-pumi/usulan_home.xlsx", HEADER, home, title=False)
    write_xlsx(land / "submissions/lahat/lain/usulan_away.xlsx", HEADER, [
        proposal(1, N_DUP, "BUDI SANTOSO", "01-02-1980", v=AWAY),
        proposal(2, nik(20, 1, 91, 200, AWAY["district_code"].replace(".", "")), "Warga Jauh", "20-01-1991", v=AWAY),
    ], title=False)
    code = HOME["code"].replace(".", "")
    (land / "membership/lahat").mkdir(parents=True)
    (land / "membership/lahat/kepesertaan.csv").write_text(
        "KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,KODE DESA PEMBAYAR\n"
        f"11111111111,{N_PU},AGUS SALIM,02-03-1981,PU,\"JKK, JKM, JHT, JP\",01-01-2020,AKTIF,2025-05,PT BUKIT ASAM,\n"
        f"22222222222,{N_BPU_OTHER},RUDI HARTONO,03-04-1982,BPU,\"JKK, JKM\",01-01-2024,AKTIF,2025-05,PEMERINTAH DESA LAIN,{AWAY['code']}\n"
        f"33333333333,{N_BPU_HERE},JOKO SUSILO,04-05-1983,BPU,\"JKK, JKM\",01-01-2024,AKTIF,2025-05,PEMERINTAH DESA KEMBANG AYUN,{code}\n"
        f"44444444444,{N_MEMBER},DEDI KURNIAWAN,06-07-1984,BPU,\"JKK, JKM\",01-01-2020,NON AKTIF,2021-03,MANDIRI,\n"
        f"55555555555,{N_NAMESAKE_MEMBER},SITI AMINAH,07-08-1985,PU,\"JKK, JKM, JHT, JP\",01-01-2020,AKTIF,2025-05,PT A,\n"
        f"66666666666,{N_FAR},SRI WAHYUNI,08-09-1986,PU,\"JKK, JKM, JHT, JP\",01-01-2020,AKTIF,2025-05,PT B,\n")
    delivered(land, DELIVERED)
    ingest(data_paths(data_root), load_id="n1")
    standardise(data_paths(data_root), load_id="n1", today=SNAPSHOT)
    return data_root


def deliver_later_extract(root: Path) -> None:
    """A week after the first delivery, July's extract: the PU member is no longer active."""
    later = root / "landing/membership/lahat/kepesertaan_juli.csv"
    later.write_text(
        "KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,KODE DESA PEMBAYAR\n"
        f"11111111111,{N_PU},AGUS SALIM,02-03-1981,PU,\"JKK, JKM, JHT, JP\",01-01-2020,NON AKTIF,2025-03,PT BUKIT ASAM,\n")
    when = (DELIVERED + dt.timedelta(days=7)).timestamp()
    os.utime(later, (when, when))


HOME_CODE = HOME["code"]
INJECTED_ADDRESS = '=HYPERLINK("http://contoh.invalid","klik")'


def build_full_night(night: Path) -> Path:
    """The night above, plus a budget, a claims extract delivered twice (overlapping)
    and a village file whose address would run as a formula. Only Lahat's branch sends extracts,
    some months old: this night is about the figures, so none is required for its completeness."""
    land = night / "landing"
    (land / "budget/lahat").mkdir(parents=True)
    (land / "budget/lahat/apbdes_2025.csv").write_text(
        "KODE DESA,NAMA DESA,TAHUN ANGGARAN,PAGU ADD,ANGGARAN IURAN BPJS TK,JUMLAH PEKERJA DIANGGARKAN,REALISASI\n"
        f"{HOME_CODE},{HOME['name']},2025,500000000,20160000,100,1680000\n")
    (land / "claims/lahat").mkdir(parents=True)
    head = "NO KLAIM,KPJ,NIK,JENIS KLAIM,TGL KEJADIAN,TGL BAYAR,NOMINAL,PENERIMA\n"
    first = (f"K-001,33333333333,{N_BPU_HERE},JKM,02-03-2025,20-03-2025,42000000,SITI SUSILO\n"
             f"K-002,33333333333,{N_BPU_HERE},BEASISWA,02-03-2025,25-03-2025,1500000,ANAK PERTAMA\n")
    (land / "claims/lahat/klaim_2025_03.csv").write_text(head + first)
    # the next extract repeats March (K-002 corrected) and adds April
    (land / "claims/lahat/klaim_2025_04.csv").write_text(
        head + f"K-002,33333333333,{N_BPU_HERE},BEASISWA,02-03-2025,25-03-2025,1600000,ANAK PERTAMA\n"
        f"K-003,33333333333,{N_BPU_HERE},BEASISWA,02-03-2025,10-04-2025,1500000,ANAK KEDUA\n")
    os.utime(land / "claims/lahat/klaim_2025_03.csv", (1_743_000_000, 1_743_000_000))
    os.utime(land / "claims/lahat/klaim_2025_04.csv", (1_745_000_000, 1_745_000_000))
    write_xlsx(land / "submissions/lahat/tanjung-sakti-pumi/usulan_alamat.xlsx", [*HEADER, "ALAMAT"], [
        [1, nik(21, 1, 92, 300), "Siti Rahma", "21-01-1992", "P", HOME["name"], HOME["district_name"], "ADD",
         INJECTED_ADDRESS]], title=False)
    for f in (land / "budget/lahat/apbdes_2025.csv", land / "submissions/lahat/tanjung-sakti-pumi/usulan_alamat.xlsx"):
        os.utime(f, (DELIVERED.timestamp(), DELIVERED.timestamp()))
    paths = data_paths(night)
    ingest(paths, load_id="n2")
    standardise(paths, load_id="n2", today=SNAPSHOT)
    resolve(paths, load_id="n2", snapshot=SNAPSHOT)
    return night
