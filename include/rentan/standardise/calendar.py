"""Vectorised calendar arithmetic shared by the NIK and date parsers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_dates(year, month, day) -> pd.Series:
    """Dates from year, month and day columns; NaT where any part is missing or the date does
    not exist (31 February, month 13). Unlike pandas' assembly, tolerant of missing parts."""
    y = pd.to_numeric(pd.Series(year), errors="coerce")
    idx = y.index
    m = pd.to_numeric(pd.Series(month, index=idx), errors="coerce")
    d = pd.to_numeric(pd.Series(day, index=idx), errors="coerce")
    ok = (y.notna() & m.notna() & d.notna()).to_numpy(dtype=bool, copy=True)
    ok &= (m.between(1, 12) & (d >= 1) & y.between(1800, 2200)).fillna(False).to_numpy(dtype=bool)
    yv = np.where(ok, y.fillna(2000).to_numpy(dtype="float64"), 2000).astype("int64")
    mv = np.where(ok, m.fillna(1).to_numpy(dtype="float64"), 1).astype("int64")
    dv = np.where(ok, d.fillna(1).to_numpy(dtype="float64"), 1).astype("int64")
    month_start = (yv - 1970) * 12 + (mv - 1)
    first = month_start.astype("datetime64[M]")
    days_in_month = ((month_start + 1).astype("datetime64[M]").astype("datetime64[D]")
                     - first.astype("datetime64[D]")).astype("int64")
    ok &= dv <= days_in_month
    out = first.astype("datetime64[D]") + (dv - 1)
    out = np.where(ok, out, np.datetime64("NaT"))
    return pd.Series(pd.to_datetime(out), index=idx)
