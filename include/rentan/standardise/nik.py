"""NIK (Nomor Induk Kependudukan), vectorised: clean, classify, decode.

16 digits: province(2) regency(2) district(2) DDMMYY (day + 40 for women) serial(4); no
checksum. A NIK that went through a spreadsheet as a number has lost its last digit(s):
Excel keeps 15 significant digits. Such a value is reported as damaged and the village is
asked for the original; it is never repaired by guessing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rentan.standardise.calendar import make_dates

# reason codes (the quarantine's vocabulary for NIKs)
NIK_MISSING = "nik_missing"
NIK_NUMERIC_CELL = "nik_numeric_cell"       # xlsx cell held a number: digits past the 15th are lost
NIK_SCIENTIFIC = "nik_scientific"           # 1.60401E+15: what Excel shows or exports for a number
NIK_DECIMAL = "nik_decimal"                 # "...0001.0": a number written back as text
NIK_SERIAL_ZERO = "nik_serial_zero"         # serial 0000 does not exist: 15 digits then 0
NIK_NOT_DIGITS = "nik_not_digits"
NIK_WRONG_LENGTH = "nik_wrong_length"
NIK_UNKNOWN_REGION = "nik_unknown_region"   # province + regency prefix is no official regency
NIK_BAD_BIRTH_DATE = "nik_bad_birth_date"   # DDMMYY is no calendar date

DAMAGED = {NIK_NUMERIC_CELL, NIK_SCIENTIFIC, NIK_DECIMAL, NIK_SERIAL_ZERO}

_SEPARATORS = r"[\s\.\-_/']"
_SCIENTIFIC = r"^\s*\d(?:[\.,]\d+)?[eE][+]?\d+\s*$"
_DECIMAL = r"^\s*\d{12,17}[\.,]0+\s*$"


def resolve_century(yy: pd.Series, reference_year: int, min_age: int = 14) -> pd.Series:
    """Four-digit years from two: 20YY unless that makes the person younger than ``min_age``
    in ``reference_year`` (workers are not born in the future, nor last year)."""
    yy = yy.astype("Int64")
    y2000 = 2000 + yy
    return y2000.where(y2000 <= reference_year - min_age, 1900 + yy)


def standardise_nik(
    raw: pd.Series,
    numeric_cell: pd.Series | None = None,
    *,
    regency_prefixes: set[str],
    reference_year: int,
) -> pd.DataFrame:
    """One row per input: ``nik`` (16 digits or NA), ``nik_reason`` (NA when valid),
    ``nik_birth_date``, ``nik_sex`` ('L'/'P'), ``nik_region`` (6 digits), ``nik_regency`` ('PP.RR')."""
    idx = raw.index
    text = raw.astype("string")
    stripped = text.str.strip()
    digits = stripped.str.replace(_SEPARATORS, "", regex=True)
    numeric = (numeric_cell.reindex(idx).fillna(False).astype(bool) if numeric_cell is not None
               else pd.Series(False, index=idx))

    reason = pd.Series(pd.NA, index=idx, dtype="string")

    def mark(cond: pd.Series, code: str) -> None:
        cond = cond.fillna(False).astype(bool) & reason.isna()
        reason[cond] = code

    mark(stripped.isna() | (stripped == ""), NIK_MISSING)
    mark(numeric, NIK_NUMERIC_CELL)
    mark(stripped.str.match(_SCIENTIFIC), NIK_SCIENTIFIC)
    mark(stripped.str.match(_DECIMAL), NIK_DECIMAL)
    mark(~digits.str.fullmatch(r"\d+"), NIK_NOT_DIGITS)
    mark(digits.str.len() != 16, NIK_WRONG_LENGTH)
    mark(digits.str[-4:] == "0000", NIK_SERIAL_ZERO)

    candidate = digits.where(reason.isna())
    prefix = candidate.str[:2] + "." + candidate.str[2:4]
    mark(candidate.notna() & ~prefix.isin(regency_prefixes), NIK_UNKNOWN_REGION)

    dd = pd.to_numeric(candidate.str[6:8], errors="coerce")
    mm = pd.to_numeric(candidate.str[8:10], errors="coerce")
    yy = pd.to_numeric(candidate.str[10:12], errors="coerce")
    female = (dd > 40).fillna(False).astype(bool)
    day = dd.where(~female, dd - 40)
    year = resolve_century(yy, reference_year)
    birth = make_dates(year, mm, day)
    mark(candidate.notna() & birth.isna(), NIK_BAD_BIRTH_DATE)

    ok = reason.isna()
    return pd.DataFrame(
        {
            "nik": digits.where(ok),
            "nik_reason": reason,
            "nik_birth_date": birth.where(ok),
            "nik_sex": pd.Series(np.where(female, "P", "L"), index=idx, dtype="string").where(ok),
            "nik_region": digits.str[:6].where(ok),
            "nik_regency": prefix.where(ok),
        },
        index=idx,
    )
