"""Names and sex, vectorised. A name keeps its original for display; the normalised form only
serves matching, so it may drop what people write inconsistently (titles, degrees, bin/binti
clauses, spelling eras, doubled letters)."""

from __future__ import annotations

import pandas as pd

# Titles written before a name: hajj, academic and religious; and Javanese nobility abbreviated (R.,
# R.A., R.M., RA., RM., RR.), only with its dot: a bare R may be an initial, and Raden a given name
_PREFIX_TITLES = (r"^(?:(?:H|HJ|HAJI|HAJJAH|HJH|DRS|DRA|DR|DRG|IR|PROF|KH|K\.H|USTADZ|UST|TGK|TUAN)\.?\s+"
                  r"|R\.\s?(?:[AM]\.\s?)?|R[AMR]\.\s?)+")
# Degrees written after a name, with or without a comma: S.Pd., S.E, A.Md., M.Pd.I ...
_DEGREE = (
    r"(?:,\s*|\s+)(?:S|M|A|D[1-4])\.?\s?(?:PD\.?I|PD|E|H|HI|KOM|AG|IP|T|SOS|KM|KEP|MD|FARM|P|PSI|SI|AN|KED|HUT|IK|STP|TR|KES|SN|IKOM|GZ)\.?"
    r"(?=\s|,|$)"
)
# bin/binti and what follows name the father: present in one list, absent in the next
_PATRONYM = r"\s+(?:BIN|BINTI|BT|BN|BINTY)\.?\s+.*$"
_MUHAMMAD = (r"^(?:MUHAMMAD|MUHAMAD|MUHAMMED|MUHAMED|MOHAMMAD|MOHAMAD|MOHAMMED|MOCHAMMAD|MOCHAMAD|MUCHAMMAD|MUCHAMAD"
             r"|MOH|MUH|MHD|MOCH|MUCH|MD|M)\.?\s+")
# Old (pre-1972) spellings still carried in older documents
_OLD_SPELLINGS = [("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("NJ", "NY"), ("SJ", "SY"), ("CH", "KH")]


def normalise_name(raw: pd.Series) -> pd.Series:
    """Upper-case ASCII letters and single spaces, titles, degrees and bin/binti clauses removed,
    Muhammad in one spelling, old spellings modernised, doubled letters single."""
    s = raw.astype("string").str.normalize("NFKD").str.encode("ascii", errors="ignore").str.decode("ascii")
    s = s.astype("string").str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    s = s.str.replace(_PREFIX_TITLES, "", regex=True)
    s = s.str.replace(_DEGREE, "", regex=True)
    s = s.str.replace(r"[^A-Z\s]", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    s = s.str.replace(_PATRONYM, "", regex=True)
    s = s.str.replace(_MUHAMMAD, "MUHAMMAD ", regex=True)
    for old, new in _OLD_SPELLINGS:
        s = s.str.replace(old, new, regex=False)
    s = s.str.replace(r"([A-Z])\1+", r"\1", regex=True)
    return s.where(s.str.len() > 0)


SEX_UNKNOWN = "sex_unknown"
_SEX = {
    "L": "L", "LK": "L", "LAKI": "L", "LAKILAKI": "L", "LAKI2": "L", "PRIA": "L", "M": "L", "MALE": "L", "1": "L",
    "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "W": "P", "F": "P", "FEMALE": "P", "2": "P",
}


def parse_sex(raw: pd.Series) -> pd.Series:
    """'L' or 'P' from the many ways a village writes it; NA when it says neither."""
    key = raw.astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    return key.map(_SEX).astype("string")
