"""Who pays a member's contributions, from a BPJS TK extract's payer columns.

A member's paying village is the payer village code when it is an official code; else the
payer's name ("PEMERINTAH DESA SUKA MAJU", "PEMDES Suka Maju", "Pekon Way Mengaku") resolved to an
official village of the branch's regencies with the resolver submissions use. Each member gets a
``payer_kind``:

- ``village``: a village pays (``payer_village_code`` says which);
- ``self``: the member pays (MANDIRI, PRIBADI...);
- ``other``: an employer, a regency or province budget, a fund or a company (PT, CV, PEMKAB,
  APBD, BAZNAS, CSR...);
- ``unknown``: none of these can be told (empty, or a village name that resolves to no village,
  or to several). Identity never calls such a BPU member double funding: it sends the proposal
  to review instead.
"""

from __future__ import annotations

import pandas as pd

from rentan.standardise.villages import VillageResolver, _code_form

_VILLAGE = (r"^(?:PEMERINTAH\s+(?:DESA|PEKON|KAMPUNG|NAGARI|GAMPONG)|PEM\.?\s*DESA|PEMDES|PEMKON|KAS\s+DESA|"
            r"APBDES|APBDESA|ADD|DANA\s+DESA|DESA|DS|PEKON|KAMPUNG|NAGARI|GAMPONG)\b\.?\s*")
_SELF = r"^(?:MANDIRI|PRIBADI|SENDIRI|PERORANGAN|PESERTA|BAYAR\s+SENDIRI|DIRI\s+SENDIRI|INDIVIDU)$"
_ORGANISATION = (r"\b(?:PT|CV|UD|PD|FIRMA|PEMERINTAH|PEMKAB|PEMKOT|PEMPROV|KABUPATEN|KOTA|PROVINSI|DINAS|"
                 r"BADAN|BAZNAS|CSR|YAYASAN|KOPERASI|BANK|APBD|APBN|BUMN|BUMD|BUMDES|PERUSAHAAN|TBK|PERSERO|"
                 r"KEMENTERIAN|SEKOLAH|PUSKESMAS|RSUD|PTPN|PLN|PERTAMINA|PERUM|PERKEBUNAN|PABRIK)\b")


def _resolve_names(names: pd.Series, resolvers: list[VillageResolver]) -> pd.Series:
    """Village code of each name where exactly one of the regencies resolves it, else NA."""
    found = pd.DataFrame(index=names.index)
    for i, r in enumerate(resolvers):
        got = r.resolve(names)
        found[i] = got["village_code"].where(got["village_match"].isin(["code", "exact", "fuzzy"]))
    hits = found.notna().sum(axis=1)
    return found.bfill(axis=1).iloc[:, 0].where(hits == 1).astype("string") if len(resolvers) else \
        pd.Series(pd.NA, index=names.index, dtype="string")


def payers(payer: pd.Series, payer_code: pd.Series, resolvers: list[VillageResolver]) -> pd.DataFrame:
    """``payer_kind`` and ``payer_village_code`` of each member row (vectorised over distinct payers)."""
    idx = payer.index
    code = _code_form(payer_code)
    text = payer.astype("string").str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    text = text.where(text != "")
    pairs = pd.DataFrame({"t": text.fillna(""), "c": code.fillna("")})
    distinct = pairs.drop_duplicates().reset_index(drop=True)
    t = distinct["t"].astype("string")
    c = distinct["c"].astype("string").replace("", pd.NA)

    kind = pd.Series("unknown", index=distinct.index, dtype="string")
    village = pd.Series(pd.NA, index=distinct.index, dtype="string")
    has_code = c.notna()
    village[has_code] = c[has_code]
    kind[has_code] = "village"

    named = ~has_code & t.str.contains(_VILLAGE, regex=True).fillna(False)
    if named.any():
        resolved = _resolve_names(t[named].str.replace(_VILLAGE, "", regex=True), resolvers)
        village[named] = resolved
        kind[named & village.notna()] = "village"
    rest = ~has_code & ~named & t.ne("")
    kind[rest & t.str.fullmatch(_SELF).fillna(False)] = "self"
    kind[rest & (kind == "unknown") & t.str.contains(_ORGANISATION, regex=True).fillna(False)] = "other"
    plain = rest & (kind == "unknown")
    if plain.any():  # a bare village name
        resolved = _resolve_names(t[plain], resolvers)
        village[plain] = resolved
        kind[plain & village.notna()] = "village"

    out = pairs.merge(distinct.assign(payer_kind=kind, payer_village_code=village), on=["t", "c"], how="left")
    out.index = idx
    return out[["payer_kind", "payer_village_code"]].astype("string")
