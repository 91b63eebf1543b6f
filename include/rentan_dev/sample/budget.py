"""Village budget lines for the contributions, as Siskeudes exports them: one file per village."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rentan.config import Config

HEADER = ("KODE DESA", "NAMA DESA", "TAHUN ANGGARAN", "PAGU ADD", "ANGGARAN IURAN BPJS TK",
          "JUMLAH PEKERJA DIANGGARKAN", "REALISASI")
MISSING_SHARE = 0.05  # villages whose export never arrived
MONEY_AS_TEXT_SHARE = 0.05  # files whose money columns were pasted as formatted text
UNDOTTED_CODE_SHARE = 0.2  # files with the village code as 10 bare digits
TITLE_SHARE = 0.3
PAGU_MEDIAN = {"lahat": 650e6, "pali": 1.1e9, "lampung-barat": 450e6}
FORMATS = {"lahat": "xlsx", "pali": "csv_semicolon_cp1252", "lampung-barat": "xlsx"}


def rupiah(values: np.ndarray) -> np.ndarray:
    """'Rp 20.160.000': Indonesian thousands separators."""
    s = pd.Series(values).map("{:,}".format).str.replace(",", ".", regex=False)
    return ("Rp " + s).to_numpy(dtype=object)


def _months_in_force(cfg: Config, slug: str, year: int) -> tuple[int, int]:
    """(quota, months of the year it applied) for the step in force at the end of ``year``."""
    reg = cfg.regencies[slug]
    quota = reg.quota_on(dt.date(year, 12, 31))
    if quota == 0:
        return 0, 0
    started = [s for s in reg.quota_steps if s.start <= dt.date(year, 12, 31)]
    first = min(s.start for s in reg.quota_steps)
    months = 12 - first.month + 1 if first.year == year else 12
    return started[-1].quota, months


def budget_lines(rng: np.random.Generator, cfg: Config, plan: pd.DataFrame, snapshot: dt.date) -> pd.DataFrame:
    """One line per village and fiscal year of the programme, up to the snapshot's year."""
    monthly = cfg.programme.rates.monthly_idr
    parts = []
    for slug, g in plan.groupby("regency", sort=False):
        first_year = min(s.start for s in cfg.regencies[slug].quota_steps).year
        pagu0 = np.exp(rng.normal(np.log(PAGU_MEDIAN.get(slug, 600e6)), 0.35, len(g)))
        deadline = cfg.regencies[slug].submission_deadline
        for year in range(first_year, snapshot.year + 1):
            quota, months = _months_in_force(cfg, slug, year)
            if not quota:
                continue
            n = len(g)
            u = rng.random(n)
            workers = np.where(u < 0.8, quota, np.where(u < 0.95, np.round(quota * rng.uniform(0.3, 0.95, n)), 0))
            workers = workers.astype(np.int64)
            if year < snapshot.year:
                paid_months = np.where(rng.random(n) < 0.85, months, rng.integers(0, months + 1, n))
                real_workers = np.where(rng.random(n) < 0.7, workers,
                                        np.floor(workers * rng.uniform(0.5, 1.0, n))).astype(np.int64)
            else:
                elapsed = max(0, min(months, snapshot.month - 1 - (12 - months)))
                paid_months = np.where(rng.random(n) < 0.7, elapsed, 0)
                real_workers = np.floor(workers * rng.uniform(0.6, 1.0, n)).astype(np.int64)
                if deadline is not None and deadline.year == year:
                    # enrolment starts after BPJS verifies the lists: nothing paid yet
                    paid_months = np.zeros(n, dtype=np.int64)
            growth = 1.05 ** (year - first_year)
            parts.append(pd.DataFrame({
                "village_code": g["village_code"].to_numpy(),
                "village_name": g["village_name"].to_numpy(),
                "regency": slug,
                "year": year,
                "pagu_add": (np.round(pagu0 * growth / 1000) * 1000).astype(np.int64),
                "anggaran_iuran": workers * monthly * months,
                "workers_budgeted": workers,
                "realisasi": (real_workers * monthly * paid_months).astype(np.int64),
            }))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["village_code", "year"], kind="stable").reset_index(drop=True)
