"""Which configured regency a regency-filed file (a village's list, a budget) belongs to, told
from its own cells before it is loaded: the regency digits of its NIKs, its village codes, and its
village names in the official reference. A file whose rows clearly belong to another configured
regency than the folder it lies in is misfiled: it is recorded as such, not loaded, so the copy
in the right folder (or the file, once moved) loads there instead. Whatever the order tasks run in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from rentan.config import Config
from rentan.config.headers import column_of
from rentan.ingest.readers import Table

# a file is misfiled when at least this share of its rows points to one other configured
# regency, at most MAX_HOME_SHARE to its own folder's, and at least MIN_ROWS rows say anything
OTHER_SHARE = 0.6
MAX_HOME_SHARE = 0.2
MIN_ROWS = 3


@dataclass(frozen=True)
class Misfiled:
    regency: str      # the slug the rows belong to
    rows: int         # rows pointing there
    of_rows: int      # rows with any evidence


@lru_cache(maxsize=4)
def _village_keys(codes: tuple[str, ...]) -> dict[str, frozenset[str]]:
    from rentan.reference import place_key, villages

    v = villages(list(codes))
    v = v.assign(key=place_key(v["name"]))
    return {code: frozenset(g["key"]) for code, g in v.groupby("regency_code")}


@lru_cache(maxsize=4)
def _name_columns(order: tuple[str, ...]) -> pd.DataFrame:
    """Every village name (as a place key) of the regencies ``order`` lists, with the position of
    its regency in that list."""
    names = _village_keys(tuple(sorted(order)))
    return pd.DataFrame([(k, j) for j, code in enumerate(order) for k in names.get(code, ())], columns=["key", "j"])


def _long(tables: list[Table], source: str, field: str) -> tuple[np.ndarray, pd.Series] | None:
    """The ``field`` column of every table that has one, end to end: (table index of each value,
    values as text). None when no table has the column."""
    if field not in _fields(source):
        return None
    which, values = [], []
    for t, table in enumerate(tables):
        j = column_of(table.header, source, field)
        if j is not None:
            which.append(np.full(table.n_rows, t, dtype=np.int64))
            values.extend(table.columns[j])
    if not which:
        return None
    return np.concatenate(which), pd.Series(values, dtype="string")


def misfiled(table: Table, source: str, area: str, config: Config) -> Misfiled | None:
    """The regency the file's rows belong to, if that is clearly not its folder's ``area``."""
    return misfiled_many([table], source, area, config)[0]


def misfiled_many(tables: list[Table], source: str, area: str, config: Config) -> list[Misfiled | None]:
    """:func:`misfiled` of many files of one folder at once: one pass of each text rule over all
    their rows, since the rules' cost is per call, and a regency has hundreds of one-page files."""
    if (config.sources.get(source) != "regency" or area not in config.regencies or len(config.regencies) < 2
            or not tables):
        return [None] * len(tables)
    from rentan.reference import place_key

    codes = {r.code: slug for slug, r in config.regencies.items()}
    order = list(codes)
    sizes = np.array([t.n_rows for t in tables], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    row_of_table = [np.arange(n, dtype=np.int64) for n in sizes]
    votes = np.zeros((int(sizes.sum()), len(codes)), dtype=bool)

    column_of_code = {code: j for j, code in enumerate(order)}

    def vote(found, regency_of) -> None:
        """Each value's row votes for the regencies ``regency_of`` names: (value index, regency
        column) pairs, found for all values at once, never one regency at a time."""
        if found is None:
            return
        which, values = found
        # the row each value sits on, across all tables
        at = starts[which] + np.concatenate([row_of_table[t] for t in np.unique(which)])
        pos, j = regency_of(values)
        votes[at[pos], j] = True

    def by_prefix(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        digits = values.str.replace(r"\D", "", regex=True).str[:4]
        j = (digits.str[:2] + "." + digits.str[2:4]).map(column_of_code)
        ok = j.notna().to_numpy()
        return np.flatnonzero(ok), j[ok].to_numpy(dtype=np.int64)

    name_to = _name_columns(tuple(order))

    def by_name(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        keyed = pd.DataFrame({"key": place_key(values).to_numpy(dtype=object), "pos": np.arange(len(values))})
        hits = keyed.dropna(subset=["key"]).merge(name_to, on="key")
        return hits["pos"].to_numpy(dtype=np.int64), hits["j"].to_numpy(dtype=np.int64)

    vote(_long(tables, source, "nik"), by_prefix)
    vote(_long(tables, source, "kode_desa"), by_prefix)
    for field in ("desa", "nama_desa"):
        vote(_long(tables, source, field), by_name)
    return _verdicts(votes, sizes, order, codes, order.index(config.regencies[area].code))


def _verdicts(votes: np.ndarray, sizes: np.ndarray, order: list[str], codes: dict[str, str],
              home: int) -> list[Misfiled | None]:
    """Per file, from its rows' votes: misfiled when enough of the rows that name a regency name
    another one, and few name the folder's own."""
    n_tables = len(sizes)
    table_of_row = np.repeat(np.arange(n_tables), sizes)
    said = votes.any(axis=1)
    n_said = np.bincount(table_of_row[said], minlength=n_tables)
    per_table = np.zeros((n_tables, len(order)), dtype=np.int64)
    np.add.at(per_table, table_of_row[said], votes[said].astype(np.int64))
    out: list[Misfiled | None] = []
    for t in range(n_tables):
        if n_said[t] < MIN_ROWS:
            out.append(None)
            continue
        share = per_table[t] / n_said[t]
        best = int(np.argmax(np.where(np.arange(len(order)) == home, -1, share)))
        wrong = share[best] >= OTHER_SHARE and share[home] <= MAX_HOME_SHARE
        out.append(Misfiled(codes[order[best]], int(per_table[t, best]), int(n_said[t])) if wrong else None)
    return out


def _fields(source: str) -> list[str]:
    from rentan.config.headers import fields_of

    return fields_of(source)
