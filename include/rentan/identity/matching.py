"""Fuzzy matching of records whose NIKs differ: a mistyped NIK is still the same person.

No all-pairs comparison: candidate pairs come from blocks of records sharing a birth date and
either the first name token or the NIK's region code, and big blocks (placeholder birth dates
with common names) are cut; the blocking is a DuckDB self-join (``rentan.identity``). Pairs are scored with rapidfuzz over whole arrays at once
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


def score_and_decide(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each candidate pair (name_i, name_j, nik_i, nik_j) with name and NIK scores and a decision:
    link, review or none."""
    if pairs.empty:
        return pairs.assign(name_score=pd.Series(dtype=float), nik_distance=pd.Series(dtype=int),
                            decision=pd.Series(dtype=str))
    name = process.cpdist(pairs["name_i"].to_numpy(object), pairs["name_j"].to_numpy(object),
                          scorer=fuzz.token_sort_ratio, workers=-1)
    nik = process.cpdist(pairs["nik_i"].to_numpy(object), pairs["nik_j"].to_numpy(object),
                         scorer=OSA.distance, workers=-1)
    link = (name >= LINK_NAME) & (nik <= LINK_NIK)
    review = ~link & (((name >= REVIEW_NAME_CLOSE_NIK) & (nik <= LINK_NIK))
                      | ((name >= REVIEW_NAME_FAR_NIK) & (nik <= REVIEW_FAR_NIK)))
    decision = np.where(link, "link", np.where(review, "review", "none"))
    return pairs.assign(name_score=np.round(name, 1), nik_distance=nik.astype(int), decision=decision)
