"""The defects the generator plants, at which rates, and how a NIK gets damaged.

Every submission row carries exactly one class in the ground truth: ``clean`` or one of
``ROW_CLASSES``. Some classes are not defects (``severity == "info"``: the row is fine, the fact is
worth knowing). Variations that are not defects at all (name spelling, village spelling, date format)
are recorded in separate truth columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RowClass:
    name: str
    rate: float
    base: str  # rows the rate applies to: "all", "xlsx", "csv", "renewal" (regencies with an earlier cohort)
    severity: str  # "error": reject or fix; "warning": flag; "info": not a defect
    description: str


ROW_CLASSES: tuple[RowClass, ...] = (
    RowClass("nik_numeric_damaged", 0.02, "xlsx", "error",
             "NIK typed as a number in an xlsx cell: Excel kept 15 significant digits, the 16th is 0"),
    RowClass("nik_scientific", 0.01, "csv", "error",
             "csv cell holding the NIK in scientific notation, e.g. 1.60402E+15 (1,60402E+15 in ';' files)"),
    RowClass("nik_trailing_zero_point", 0.002, "all", "error",
             "NIK as text with a trailing '.0', e.g. 1604011708750001.0 (the digits are intact)"),
    RowClass("nik_mistyped", 0.01, "all", "error",
             "one digit substituted or two adjacent digits swapped; the person is real and their true NIK "
             "is in the membership extract (a former member); the typed NIK is nobody's"),
    RowClass("nik_wrong_length", 0.005, "all", "error", "NIK of 15 or 17 digits (a digit dropped or doubled)"),
    RowClass("dup_within_village", 0.015, "all", "error",
             "the same person twice in one village's file (the first row is the original)"),
    RowClass("dup_across_villages", 0.01, "all", "error",
             "the same person proposed by another village of the same regency"),
    RowClass("dup_across_regencies", 0.003, "all", "error", "the same person proposed in another regency"),
    RowClass("already_active_pu", 0.03, "all", "error",
             "the person is an AKTIF PU member (covered by an employer): not eligible"),
    RowClass("active_bpu_other_payer", 0.005, "all", "error",
             "the person is an AKTIF BPU member paid by another village or budget: double funding"),
    RowClass("lapsed_member", 0.01, "all", "info",
             "the person was a member (NON AKTIF now); proposing them again is allowed"),
    RowClass("active_bpu_same_village", 0.01, "renewal", "info",
             "the person is an AKTIF BPU member already paid by this same village (a renewal, not double)"),
    RowClass("age_65_plus", 0.015, "all", "error", "65 or older on the snapshot date"),
    RowClass("unknown_village", 0.005, "all", "error",
             "DESA/PEKON value that is no village of the regency (made up, or a village of another regency)"),
    RowClass("bad_date", 0.01, "all", "error",
             "birth date unparseable or impossible: 31-02-1980, '-', '??', empty"),
    RowClass("sex_mismatch", 0.01, "all", "warning", "L/P contradicts the NIK (day + 40 for women)"),
)

CLASS_BY_NAME = {c.name: c for c in ROW_CLASSES}
DEFECT_RATES: dict[str, float] = {c.name: c.rate for c in ROW_CLASSES}
DEFECT_CLASSES: tuple[str, ...] = tuple(c.name for c in ROW_CLASSES)
DUPLICATE_CLASSES = ("dup_within_village", "dup_across_villages", "dup_across_regencies")
# classes whose person is in the membership extract, with the record the extract holds for them
MEMBERSHIP_CLASSES = {
    "already_active_pu": "aktif_pu",
    "active_bpu_other_payer": "aktif_bpu_other_payer",
    "lapsed_member": "non_aktif",
    "active_bpu_same_village": "aktif_bpu_same_village",
    "nik_mistyped": "non_aktif",
}

FILE_CLASSES: dict[str, str] = {
    "empty": "a 0-byte file",
    "header_only": "a csv with its header line and no data rows: nothing to load",
    "corrupt": "an xlsx whose zip was cut short in transfer",
    "not_spreadsheet": "not a spreadsheet (a scanned cover letter saved as .pdf)",
    "same_content_as": "the same bytes as another file, sent again under another name",
}

# Non-defect variations, recorded in their own truth columns.
VARIATIONS: dict[str, str] = {
    "name_variant": "title / bin_binti / muhammad_abbrev / old_spelling, or '' (as on the KTP)",
    "village_spelling_variant": "case / no_space / typo of the village's own name, or '' (as the file "
                                "usually writes it: the reference name, in capitals in upper-case files)",
    "date_format": "excel_date, excel_serial, iso, dmy_dash, dmy_slash, dmy_slash_yy, dmy_dot, long_id; "
                   "'bad' for bad_date rows",
}
VILLAGE_SPELLING_SHARE = 0.03


def draw_classes(rng: np.random.Generator, is_xlsx: np.ndarray, renewal: np.ndarray) -> np.ndarray:
    """One class per row, each with its configured rate among the rows it applies to."""
    n = len(is_xlsx)
    out = np.full(n, "clean", dtype=object)
    u = rng.random(n)
    for xlsx in (True, False):
        for ren in (True, False):
            rows = np.flatnonzero((is_xlsx == xlsx) & (renewal == ren))
            if not len(rows):
                continue
            names, rates = [], []
            for c in ROW_CLASSES:
                applies = (c.base == "all" or (c.base == "xlsx" and xlsx) or (c.base == "csv" and not xlsx)
                           or (c.base == "renewal" and ren))
                if applies:
                    names.append(c.name)
                    rates.append(c.rate)
            edges = np.cumsum(rates)
            k = np.searchsorted(edges, u[rows], side="right")
            labels = np.array([*names, "clean"], dtype=object)
            out[rows] = labels[np.minimum(k, len(names))]
    # small samples still hold every class once, so that each check downstream has a case to find
    for c in ROW_CLASSES:
        if (out == c.name).any():
            continue
        eligible = {"all": np.ones(n, dtype=bool), "xlsx": is_xlsx, "csv": ~is_xlsx, "renewal": renewal}[c.base]
        free = np.flatnonzero(eligible & (out == "clean"))
        if len(free):
            out[free[int(rng.integers(0, len(free)))]] = c.name
    return out


# ---- NIK damage ----

def _digits(niks: np.ndarray, width: int) -> np.ndarray:
    fixed = np.ascontiguousarray(np.asarray(niks, dtype=object).astype(f"S{width}"))
    return (fixed.view(np.uint8).reshape(len(niks), width) - 48).astype(np.int8)


def _join(digits: np.ndarray) -> np.ndarray:
    w = digits.shape[1]
    fixed = np.ascontiguousarray((digits + 48).astype(np.uint8)).view(f"S{w}").ravel()
    return fixed.astype(f"U{w}").astype(object)


def mistype(rng: np.random.Generator, niks: np.ndarray, forbidden: np.ndarray) -> np.ndarray:
    """One digit substituted or two adjacent (different) digits swapped; never another real NIK.
    ``forbidden``: the real NIKs as int64 (16 digits fit, and integer look-ups are fast)."""
    out = np.asarray(niks, dtype=object).copy()
    todo = np.arange(len(out))
    for _attempt in range(50):
        if not len(todo):
            break
        d = _digits(np.asarray(niks, dtype=object)[todo], 16)
        m = len(todo)
        rows = np.arange(m)
        pos = rng.integers(0, 15, m)
        a, b = d[rows, pos], d[rows, pos + 1]
        swap = (rng.random(m) < 0.4) & (a != b)
        d2 = d.copy()
        d2[rows[swap], pos[swap]] = b[swap]
        d2[rows[swap], pos[swap] + 1] = a[swap]
        sub = ~swap
        spos = rng.integers(0, 16, m)
        d2[rows[sub], spos[sub]] = (d[rows[sub], spos[sub]] + rng.integers(1, 10, int(sub.sum()))) % 10
        cand = _join(d2)
        out[todo] = cand
        todo = todo[np.isin(cand.astype(np.int64), forbidden)]
    if len(todo):
        raise RuntimeError("could not mistype NIKs without hitting real ones")
    return out


def wrong_length(rng: np.random.Generator, niks: np.ndarray) -> np.ndarray:
    """A digit dropped (15 digits) or doubled (17 digits)."""
    niks = np.asarray(niks, dtype=object)
    d = _digits(niks, 16) if len(niks) else np.zeros((0, 16), dtype=np.int8)
    m = len(niks)
    pos = rng.integers(0, 16, m)
    drop = rng.random(m) < 0.5
    out = np.empty(m, dtype=object)
    j15 = np.arange(15)[None, :]
    idx15 = j15 + (j15 >= pos[:, None])
    short = _join(np.take_along_axis(d, idx15, axis=1)[drop]) if drop.any() else np.array([], dtype=object)
    j17 = np.arange(17)[None, :]
    idx17 = j17 - (j17 > pos[:, None])
    long = _join(np.take_along_axis(d, idx17, axis=1)[~drop]) if (~drop).any() else np.array([], dtype=object)
    out[drop] = short
    out[~drop] = long
    return out


def numeric_damaged(niks: np.ndarray) -> np.ndarray:
    """What Excel stores for a 16-digit number: the digits after the 15th become 0."""
    v = pd.Series(niks, dtype=object).astype(np.int64).to_numpy()
    return ((v // 10) * 10).astype(np.float64)


def scientific(niks: np.ndarray, decimal: str) -> np.ndarray:
    """Excel's General format for a 16-digit number saved to csv: 6 significant digits."""
    text = np.char.mod("%.5E", pd.Series(niks, dtype=object).astype(np.float64).to_numpy())
    out = pd.Series(text, dtype=object)
    if decimal != ".":
        out = out.str.replace(".", decimal, regex=False)
    return out.to_numpy(dtype=object)


def bad_dates(rng: np.random.Generator, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Birth dates no parser should accept. Returns (text, kind)."""
    n = len(years)
    kinds = np.array(["impossible", "dash", "question", "empty", "zeros"])
    kind = kinds[rng.choice(len(kinds), n, p=[0.45, 0.2, 0.1, 0.15, 0.1])]
    impossible = np.array(["31-02-", "30-02-", "32-01-", "15-13-", "00-06-"])[rng.integers(0, 5, n)]
    yr = pd.Series(years).astype(str).to_numpy(dtype=object)
    text = np.select(
        [kind == "impossible", kind == "dash", kind == "question", kind == "empty"],
        [impossible.astype(object) + yr, "-", "??", ""],
        default="00-00-0000",
    ).astype(object)
    return text, kind
