"""Fuzzy matching of records whose NIKs differ: a mistyped NIK is still the same person.

No all-pairs comparison: candidate pairs come from blocks of records sharing a birth date and
either the first name token or the NIK's region code, and big blocks (placeholder birth dates
with common names) are cut. Pairs are scored with rapidfuzz over whole arrays at once
(``process.cpdist``): the names' token-sort ratio, and the NIKs' optimal string alignment
distance, in which one swapped pair of digits counts 1.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

MAX_BLOCK = 200
# a pair is the same person when names agree and the NIKs differ by a typo or two
LINK_NAME, LINK_NIK = 90, 2
# ambiguous: a typo-close NIK with a looser name, or the very same name with a NIK further off
REVIEW_NAME_CLOSE_NIK, REVIEW_NAME_FAR_NIK, REVIEW_FAR_NIK = 80, 97, 4


def pair_id(a: pd.Series, b: pd.Series) -> pd.Series:
    """A stable id for an unordered pair of record ids."""
    lo, hi = a.where(a < b, b), b.where(a < b, a)
    return (lo + "|" + hi).map(lambda s: hashlib.sha256(s.encode()).hexdigest()[:16]).astype("string")


def candidate_pairs(records: pd.DataFrame) -> pd.DataFrame:
    """Pairs (i, j) of positions in ``records`` (needs nik, name_norm, birth_date) to compare."""
    r = records.reset_index(drop=True)
    first = r["name_norm"].str.split(" ").str[0]
    blocks = []
    for key in (first, r["nik"].str[:6]):
        b = pd.DataFrame({"pos": np.arange(len(r)), "bd": r["birth_date"], "k": key}).dropna()
        size = b.groupby(["bd", "k"])["pos"].transform("size")
        b = b[(size > 1) & (size <= MAX_BLOCK)]
        m = b.merge(b, on=["bd", "k"], suffixes=("_i", "_j"))
        blocks.append(m.loc[m["pos_i"] < m["pos_j"], ["pos_i", "pos_j"]])
    pairs = pd.concat(blocks, ignore_index=True).drop_duplicates()
    ni, nj = r["nik"].to_numpy()[pairs["pos_i"]], r["nik"].to_numpy()[pairs["pos_j"]]
    return pairs[ni != nj].reset_index(drop=True)


def score_and_decide(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Each pair with name and NIK scores and a decision: link, review or none."""
    r = records.reset_index(drop=True)
    if pairs.empty:
        return pairs.assign(name_score=[], nik_distance=[], decision=[])
    ni = r["name_norm"].to_numpy(dtype=object)[pairs["pos_i"]]
    nj = r["name_norm"].to_numpy(dtype=object)[pairs["pos_j"]]
    ki = r["nik"].to_numpy(dtype=object)[pairs["pos_i"]]
    kj = r["nik"].to_numpy(dtype=object)[pairs["pos_j"]]
    name = process.cpdist(ni, nj, scorer=fuzz.token_sort_ratio, workers=-1)
    nik = process.cpdist(ki, kj, scorer=OSA.distance, workers=-1)
    link = (name >= LINK_NAME) & (nik <= LINK_NIK)
    review = ~link & (((name >= REVIEW_NAME_CLOSE_NIK) & (nik <= LINK_NIK))
                      | ((name >= REVIEW_NAME_FAR_NIK) & (nik <= REVIEW_FAR_NIK)))
    decision = np.where(link, "link", np.where(review, "review", "none"))
    return pairs.assign(name_score=np.round(name, 1), nik_distance=nik.astype(int), decision=decision)
