"""The "reports" scenario: clean inputs that follow the figures of the news reports (DOMAIN.md),
so that the marts can be checked against what was published.

- Lahat: the branch extract holds 51,398 active members whose people are in Lahat, against a
  working population of 239,799 (configuration): coverage 21.43%;
- Lampung Barat: 22,680 active members against 92,913 workers: 24.41% (the report printed
  "22.41%", which its own counts do not give);
- PALI: 743 proposals from 12 villages, all received before the 30 May 2025 deadline; the other
  villages sent nothing; 4,390 village officials are active members.

Lapsed members (NON AKTIF) are added beside the active ones: they must not count. The files carry
the modification time of their delivery, which is what the ingestion ledger records as received.
``rentan sample --scenario reports``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rentan.config import Config, load_config
from rentan.core.settings import data_paths
from rentan.exports.xlsx import write_xlsx
from rentan.reference import villages as reference_villages
from rentan_dev.sample import _prepare
from rentan_dev.sample.people import draw_names, name_pools

SNAPSHOT = dt.date(2025, 5, 30)
DELIVERED = dt.datetime(2025, 5, 28, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
ACTIVE = {"lahat": 51_398, "lampung-barat": 22_680, "pali": 4_390}
LAPSED = {"lahat": 3_000, "lampung-barat": 1_500, "pali": 200}
PALI_PROPOSALS, PALI_VILLAGES = 743, 12
# a few proposals elsewhere, so that every branch's package has people in it
OTHER_PROPOSALS = {"lahat": (5, 20), "lampung-barat": (3, 8)}


def _niks(rng: np.random.Generator, districts: np.ndarray, n: int, taken: set) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Well-formed NIKs (region, DDMMYY with +40 for women, serial) distinct from each other and
    from ``taken`` (which grows), with birth dates and sex."""
    region = pd.Series(districts[rng.integers(0, len(districts), n)]).str.replace(".", "", regex=False)
    days = rng.integers(0, 40 * 365, n)
    male = rng.random(n) < 0.55
    serial = rng.integers(1, 10_000, n)
    while True:
        birth = pd.to_datetime(np.datetime64("1962-06-01") + days.astype("timedelta64[D]"))
        day = birth.day.to_numpy() + np.where(male, 0, 40)
        nik = (region + pd.Series(day).map("{:02d}".format) + pd.Series(birth.month).map("{:02d}".format)
               + pd.Series(birth.year % 100).map("{:02d}".format) + pd.Series(serial).map("{:04d}".format))
        clash = (nik.duplicated() | nik.isin(taken)).to_numpy()
        if not clash.any():
            break
        serial[clash] = rng.integers(1, 10_000, int(clash.sum()))
    taken.update(nik)
    return nik.to_numpy(dtype=object), birth.strftime("%d-%m-%Y").to_numpy(dtype=object), male


def _touch(path: Path) -> None:
    t = DELIVERED.timestamp()
    os.utime(path, (t, t))


def _membership(rng, pools, cfg: Config, slug: str, desa: pd.DataFrame, taken: set, first_kpj: int) -> pd.DataFrame:
    reg = cfg.regencies[slug]
    mine = desa[desa["regency_code"] == reg.code]
    n_active, n_lapsed = ACTIVE[slug], LAPSED[slug]
    n = n_active + n_lapsed
    nik, born, male = _niks(rng, mine["district_code"].unique(), n, taken)
    segment = np.where(rng.random(n) < 0.8, "PU", "BPU")
    officials = slug == "pali"
    if officials:
        segment[:] = "BPU"
    status = np.array(["AKTIF"] * n_active + ["NON AKTIF"] * n_lapsed, dtype=object)
    payer_village = np.where(segment == "BPU", mine["code"].to_numpy()[rng.integers(0, len(mine), n)], "")
    return pd.DataFrame({
        "KPJ": pd.Series(first_kpj + np.arange(n) + 10_000_000_000).astype(str),
        "NIK": nik, "NAMA": draw_names(rng, pools, male), "TGL LAHIR": born, "SEGMEN": segment,
        "PROGRAM": np.where(segment == "PU", "JKK, JKM, JHT, JP", "JKK, JKM"),
        "TGL KEPESERTAAN": "02-01-2024", "STATUS": status,
        "BLTH TERAKHIR": np.where(status == "AKTIF", "2025-04", "2024-06"),
        "PEMBAYAR": np.where(segment == "PU", "PT CONTOH SEJAHTERA",
                             np.where(officials, "PEMERINTAH DESA (PERANGKAT)", "PEMERINTAH DESA")),
        "KODE DESA PEMBAYAR": payer_village,
    })


def _proposals(rng, pools, villages: pd.DataFrame, counts: np.ndarray, taken: set) -> list[tuple[pd.Series, pd.DataFrame]]:
    n = int(counts.sum())
    nik, born, male = _niks(rng, villages["district_code"].unique(), n, taken)
    names = draw_names(rng, pools, male)
    out, at = [], 0
    for (_, v), k in zip(villages.iterrows(), counts):
        rows = pd.DataFrame({
            "NO": [str(i + 1) for i in range(k)], "NIK": nik[at:at + k], "NAMA LENGKAP": names[at:at + k],
            "TGL. LAHIR": born[at:at + k], "L/P": np.where(male[at:at + k], "L", "P"),
            "DESA": v["name"], "KECAMATAN": v["district_name"], "SUMBER DANA": "ADD",
        })
        out.append((v, rows))
        at += k
    return out


def generate_reports(root: str | Path, seed: int = 20250530, config: Config | None = None) -> dict:
    cfg = config or load_config()
    paths = data_paths(root)
    _prepare(paths.root)
    rng = np.random.default_rng(seed)
    pools = name_pools(seed)
    desa = reference_villages([r.code for r in cfg.regencies.values()], desa_only=True)
    land = paths.landing
    summary: dict = {"scenario": "reports", "snapshot": SNAPSHOT.isoformat(), "active_members": ACTIVE,
                     "lapsed_members": LAPSED, "proposals": {}, "villages_submitted": {}}

    taken: set = set()
    kpj = 0
    for slug in ACTIVE:
        members = _membership(rng, pools, cfg, slug, desa, taken, first_kpj=kpj)
        kpj += len(members)
        branch = cfg.regencies[slug].branch
        path = land / "membership" / branch / f"kepesertaan_{branch}_{SNAPSHOT:%Y%m%d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        members.to_csv(path, index=False)
        _touch(path)
        # the reports give no claims, but a branch's night is complete only with its claims extract
        # too: each branch sends one, holding a single JKK claim of its first active member
        first = members.iloc[0]
        claims = pd.DataFrame({"NO KLAIM": [f"K-{branch.upper()}-0001"], "KPJ": [first["KPJ"]], "NIK": [first["NIK"]],
                               "JENIS KLAIM": ["JKK"], "TGL KEJADIAN": ["10-04-2025"], "TGL BAYAR": ["05-05-2025"],
                               "NOMINAL": ["1500000"], "PENERIMA": [first["NAMA"]]})
        path = land / "claims" / branch / f"klaim_{branch}_{SNAPSHOT:%Y%m%d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        claims.to_csv(path, index=False)
        _touch(path)

    plans = {"pali": (PALI_VILLAGES, None)} | dict(OTHER_PROPOSALS.items())
    for slug, (n_villages, per) in plans.items():
        mine = desa[desa["regency_code"] == cfg.regencies[slug].code]
        chosen = mine.iloc[np.sort(rng.choice(len(mine), n_villages, replace=False))]
        if per is None:  # 743 over 12 villages, unevenly, as real submissions are
            w = rng.uniform(0.5, 1.5, n_villages)
            counts = np.floor(w / w.sum() * PALI_PROPOSALS).astype(int)
            counts[: PALI_PROPOSALS - counts.sum()] += 1
        else:
            counts = np.full(n_villages, per)
        for v, rows in _proposals(rng, pools, chosen, counts, taken):
            path = land / "submissions" / slug / f"usulan_{v['code'].replace('.', '')}.xlsx"
            rows = rows.astype("string")
            write_xlsx(path, {"USULAN": rows}, created=DELIVERED.replace(tzinfo=None),
                       title_rows={"USULAN": [f"DAFTAR USULAN PEKERJA RENTAN {cfg.regencies[slug].village_word.upper()} "
                                              f"{v['name'].upper()}"]})
            _touch(path)
        summary["proposals"][slug] = int(counts.sum())
        summary["villages_submitted"][slug] = sorted(chosen["code"])
    summary["villages_missing"] = {
        slug: sorted(set(desa.loc[desa["regency_code"] == cfg.regencies[slug].code, "code"])
                     - set(summary["villages_submitted"].get(slug, [])))
        for slug in cfg.regencies}
    (paths.truth / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return {k: v for k, v in summary.items() if k != "villages_missing"} | {
        "villages_missing": {k: len(v) for k, v in summary["villages_missing"].items()}}
