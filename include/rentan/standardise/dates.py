"""Dates as villages type them, vectorised: 17-08-1975, 17/08/75, 17.8.1975, 1975-08-17,
"17 Agustus 1975", "17-Agu-75", Excel serial numbers (27623) and real date cells.

Day comes before month, always, as in Indonesia: 05/08/1975 is 5 August. General-purpose
parsers guess month-first on ambiguous input and work one value at a time; here every form is
a regular expression applied to the whole column at once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rentan.standardise.calendar import make_dates
from rentan.standardise.nik import resolve_century

DATE_MISSING = "date_missing"
DATE_UNREADABLE = "date_unreadable"       # no known form
DATE_IMPOSSIBLE = "date_impossible"       # a known form naming no calendar day (31-02-1980)
DATE_IN_FUTURE = "date_in_future"

MONTHS = {
    # Indonesian, with the abbreviations village operators use, and English
    "januari": 1, "jan": 1, "january": 1,
    "februari": 2, "pebruari": 2, "feb": 2, "peb": 2, "february": 2,
    "maret": 3, "mar": 3, "march": 3,
    "april": 4, "apr": 4,
    "mei": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "agus": 8, "aug": 8, "august": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "oct": 10, "october": 10,
    "november": 11, "nov": 11, "nopember": 11, "nop": 11,
    "desember": 12, "des": 12, "dec": 12, "december": 12,
}

_EXCEL_EPOCH = np.datetime64("1899-12-30")
# serials of 1 Jan 1900 .. 31 Dec 2099: wide enough for any birth or registration date
_SERIAL_MIN, _SERIAL_MAX = 1, 73050

_NUMERIC_DMY = r"^(\d{1,2})[\-/\.\s](\d{1,2})[\-/\.\s](\d{2}|\d{4})$"
_ISO = r"^(\d{4})[\-/\.](\d{1,2})[\-/\.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_NAMED = r"^(\d{1,2})[\s\-/\.]*([a-z]+)[\s\-/\.,]*(\d{2}|\d{4})$"
_SERIAL = r"^(\d{1,5})(?:\.0+)?$"


def parse_dates(
    raw: pd.Series, *, today: dt.date, allow_future: bool = False, two_digit_min_age: int = 0
) -> pd.DataFrame:
    """``date`` (datetime64, NaT when not a date) and ``date_reason`` (NA when parsed).

    A two-digit year is 20YY unless that is less than ``two_digit_min_age`` years before
    ``today`` (for birth dates of workers, 14: nobody proposed was born last year), else 19YY.

    Each distinct text is parsed once: a column of a million birth dates holds some tens of
    thousands of them, and the regular expressions cost per value."""
    codes, uniques = pd.factorize(raw.to_numpy(dtype=object), use_na_sentinel=True)
    if len(uniques) * 2 > len(raw):
        return _parse(raw, today=today, allow_future=allow_future, two_digit_min_age=two_digit_min_age)
    # the distinct texts, and one missing value last for the rows without any
    distinct = pd.Series([*uniques, None], dtype=object)
    parsed = _parse(distinct, today=today, allow_future=allow_future, two_digit_min_age=two_digit_min_age)
    at = np.where(codes < 0, len(uniques), codes)
    return pd.DataFrame({"date": parsed["date"].to_numpy()[at],
                         "date_reason": pd.array(parsed["date_reason"].to_numpy(dtype=object)[at], dtype="string")},
                        index=raw.index)


def _parse(raw: pd.Series, *, today: dt.date, allow_future: bool, two_digit_min_age: int) -> pd.DataFrame:
    idx = raw.index
    text = raw.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    matched = pd.Series(False, index=idx)

    def take(year, month, day, where):
        nonlocal out
        where = where.fillna(False).astype(bool) & ~matched
        parts = make_dates(year, month, day)
        out = out.where(~where, parts)
        matched.loc[where] = True

    ref_year = today.year
    iso = text.str.extract(_ISO)
    take(iso[0], iso[1], iso[2], iso[0].notna())

    dmy = text.str.extract(_NUMERIC_DMY)
    yy = pd.to_numeric(dmy[2], errors="coerce")
    year = yy.where(dmy[2].str.len() == 4, resolve_century(yy, ref_year, min_age=two_digit_min_age))
    take(year, dmy[1], dmy[0], dmy[0].notna())

    named = text.str.extract(_NAMED)
    month = named[1].map(MONTHS)
    ny = pd.to_numeric(named[2], errors="coerce")
    nyear = ny.where(named[2].str.len() == 4, resolve_century(ny, ref_year, min_age=two_digit_min_age))
    take(nyear, month, named[0], named[0].notna() & month.notna())

    serial = pd.to_numeric(text.str.extract(_SERIAL)[0], errors="coerce")
    is_serial = serial.between(_SERIAL_MIN, _SERIAL_MAX) & ~matched
    days = serial.where(is_serial).fillna(0).astype("int64").to_numpy()
    serial_dates = pd.Series(_EXCEL_EPOCH + days.astype("timedelta64[D]"), index=idx)
    out = out.where(~is_serial.fillna(False), pd.to_datetime(serial_dates))
    matched |= is_serial.fillna(False)

    reason = pd.Series(pd.NA, index=idx, dtype="string")
    missing = text.isna() | text.isin(["", "-", "--", "?", "??", "0", "00-00-0000", "n/a", "na", "null"])
    reason[missing] = DATE_MISSING
    reason[~missing & ~matched] = DATE_UNREADABLE
    reason[~missing & matched & out.isna()] = DATE_IMPOSSIBLE
    if not allow_future:
        future = out > pd.Timestamp(today)
        reason[future.fillna(False) & reason.isna()] = DATE_IN_FUTURE
    return pd.DataFrame({"date": out.where(reason.isna()), "date_reason": reason}, index=idx)
