"""Official area codes (Kemendagri, via idn-area-data 4.0.1, ODbL 1.0; see README.md here)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

WILAYAH = Path(__file__).with_name("wilayah")


@cache  # one entry per file: provinces, regencies, districts, villages
def _frame(name: str) -> pd.DataFrame:
    return pd.read_csv(WILAYAH / f"{name}.csv", dtype=str, keep_default_na=False)


def provinces() -> pd.DataFrame:
    return _frame("provinces").copy()


def regencies() -> pd.DataFrame:
    return _frame("regencies").copy()


def districts(regency_codes: list[str] | None = None) -> pd.DataFrame:
    d = _frame("districts")
    if regency_codes is not None:
        d = d[d["regency_code"].isin(regency_codes)]
    return d.reset_index(drop=True)


def villages(regency_codes: list[str] | None = None, desa_only: bool = False) -> pd.DataFrame:
    """Villages with their district and regency: code, name, district_code, district_name,
    regency_code, kind ('desa' or 'kelurahan')."""
    v = _frame("villages")
    v = v.assign(regency_code=v["code"].str[:5])
    if regency_codes is not None:
        v = v[v["regency_code"].isin(regency_codes)]
    # the first digit of the village serial tells desa (2) from kelurahan (1)
    v = v.assign(kind=v["code"].str[9].map({"2": "desa", "1": "kelurahan"}).fillna("unknown"))
    if desa_only:
        v = v[v["kind"] == "desa"]
    dist = _frame("districts")[["code", "name"]].rename(columns={"code": "district_code", "name": "district_name"})
    v = v.merge(dist, on="district_code", how="left")
    return v[["code", "name", "district_code", "district_name", "regency_code", "kind"]].reset_index(drop=True)


_PREFIX = r"^(?:DESA|DS|PEKON|KELURAHAN|KEL|KAMPUNG|NAGARI|GAMPONG|KECAMATAN|KEC)\b\.?\s*"


def place_key(s: pd.Series) -> pd.Series:
    """Upper-case letters and digits, 'Desa'/'Pekon'/'Kec.' prefixes dropped: 'Ds. Tanjung  Alam' = 'TANJUNGALAM'."""
    t = s.astype("string").str.upper().str.strip().str.replace(_PREFIX, "", regex=True)
    return t.str.replace(r"[^A-Z0-9]", "", regex=True)
