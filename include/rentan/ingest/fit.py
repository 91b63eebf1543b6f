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


def _column(table: Table, source: str, field: str) -> pd.Series | None:
    if field not in _fields(source):
        return None
    j = column_of(table.header, source, field)
    return None if j is None else pd.Series(table.columns[j], dtype="string")


def misfiled(table: Table, source: str, area: str, config: Config) -> Misfiled | None:
    """The regency the file's rows belong to, if that is clearly not its folder's ``area``."""
    if config.sources.get(source) != "regency" or area not in config.regencies or len(config.regencies) < 2:
        return None
    from rentan.reference import place_key

    codes = {r.code: slug for slug, r in config.regencies.items()}
    n = table.n_rows
    votes = np.zeros((n, len(codes)), dtype=bool)
    order = list(codes)
    nik = _column(table, source, "nik")
    if nik is not None:
        digits = nik.str.replace(r"\D", "", regex=True).str[:4]
        prefix = digits.str[:2] + "." + digits.str[2:4]
        for j, code in enumerate(order):
            votes[:, j] |= prefix.eq(code).fillna(False).to_numpy(bool)
    for field in ("kode_desa",):
        col = _column(table, source, field)
        if col is not None:
            digits = col.str.replace(r"\D", "", regex=True)
            prefix = digits.str[:2] + "." + digits.str[2:4]
            for j, code in enumerate(order):
                votes[:, j] |= prefix.eq(code).fillna(False).to_numpy(bool)
    keys = _village_keys(tuple(sorted(codes)))
    for field in ("desa", "nama_desa"):
        col = _column(table, source, field)
        if col is None:
            continue
        k = place_key(col)
        for j, code in enumerate(order):
            votes[:, j] |= k.isin(keys.get(code, frozenset())).fillna(False).to_numpy(bool)
    said = votes.any(axis=1)
    if said.sum() < MIN_ROWS:
        return None
    share = votes[said].mean(axis=0)
    home = order.index(config.regencies[area].code)
    best = int(np.argmax(np.where(np.arange(len(order)) == home, -1, share)))
    if share[best] >= OTHER_SHARE and share[home] <= MAX_HOME_SHARE:
        return Misfiled(codes[order[best]], int(votes[said, best].sum()), int(said.sum()))
    return None


def _fields(source: str) -> list[str]:
    from rentan.config.headers import fields_of

    return fields_of(source)
