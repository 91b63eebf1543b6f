"""Village names as typed, to official village codes, within one regency.

Exact matches (on a spelling-insensitive key, with the district to tell apart villages of the
same name) go first; the few distinct names left are matched with rapidfuzz, nearer within the
named district. Work is done per distinct (village, district) pair, never per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from rentan.reference import place_key
from rentan.reference import villages as reference_villages

SUGGESTIONS = 3


def _code_form(s: pd.Series) -> pd.Series:
    """'16.04.01.2001' or '1604012001' -> '16.04.01.2001'; NA otherwise."""
    digits = s.astype("string").str.strip().str.replace(r"[\.\s]", "", regex=True)
    ok = digits.str.fullmatch(r"\d{10}").fillna(False)
    code = digits.str[:2] + "." + digits.str[2:4] + "." + digits.str[4:6] + "." + digits.str[6:10]
    return code.where(ok)


class VillageResolver:
    def __init__(self, regency_code: str, cutoffs: tuple[int, int] = (75, 85)):
        """``cutoffs``: how close a typed name must be within its district, and in the regency
        (the programme's ``village_names`` in the configuration)."""
        self.cutoff_in_district, self.cutoff_in_regency = cutoffs
        ref = reference_villages([regency_code])
        self.ref = ref.assign(vkey=place_key(ref["name"]), dkey=place_key(ref["district_name"]))
        self.codes = set(ref["code"])
        self._by_key = self.ref.groupby("vkey")["code"].agg(list).to_dict()
        self._by_key_district = self.ref.set_index(["vkey", "dkey"])["code"].to_dict()
        self._district_keys = sorted(set(self.ref["dkey"]))

    def _one(self, vkey: str, dkey: str | None) -> tuple[str | None, str, list[str]]:
        """(code, how, suggestions) for one distinct pair."""
        if not vkey:
            return None, "missing", []
        if dkey and (vkey, dkey) in self._by_key_district:
            return self._by_key_district[(vkey, dkey)], "exact", []
        district = dkey
        if dkey and dkey not in self._district_keys:
            hit = process.extractOne(dkey, self._district_keys, scorer=fuzz.ratio, score_cutoff=80)
            district = hit[0] if hit else None
        exact = self._by_key.get(vkey, [])
        if len(exact) == 1:
            return exact[0], "exact", []
        if len(exact) > 1:
            if district and (vkey, district) in self._by_key_district:
                return self._by_key_district[(vkey, district)], "exact", []
            # the same name in several districts and no usable district: the caller may know
            # the file's village; the candidates' codes travel as the suggestions
            return None, "ambiguous", exact
        if district:
            local = self.ref[self.ref["dkey"] == district]
            hit = process.extractOne(vkey, local["vkey"].tolist(), scorer=fuzz.ratio,
                                     score_cutoff=self.cutoff_in_district)
            if hit:
                return local["code"].iloc[hit[2]], "fuzzy", []
        hits = process.extract(vkey, self.ref["vkey"].tolist(), scorer=fuzz.ratio, limit=SUGGESTIONS)
        if hits and hits[0][1] >= self.cutoff_in_regency and (len(hits) < 2 or hits[1][1] < hits[0][1]):
            return self.ref["code"].iloc[hits[0][2]], "fuzzy", []
        return None, "unknown", [self.ref["name"].iloc[h[2]] for h in hits]

    def resolve(self, village: pd.Series, district: pd.Series | None = None) -> pd.DataFrame:
        """``village_code`` (NA when unresolved), ``village_match`` (code, exact, fuzzy, unknown,
        ambiguous, missing) and ``village_suggestions``: the nearest official names for unknown
        ones, the candidate codes for ambiguous ones (``describe`` turns codes into names)."""
        idx = village.index
        district = district if district is not None else pd.Series(pd.NA, index=idx, dtype="string")
        code = _code_form(village)
        known_code = code.isin(self.codes).fillna(False)
        pairs = pd.DataFrame({"v": place_key(village).fillna(""), "d": place_key(district).fillna("")})
        distinct = pairs[~known_code.to_numpy()].drop_duplicates()
        found = [(v, d, *self._one(v, d or None)) for v, d in distinct.itertuples(index=False)]
        cols = ["v", "d", "village_code", "village_match", "village_suggestions"]
        out = pairs.merge(pd.DataFrame(found, columns=cols), on=["v", "d"], how="left")
        out.index = idx
        out.loc[known_code.to_numpy(), "village_code"] = code[known_code]
        out.loc[known_code.to_numpy(), "village_match"] = "code"
        out = out[cols[2:]]
        out["village_code"] = out["village_code"].astype("string")
        out["village_suggestions"] = out["village_suggestions"].map(
            lambda s: "; ".join(s) if isinstance(s, list) and s else None).astype("string")
        return out

    def near_own(self, typed: pd.Series, own: pd.Series) -> pd.Series:
        """Whether each typed name is within the fuzzy cut-off of the village ``own`` names (a code)."""
        name_key = self.ref.set_index("code")["vkey"]
        a = place_key(typed).fillna("").to_numpy(dtype=object)
        b = own.map(name_key).fillna("").to_numpy(dtype=object)
        if not len(a):
            return pd.Series([], index=typed.index, dtype=bool)
        scores = process.cpdist(list(a), list(b), scorer=fuzz.ratio)
        return pd.Series(np.asarray(scores) >= self.cutoff_in_district, index=typed.index, dtype=bool)

    def describe(self, codes: list[str]) -> str:
        """'Tanjung Alam (Kec. Jarai); Tanjung Alam (Kec. Gumay Ulu)' for a list of codes."""
        ref = self.ref.set_index("code")
        return "; ".join(f"{ref.at[c, 'name']} (Kec. {ref.at[c, 'district_name']})" for c in codes if c in ref.index)
