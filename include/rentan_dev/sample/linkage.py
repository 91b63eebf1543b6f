"""A hard record-linkage benchmark: persons with several records, the noise village lists really
carry, and look-alikes who are not the same person, written as silver with its ledger and ground truth.

``generate(root, proposals=..., members=...)`` draws persons over the villages of some provinces
(all of Indonesia by default), gives each one proposal or more and some a BPJS TK membership, types
every proposal as a village operator might (``NOISE``: each kind at its stated share of proposals,
drawn independently, plus two stated combinations), adds look-alikes (``LOOKALIKES``: namesakes
born the same day in the same district, twins, siblings one NIK digit apart), and writes:

- ``warehouse/silver/submissions/area=<regency>/<file>.parquet``, one file per village list, and
  ``warehouse/silver/membership/area=<regency>/...``, in the columns standardise writes;
- the ingestion ledger (every file loaded, received before the snapshot), so identity reads them as
  it reads a night's real files;
- ``truth/linkage/records.parquet`` (each record's person and its noise kinds) and
  ``truth/linkage/lookalikes.parquet`` (pairs of records of different persons that look alike).

Names are normalised by the standardise stage's own ``normalise_name`` and NIKs decoded by its own
``standardise_nik``: a mistyped NIK that standardise would quarantine (an unknown region, a
birth date no calendar has) is drawn again, so silver holds only NIKs that pass its checks. The same
seed and sizes give the same records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rentan.reference import regencies as reference_regencies
from rentan.reference import villages as reference_villages
from rentan.standardise.names import normalise_name
from rentan.standardise.nik import standardise_nik
from rentan_dev.sample.people import (
    apply_placeholders,
    assign_niks,
    date_parts,
    draw_birth_days,
    draw_names,
    from_parts,
    name_pools,
)

DEFAULT_SEED = 17
SNAPSHOT = dt.date(2025, 6, 30)
RECEIVED = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.UTC)

# Share of proposals carrying each kind of noise, drawn independently (a record may carry several).
# Kinds that need something to act on (a Muhammad to abbreviate, a second token to drop, a day and
# month that can be swapped, a letter with an old spelling) are drawn among the records that have it.
NOISE: dict[str, float] = {
    "nik_substitution": 0.05,       # one digit typed wrong
    "nik_transposition": 0.03,      # two adjacent digits swapped
    "name_typo": 0.05,              # a letter substituted, dropped, doubled or swapped
    "title": 0.04,                  # H., Hj., Drs., Ir., R., R.A., R.M., K.H. before the name
    "degree": 0.03,                 # S.Pd., S.E., S.H., A.Md. ... after it
    "bin_binti": 0.03,              # bin/binti and the father's name
    "muhammad_variant": 0.5,        # Moh., Muh., M., Muhamad, Mochammad ... (of names with Muhammad)
    "old_spelling": 0.03,           # oe for u, dj for j, tj for c, j for y, nj, sj, ch
    "name_token_dropped": 0.04,     # one of two or more names left out
    "name_token_added": 0.03,       # a second given name or a family name written too
    "birth_placeholder": 0.04,      # 1 July, 31 December or the 15th instead of the real date
    "birth_day_month_swap": 0.05,   # 05-08 for 08-05 (of dates whose day is 12 or less)
    "nik_of_another": 0.05,         # a slip that lands on the NIK of the next person born that day
                                    # there (of those who have one)
}
# Stated combinations, on top of the independent draws: a mistyped NIK together with a birth date
# that differs from it, or with a name token dropped or added.
COMBINED: dict[str, float] = {"nik_and_birth_date": 0.02, "nik_and_name_token": 0.02}
_BIT = {k: 1 << i for i, k in enumerate([*NOISE, *COMBINED])}
# BPJS verifies NIKs with the civil registry: members carry formatting noise only, at this share per kind
MEMBER_FORMAT_SHARE = 0.02
MEMBER_FORMAT_KINDS = ("title", "degree", "bin_binti", "muhammad_variant", "old_spelling")

# Look-alikes: a share of persons gets another person who is not them but looks like them
LOOKALIKES: dict[str, float] = {
    "namesake": 0.004,   # same name, born the same day, same district: the NIK's next serial
    "twin": 0.003,       # born the same day, same district, a name a vowel (or a given name) apart
    "sibling": 0.003,    # same district and family name, birth date one NIK digit apart
}
# proposals per proposed person (1, 2 or 3) and the share of proposed persons who are members
PROPOSALS_PER_PERSON = (0.94, 0.05, 0.01)
MEMBER_SHARE_OF_PROPOSED = 0.2
# where a second proposal comes from: the same village, another village of the district, of the regency, elsewhere
DUPLICATE_FROM = (0.2, 0.35, 0.3, 0.15)
ROWS_PER_FILE = 150

_TITLES_MALE = np.array(["H.", "H", "DRS.", "IR.", "R.", "R.M.", "K.H.", "DR.", "HAJI"], dtype=object)
_TITLES_FEMALE = np.array(["HJ.", "HJ", "DRA.", "R.A.", "R.", "RA.", "DR.", "HJH."], dtype=object)
_DEGREES = np.array([", S.PD", " S.PD.", ", S.E.", " SE", ", S.H.", ", A.MD.", ", S.KOM", ", S.SOS", ", S.AG",
                     ", M.PD", ", S.PD.I", ", S.IP", ", S.T."], dtype=object)
_MUHAMMAD = np.array(["MOH.", "MUH.", "M.", "MUHAMAD", "MOHAMMAD", "MOCH.", "MHD.", "MOCHAMAD", "MUCHAMMAD"],
                     dtype=object)
_OLD = (("U", "OE"), ("J", "DJ"), ("C", "TJ"), ("Y", "J"), ("NY", "NJ"), ("SY", "SJ"), ("KH", "CH"))
_VOWELS = "AIUEO"
_LETTERS = "ABCDEFGHIJKLMNOPRSTUWY"

# standardise writes its lists as Parquet's standard three-level LIST, whose item field is "element"
WARNINGS = pa.list_(pa.field("element", pa.string()))
SUB_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("source_file", pa.string()), ("sheet", pa.string()), ("row_number", pa.int32()),
    ("file_sha256", pa.string()), ("regency_code", pa.string()), ("nik", pa.string()),
    ("nik_birth_date", pa.date32()), ("nik_sex", pa.string()), ("nik_regency", pa.string()), ("name", pa.string()),
    ("name_norm", pa.string()), ("birth_place", pa.string()), ("birth_date", pa.date32()), ("birth_year", pa.int64()),
    ("sex", pa.string()), ("sex_given", pa.string()), ("occupation", pa.string()), ("address", pa.string()),
    ("rt_rw", pa.string()), ("phone", pa.string()), ("village_given", pa.string()), ("district_given", pa.string()),
    ("village_code", pa.string()), ("village_match", pa.string()), ("district_code", pa.string()),
    ("funding_source", pa.string()), ("year", pa.int64()), ("warnings", WARNINGS),
])
MEM_SCHEMA = pa.schema([
    ("load_id", pa.string()), ("source_file", pa.string()), ("sheet", pa.string()), ("row_number", pa.int32()),
    ("file_sha256", pa.string()), ("kpj", pa.string()), ("nik", pa.string()), ("name", pa.string()),
    ("name_norm", pa.string()), ("birth_date", pa.date32()), ("segment", pa.string()), ("programmes", pa.string()),
    ("registered_on", pa.date32()), ("registered_year", pa.int64()), ("status", pa.string()), ("last_paid_month", pa.date32()), ("payer", pa.string()),
    ("payer_kind", pa.string()), ("payer_village_code", pa.string()), ("warnings", WARNINGS),
])


# ---- persons ----

def _persons(rng: np.random.Generator, desa: pd.DataFrame, n_base: int):
    pools = name_pools(int(rng.integers(0, 2**31)))
    home = rng.integers(0, len(desa), n_base)
    male = rng.random(n_base) < 0.6
    birth = draw_birth_days(rng, np.zeros(n_base, dtype=bool), SNAPSHOT)
    birth, _ = apply_placeholders(rng, birth, np.zeros(n_base, dtype=bool), SNAPSHOT)
    district = desa["district_code"].to_numpy(dtype=object)[home]
    region = district.copy()
    moved = np.flatnonzero(rng.random(n_base) < 0.03)  # NIK issued in another district
    region[moved] = district[rng.permutation(moved)]
    return pd.DataFrame({
        "male": male, "birth": birth, "name": draw_names(rng, pools, male), "home": home,
        "region": region, "lookalike_of": -1, "lookalike": "",
    }), pools


def _one_vowel_apart(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    out = []
    for name, r in zip(names, rng.random((len(names), 2))):
        tokens = name.split(" ")
        t = tokens[-1] if tokens[0] in ("MUHAMMAD", "SITI") and len(tokens) > 1 else tokens[0]
        spots = [i for i, ch in enumerate(t) if ch in _VOWELS]
        if not spots:
            out.append(name + "A")
            continue
        i = spots[int(r[0] * len(spots))]
        other = [v for v in _VOWELS if v != t[i]]
        new = t[:i] + other[int(r[1] * len(other))] + t[i + 1:]
        out.append(name.replace(t, new, 1))
    return np.array(out, dtype=object)


def _one_nik_digit_apart(rng: np.random.Generator, birth: np.ndarray) -> np.ndarray:
    """Another birth date whose DDMMYY differs in one digit: the year's, the month's or the day's last."""
    y, m, d = date_parts(birth)
    step = rng.integers(1, 5, len(birth))
    which = rng.integers(0, 3, len(birth))
    y2 = np.where(which == 0, (y // 10) * 10 + (y % 10 + step) % 10, y)
    m2 = np.where(which == 1, np.where(m < 10, 1 + (m - 1 + step) % 9, 10 + (m - 10 + 1) % 3), m)
    d_units = (d // 10) * 10 + (d % 10 + step) % 10
    day_ok = (which == 2) & (d_units >= 1) & (d_units <= 28) & (d <= 28)
    d2 = np.where(day_ok, d_units, d)
    # a day that cannot change in its last digit alone: the year's changes instead
    y2 = np.where((which == 2) & ~day_ok, (y // 10) * 10 + (y % 10 + step) % 10, y2)
    return from_parts(y2, m2, d2)


def _lookalikes(rng: np.random.Generator, people: pd.DataFrame, pools, desa: pd.DataFrame) -> pd.DataFrame:
    """Persons who look like another: the kind, and whom they look like."""
    n = len(people)
    parts = []
    for kind, share in LOOKALIKES.items():
        base = rng.choice(n, round(n * share), replace=False)
        b = people.iloc[base]
        male = b["male"].to_numpy().copy()
        birth = b["birth"].to_numpy().copy()
        name = b["name"].to_numpy(dtype=object).copy()
        if kind == "twin":
            # half are a vowel apart (Hasan, Hasin), the others have another given name and keep the rest
            vowel = rng.random(len(b)) < 0.5
            male = np.where(~vowel & (rng.random(len(b)) < 0.4), ~male, male)
            first = pd.Series(draw_names(rng, pools, male)).str.partition(" ")[0].to_numpy(dtype=object)
            tail = pd.Series(name).str.partition(" ")[2].to_numpy(dtype=object)
            other = np.where(tail != "", first + " " + tail, first)
            name = np.where(vowel, _one_vowel_apart(rng, name), other)
        elif kind == "sibling":
            male = rng.random(len(b)) < 0.6
            birth = _one_nik_digit_apart(rng, birth)
            tail = pd.Series(b["name"].to_numpy(dtype=object)).str.rpartition(" ")[2].to_numpy(dtype=object)
            first = pd.Series(draw_names(rng, pools, male)).str.partition(" ")[0].to_numpy(dtype=object)
            name = np.where(tail != first, first + " " + tail, first)
        parts.append(pd.DataFrame({
            "male": male, "birth": birth, "name": name, "home": b["home"].to_numpy(),
            "region": b["region"].to_numpy(dtype=object), "lookalike_of": base, "lookalike": kind,
        }))
    extra = pd.concat(parts, ignore_index=True)
    # a look-alike lives in another village of the same district, as often as not
    district = desa["district_code"].to_numpy(dtype=object)
    codes = pd.Series(district)
    first_of = codes.groupby(codes).cumcount().to_numpy()
    size = codes.map(codes.value_counts()).to_numpy()
    h = extra["home"].to_numpy()
    shift = rng.integers(0, 1 + size[h])
    extra["home"] = h - first_of[h] + (first_of[h] + shift) % size[h]
    return extra


# ---- noise ----

def _typo(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    out = []
    for name, (a, b, c) in zip(names, rng.random((len(names), 3))):
        tokens = name.split(" ")
        first = 1 if tokens[0] == "MUHAMMAD" and len(tokens) > 1 else 0  # its forms are a kind of their own
        k = first + int(a * (len(tokens) - first))
        t = tokens[k]
        i = int(b * len(t))
        op = int(c * 4)
        if op == 0:      # substitution: a vowel for another, or a letter for a neighbour on the keyboard
            pool = _VOWELS if t[i] in _VOWELS else _LETTERS
            other = [x for x in pool if x != t[i]]
            t = t[:i] + other[int(c * 1000) % len(other)] + t[i + 1:]
        elif op == 1 and len(t) > 3:
            t = t[:i] + t[i + 1:]
        elif op == 2 and i + 1 < len(t) and t[i] != t[i + 1]:
            t = t[:i] + t[i + 1] + t[i] + t[i + 2:]
        else:            # a letter typed twice
            t = t[:i] + t[i] + t[i:]
        tokens[k] = t
        out.append(" ".join(tokens))
    return np.array(out, dtype=object)


def _old_spelling(rng: np.random.Generator, names: np.ndarray, keep_first: np.ndarray) -> np.ndarray:
    """One modern spelling written the old way; a leading Muhammad (in whatever form) is left alone."""
    out = []
    for name, keep, r in zip(names, keep_first, rng.random(len(names))):
        head, _, rest = name.partition(" ") if keep else ("", "", name)
        rules = [(new, old) for new, old in _OLD if new in rest]
        if rules:  # a name left without such a letter once a word was dropped stays as it is
            new, old = rules[int(r * len(rules))]
            rest = rest.replace(new, old, 1)
        out.append(f"{head} {rest}" if keep else rest)
    return np.array(out, dtype=object)


def _drop_token(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    out = []
    for name, r in zip(names, rng.random(len(names))):
        tokens = name.split(" ")
        first = 1 if tokens[0] == "MUHAMMAD" else 0   # a Muhammad keeps it
        k = len(tokens) - 1 if r < 0.6 else first + int(r * 10) % (len(tokens) - 1 - first)
        out.append(" ".join(tokens[:k] + tokens[k + 1:]))
    return np.array(out, dtype=object)


def _add_token(rng: np.random.Generator, names: np.ndarray, male: np.ndarray, pools) -> np.ndarray:
    given = np.where(male, pools.male[rng.integers(0, len(pools.male), len(names))],
                     pools.female[rng.integers(0, len(pools.female), len(names))]).astype(object)
    family = np.where(male, pools.surname_male[rng.integers(0, len(pools.surname_male), len(names))],
                      pools.surname_female[rng.integers(0, len(pools.surname_female), len(names))]).astype(object)
    at_end = rng.random(len(names)) < 0.7
    muhammad = pd.Series(names).str.startswith("MUHAMMAD ").to_numpy()
    # a second given name goes after Muhammad, not before it
    front = np.where(muhammad, "MUHAMMAD " + given + pd.Series(names).str.slice(len("MUHAMMAD")).to_numpy(dtype=object),
                     given + " " + names)
    return np.where(at_end, names + " " + family, front)


def _mistype_nik(rng: np.random.Generator, niks: np.ndarray, transpose: np.ndarray) -> np.ndarray:
    """One digit substituted (or two adjacent, different digits swapped where ``transpose``), drawn
    again until standardise would accept the result."""
    prefixes = set(reference_regencies()["code"])
    out = np.asarray(niks, dtype=object).copy()
    todo = np.arange(len(out))
    for _ in range(40):
        if not len(todo):
            break
        d = np.frombuffer("".join(niks[todo]).encode(), dtype=np.uint8).reshape(len(todo), 16).copy() - 48
        rows = np.arange(len(todo))
        pos = rng.integers(0, 16, len(todo))
        sub = ~transpose[todo]
        d[rows[sub], pos[sub]] = (d[rows[sub], pos[sub]] + rng.integers(1, 10, int(sub.sum()))) % 10
        tp = np.flatnonzero(~sub)
        p = np.minimum(pos[tp], 14)
        a, b = d[tp, p].copy(), d[tp, p + 1].copy()
        d[tp, p], d[tp, p + 1] = b, a
        cand = np.array([bytes(r).decode() for r in (d + 48).astype(np.uint8)], dtype=object)
        ok = (cand != niks[todo])
        check = standardise_nik(pd.Series(cand, dtype="string"), regency_prefixes=prefixes,
                                reference_year=SNAPSHOT.year)["nik"].notna().to_numpy()
        good = ok & check
        out[todo[good]] = cand[good]
        todo = todo[~good]
    return out


def _birth_noise(rng: np.random.Generator, birth: np.ndarray, swap: np.ndarray) -> np.ndarray:
    y, m, d = date_parts(birth)
    kind = rng.integers(0, 3, len(birth))
    placeholder = np.where(kind == 0, from_parts(y, 7, 1), np.where(kind == 1, from_parts(y, 12, 31),
                                                                      from_parts(y, m, 15)))
    # the placeholder that happens to be the real date is no noise: take another
    placeholder = np.where(placeholder == birth, from_parts(y, 12, 31), placeholder)
    placeholder = np.where(placeholder == birth, from_parts(y, 7, 1), placeholder)
    swapped = from_parts(y, np.minimum(d, 12), np.minimum(m, 28))
    return np.where(swap, swapped, placeholder)


def _noisy(rng: np.random.Generator, rec: pd.DataFrame, pools, member: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The record as typed, and its noise kinds (comma-separated)."""
    n = len(rec)
    name = rec["name"].to_numpy(dtype=object).copy()
    nik = rec["nik"].to_numpy(dtype=object).copy()
    birth = rec["birth"].to_numpy().copy()
    male = rec["male"].to_numpy()
    kinds = np.zeros(n, dtype=np.int64)   # a bit per kind of ALL_KINDS
    _y, m, d = date_parts(birth)
    muhammad = pd.Series(name).str.startswith("MUHAMMAD ").to_numpy()
    # a Muhammad keeps his Muhammad when a name is dropped: dropping it is a Muhammad variant of its own
    several = (pd.Series(name).str.count(" ") >= np.where(muhammad, 2, 1)).to_numpy()
    old_ok = pd.Series(name).str.replace("^MUHAMMAD ", "", regex=True).str.contains("U|J|C|Y|KH", regex=True).to_numpy()
    swap_ok = (d <= 12) & (d != m)
    mate = rec["mate_nik"].to_numpy(dtype=object)
    eligible = {"muhammad_variant": muhammad, "name_token_dropped": several, "old_spelling": old_ok,
                "birth_day_month_swap": swap_ok, "nik_of_another": mate != ""}
    rates = {k: (MEMBER_FORMAT_SHARE if k != "muhammad_variant" else NOISE[k]) for k in MEMBER_FORMAT_KINDS} \
        if member else dict(NOISE)
    draw = {k: (rng.random(n) < r) & eligible.get(k, True) for k, r in rates.items()}
    if not member:
        for combo, share in COMBINED.items():
            pick = rng.random(n) < share
            transpose = rng.random(n) < 0.4
            draw["nik_transposition"] |= pick & transpose
            draw["nik_substitution"] |= pick & ~transpose & ~draw["nik_transposition"]
            if combo == "nik_and_birth_date":
                sw = pick & swap_ok & (rng.random(n) < 0.4)
                draw["birth_day_month_swap"] |= sw
                draw["birth_placeholder"] |= pick & ~sw & ~draw["birth_day_month_swap"]
            else:
                drop = pick & several & (rng.random(n) < 0.5)
                draw["name_token_dropped"] |= drop
                draw["name_token_added"] |= pick & ~drop & ~draw["name_token_dropped"]
            kinds[pick] |= _BIT[combo]
        both = draw["nik_substitution"] & draw["nik_transposition"]
        draw["nik_substitution"] &= ~both
        draw["nik_of_another"] &= ~draw["nik_substitution"] & ~draw["nik_transposition"]
        both = draw["birth_placeholder"] & draw["birth_day_month_swap"]
        draw["birth_placeholder"] &= ~both
        both = draw["name_token_dropped"] & draw["name_token_added"]
        draw["name_token_added"] &= ~both

    # names: the words first, then how they are spelt (Muhammad last: its forms are what normalising
    # undoes at the start of a name), then what is written around them
    order = ("name_token_dropped", "name_token_added", "old_spelling", "name_typo", "muhammad_variant",
             "bin_binti", "degree", "title")
    for k in order:
        sel = np.flatnonzero(draw.get(k, np.zeros(n, dtype=bool)))
        if k == "muhammad_variant":  # of names that still start with it
            sel = sel[pd.Series(name[sel], dtype=object).str.startswith("MUHAMMAD ").to_numpy(bool)]
        if not len(sel):
            continue
        before = name[sel].copy()
        if k == "muhammad_variant":
            form = _MUHAMMAD[rng.integers(0, len(_MUHAMMAD), len(sel))]
            name[sel] = form + pd.Series(name[sel]).str.slice(len("MUHAMMAD")).to_numpy(dtype=object)
        elif k == "old_spelling":
            name[sel] = _old_spelling(rng, name[sel], muhammad[sel])
        elif k == "name_token_dropped":
            name[sel] = _drop_token(rng, name[sel])
        elif k == "name_token_added":
            name[sel] = _add_token(rng, name[sel], male[sel], pools)
        elif k == "name_typo":
            name[sel] = _typo(rng, name[sel])
        elif k == "bin_binti":
            father = pools.male[rng.integers(0, len(pools.male), len(sel))].astype(object)
            name[sel] = name[sel] + np.where(male[sel], " BIN ", " BINTI ") + father
        elif k == "degree":
            name[sel] = name[sel] + _DEGREES[rng.integers(0, len(_DEGREES), len(sel))]
        elif k == "title":
            title = np.where(male[sel], _TITLES_MALE[rng.integers(0, len(_TITLES_MALE), len(sel))],
                             _TITLES_FEMALE[rng.integers(0, len(_TITLES_FEMALE), len(sel))])
            name[sel] = title + " " + name[sel]
        kinds[sel[name[sel] != before]] |= _BIT[k]   # a kind is recorded where it changed what was typed
    if not member:
        for k in ("nik_substitution", "nik_transposition"):
            sel = np.flatnonzero(draw[k])
            nik[sel] = _mistype_nik(rng, nik[sel], np.full(len(sel), k == "nik_transposition"))
            kinds[sel] |= _BIT[k]
        sel = np.flatnonzero(draw["nik_of_another"])
        nik[sel] = mate[sel]
        kinds[sel] |= _BIT["nik_of_another"]
        for k in ("birth_placeholder", "birth_day_month_swap"):
            sel = np.flatnonzero(draw[k])
            birth[sel] = _birth_noise(rng, birth[sel], np.full(len(sel), k == "birth_day_month_swap"))
            kinds[sel] |= _BIT[k]
    out = rec.assign(name=name, nik=nik, birth=birth)
    masks, inverse = np.unique(kinds, return_inverse=True)
    words = np.array([",".join(sorted(k for k, b in _BIT.items() if m & b)) for m in masks], dtype=object)
    return out, words[inverse]


# ---- records ----

def _sha(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def _spread(rng: np.random.Generator, desa: pd.DataFrame, home: np.ndarray) -> np.ndarray:
    """Villages of second proposals: the same, another of the district, of the regency, or anywhere."""
    where = rng.choice(4, len(home), p=DUPLICATE_FROM)
    out = home.copy()
    district = desa["district_code"].to_numpy(dtype=object)
    regency = desa["regency_code"].to_numpy(dtype=object)
    for level, codes in ((1, district), (2, regency)):
        sel = np.flatnonzero(where == level)
        s = pd.Series(codes)
        first = s.groupby(s).cumcount().to_numpy()
        size = s.map(s.value_counts()).to_numpy()
        h = home[sel]
        shift = 1 + rng.integers(0, np.maximum(size[h] - 1, 1))
        out[sel] = h - first[h] + (first[h] + shift) % size[h]
    far = np.flatnonzero(where == 3)
    out[far] = rng.integers(0, len(desa), len(far))
    return out


def generate(root: str | Path, *, proposals: int, members: int, seed: int = DEFAULT_SEED,
             provinces: tuple[str, ...] | None = None) -> dict:
    """Write the benchmark's silver, ledger and truth under ``root``; a summary of what was drawn.

    The records are drawn province by province (each province's share of the villages), so that
    memory stays that of the largest province's: a person's records all lie in one province."""
    from rentan.core.settings import data_paths

    desa = reference_villages(desa_only=True)
    if provinces:
        desa = desa[desa["code"].str[:2].isin(provinces)].reset_index(drop=True)
    paths = data_paths(root)
    total: dict[str, int] = {}
    kpj_base = person_base = 0
    groups = sorted(desa["code"].str[:2].unique())
    for i, prov in enumerate(groups):
        part = desa[desa["code"].str[:2] == prov].reset_index(drop=True)
        share = len(part) / len(desa)
        got = _generate_part(paths, part, proposals=max(1, round(proposals * share)),
                             members=max(1, round(members * share)), seed=np.random.default_rng([seed, i]),
                             kpj_base=kpj_base, person_base=person_base, name=prov)
        kpj_base += got["members"]
        person_base += got["persons"]
        for k, v in got.items():
            total[k] = total.get(k, 0) + v
    return total


def _generate_part(paths, desa: pd.DataFrame, *, proposals: int, members: int, seed: np.random.Generator,
                   kpj_base: int, person_base: int, name: str) -> dict:
    rng = seed
    looks = sum(LOOKALIKES.values())
    per = np.array(PROPOSALS_PER_PERSON)
    mean_proposals = float((per * np.arange(1, len(per) + 1)).sum())
    # persons proposed (each 1-3 times) and members never proposed, so that the totals come out as
    # asked; half the look-alikes are proposed, half are members
    n_proposed, n_member_only = int(proposals / mean_proposals), 0
    for _ in range(5):
        base = n_proposed + n_member_only
        n_member_only = max(0, int(members - n_proposed * MEMBER_SHARE_OF_PROPOSED - looks / 2 * base))
        n_proposed = max(1, int((proposals - looks / 2 * base) / mean_proposals))
    people, pools = _persons(rng, desa, n_proposed + n_member_only)
    extra = _lookalikes(rng, people, pools, desa)
    people = pd.concat([people, extra], ignore_index=True)
    n_base = n_proposed + n_member_only
    n = len(people)
    people["person_id"] = np.arange(n, dtype=np.int64) + person_base
    people["nik"] = assign_niks(rng, pd.DataFrame({
        "birth_date_days": people["birth"].to_numpy(), "sex": np.where(people["male"], "L", "P"),
        "nik_region_code": people["region"].to_numpy(dtype=object)}))

    # the next person born the same day in the same district, whose NIK a slip can land on
    stem = people["nik"].str[:12]
    nxt = people["nik"].groupby(stem).shift(-1)
    prev = people["nik"].groupby(stem).shift(1)
    people["mate_nik"] = nxt.fillna(prev).fillna("").to_numpy(dtype=object)

    # who has which records: proposals (1-3) for the proposed, a membership for some of them and
    # for the member-only; a look-alike has one record, a proposal or a membership
    k = np.zeros(n, dtype=np.int64)
    k[:n_proposed] = rng.choice(np.arange(1, len(per) + 1), n_proposed, p=per)
    is_member = np.zeros(n, dtype=bool)
    is_member[:n_proposed] = rng.random(n_proposed) < MEMBER_SHARE_OF_PROPOSED
    is_member[n_proposed:n_base] = True
    la = np.arange(n_base, n)
    la_member = rng.random(len(la)) < 0.5
    is_member[la[la_member]] = True
    k[la[~la_member]] = 1

    who = np.repeat(np.arange(n), k)
    nth = np.arange(len(who)) - np.repeat(np.cumsum(k) - k, k)
    home = people["home"].to_numpy()[who]
    village = np.where(nth == 0, home, _spread(rng, desa, home))
    sub = people.iloc[who].reset_index(drop=True)
    sub, sub_noise = _noisy(rng, sub, pools, member=False)
    mem = people[is_member].reset_index(drop=True)
    mem, mem_noise = _noisy(rng, mem, pools, member=True)

    silver = paths.warehouse / "silver"
    sub_truth = _write_submissions(rng, silver, sub, village, desa, name)
    mem_truth = _write_members(rng, silver, mem, desa, kpj_base, name)
    truth = pd.concat([
        pd.DataFrame({"record_id": sub_truth["record_id"], "source": "submission",
                      "person_id": sub["person_id"].to_numpy(), "noise": sub_noise}),
        pd.DataFrame({"record_id": mem_truth["record_id"], "source": "membership",
                      "person_id": mem["person_id"].to_numpy(), "noise": mem_noise}),
    ], ignore_index=True)
    truth["lookalike"] = np.concatenate([sub["lookalike"].to_numpy(dtype=object), mem["lookalike"].to_numpy(dtype=object)])
    typed = np.concatenate([sub["nik"].to_numpy(dtype=object), mem["nik"].to_numpy(dtype=object)])
    pairs = _lookalike_pairs(people, truth, typed)

    files = pd.concat([sub_truth[["source_file", "file_sha256", "area"]].assign(source="submissions"),
                       mem_truth[["source_file", "file_sha256", "area"]].assign(source="membership")])
    _write_ledger(paths, files.drop_duplicates("file_sha256"))
    out = paths.truth / "linkage"
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(truth, preserve_index=False), out / f"records-{name}.parquet")
    pq.write_table(pa.Table.from_pandas(pairs, preserve_index=False), out / f"lookalikes-{name}.parquet")
    return {"proposals": len(sub), "members": len(mem), "persons": int(n),
            "files": int(files["file_sha256"].nunique()), "lookalike_pairs": len(pairs),
            "noisy_proposals": int((sub_noise != "").sum())}


def _write_ledger(paths, files: pd.DataFrame) -> None:
    """Every file loaded, received before the snapshot: one insert of all rows."""
    from sqlalchemy import insert

    from rentan.core.ledger import LOADED, IngestedFile, Ledger

    with Ledger(paths.ledger_url) as ledger:
        now = dt.datetime.now(dt.UTC)
        rows = [{"load_id": "linkage-benchmark", "source": s, "area": a, "file": f, "sha256": h, "size_bytes": 0,
                 "received_at": RECEIVED, "status": LOADED, "ingested_at": now}
                for f, h, a, s in files[["source_file", "file_sha256", "area", "source"]].itertuples(index=False)]
        with ledger.session() as s, s.begin():
            s.execute(insert(IngestedFile), rows)


def _area_slugs() -> dict[str, str]:
    """A regency's area folder: its name and code, 'lahat-1604' (a bare number would be read as one)."""
    r = reference_regencies()
    slug = (r["name"].str.lower().str.replace(r"^kabupaten ", "", regex=True)
            .str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-"))
    return dict(zip(r["code"], slug + "-" + r["code"].str.replace(".", "", regex=False)))


def _write_submissions(rng, silver: Path, sub: pd.DataFrame, village: np.ndarray, desa: pd.DataFrame,
                       part: str) -> pd.DataFrame:
    code = desa["code"].to_numpy(dtype=object)[village]
    order = np.lexsort((rng.random(len(sub)), code))
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    c = pd.Series(code[order])
    # one list per village, in files of at most ROWS_PER_FILE rows, rows from Excel row 2
    rank = c.groupby(c).cumcount().to_numpy()
    part = rank // ROWS_PER_FILE
    row_number = (rank % ROWS_PER_FILE + 2).astype(np.int32)
    file = ("submissions/" + c.str[:5].str.replace(".", "", regex=False) + "/" + c.str.replace(".", "", regex=False)
            + "/usulan_" + pd.Series(part).astype(str) + ".xlsx").to_numpy(dtype=object)
    uniq, fidx = np.unique(file, return_inverse=True)
    shas = np.array([_sha("linkage", f) for f in uniq], dtype=object)[fidx]
    s = sub.iloc[order].reset_index(drop=True)
    birth = s["birth"].to_numpy().astype("datetime64[D]")
    name = s["name"].to_numpy(dtype=object)
    uniq_names, name_idx = np.unique(name, return_inverse=True)
    norm = normalise_name(pd.Series(uniq_names, dtype="string")).to_numpy(dtype=object)[name_idx]
    nik = standardise_nik(pd.Series(s["nik"].to_numpy(dtype=object), dtype="string"),
                          regency_prefixes=set(reference_regencies()["code"]), reference_year=SNAPSHOT.year)
    sex = np.where(s["male"].to_numpy(), "L", "P")
    area = c.str[:5].map(_area_slugs()).to_numpy(dtype=object)
    frame = pd.DataFrame({
        "load_id": "linkage-benchmark", "source_file": file, "sheet": "Sheet1", "row_number": row_number,
        "file_sha256": shas, "regency_code": c.str[:5].to_numpy(dtype=object), "nik": s["nik"].to_numpy(dtype=object),
        "nik_birth_date": nik["nik_birth_date"].to_numpy(), "nik_sex": nik["nik_sex"].to_numpy(dtype=object),
        "nik_regency": nik["nik_regency"].to_numpy(dtype=object), "name": name, "name_norm": norm,
        "birth_place": None, "birth_date": birth, "birth_year": pd.DatetimeIndex(birth).year.to_numpy(np.int64),
        "sex": sex, "sex_given": sex, "occupation": "petani", "address": None, "rt_rw": None, "phone": None,
        "village_given": desa["name"].to_numpy(dtype=object)[village[order]],
        "district_given": desa["district_name"].to_numpy(dtype=object)[village[order]],
        "village_code": c.to_numpy(dtype=object), "village_match": "exact",
        "district_code": c.str[:8].to_numpy(dtype=object), "funding_source": "ADD", "year": 2025,
        "warnings": [[] for _ in range(len(c))],
    })
    _write_parts(silver / "submissions", frame, area, c.str[:8].to_numpy(dtype=object), SUB_SCHEMA)
    rid = ("usulan:" + pd.Series(shas).str[:16] + ":" + pd.Series(row_number).astype(str)).to_numpy(dtype=object)
    return pd.DataFrame({"record_id": rid[inv], "source_file": file[inv], "file_sha256": shas[inv], "area": area[inv]})


def _write_members(rng, silver: Path, mem: pd.DataFrame, desa: pd.DataFrame, kpj_base: int, part: str) -> pd.DataFrame:
    n = len(mem)
    regency = desa["regency_code"].to_numpy(dtype=object)[mem["home"].to_numpy()]
    area = pd.Series(regency).map(_area_slugs()).to_numpy(dtype=object)
    file = ("membership/" + pd.Series(area) + "/kepesertaan.csv").to_numpy(dtype=object)
    uniq, fidx = np.unique(file, return_inverse=True)
    shas = np.array([_sha("linkage", f) for f in uniq], dtype=object)[fidx]
    row_number = (pd.Series(file).groupby(file).cumcount().to_numpy() + 2).astype(np.int32)
    kpj = (10_000_000_000 + kpj_base + rng.permutation(n)).astype(str).astype(object)
    name = mem["name"].to_numpy(dtype=object)
    uniq_names, name_idx = np.unique(name, return_inverse=True)
    norm = normalise_name(pd.Series(uniq_names, dtype="string")).to_numpy(dtype=object)[name_idx]
    segment = np.where(rng.random(n) < 0.7, "PU", "BPU").astype(object)
    status = np.where(rng.random(n) < 0.75, "AKTIF", "NON AKTIF").astype(object)
    frame = pd.DataFrame({
        "load_id": "linkage-benchmark", "source_file": file, "sheet": "", "row_number": row_number,
        "file_sha256": shas, "kpj": kpj, "nik": mem["nik"].to_numpy(dtype=object), "name": name, "name_norm": norm,
        "birth_date": mem["birth"].to_numpy().astype("datetime64[D]"), "segment": segment,
        "programmes": np.where(segment == "PU", "JKK,JKM,JHT,JP", "JKK,JKM").astype(object),
        "registered_on": np.datetime64("2020-01-01", "D"), "registered_year": 2020, "status": status,
        "last_paid_month": np.datetime64("2025-05-01", "D"),
        "payer": np.where(segment == "PU", "PT SUMBER JAYA", "MANDIRI").astype(object),
        "payer_kind": np.where(segment == "PU", "other", "self").astype(object), "payer_village_code": None,
    })
    _write_parts(silver / "membership", frame, area, area, MEM_SCHEMA)
    return pd.DataFrame({"record_id": ("kpj:" + pd.Series(kpj)).to_numpy(dtype=object), "source_file": file,
                         "file_sha256": shas, "area": area})


def _write_parts(folder: Path, frame: pd.DataFrame, area: np.ndarray, group: np.ndarray, schema: pa.Schema) -> None:
    """Parquet files under area=<regency>/ in the columns standardise writes; one file per
    ``group`` (a district's village lists, a regency's extract) rather than per received file, so
    that a national benchmark is written in minutes: readers tell the lists apart by file_sha256."""
    no_warnings = pa.ListArray.from_arrays(pa.array(np.zeros(len(frame) + 1, dtype=np.int32)), pa.array([], pa.string()))
    table = pa.Table.from_pandas(frame, schema=pa.schema([f for f in schema if f.name != "warnings"]),
                                 preserve_index=False).append_column(schema.field("warnings"), no_warnings)
    order = np.lexsort((frame["file_sha256"].to_numpy(dtype=object), np.asarray(group, dtype=object)))
    table = table.take(pa.array(order))
    group = np.asarray(group, dtype=object)[order]
    area = np.asarray(area, dtype=object)[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    for a, b in zip(starts, ends):
        target = folder / f"area={area[a]}" / f"{_sha('group', group[a])[:32]}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(a, b - a), target, compression="zstd")


def _lookalike_pairs(people: pd.DataFrame, truth: pd.DataFrame, typed_nik: np.ndarray) -> pd.DataFrame:
    """Every pair of records of a person and of their look-alike; and of a record that carries
    another person's NIK with that person's records (kind ``same_nik``)."""
    la = people[people["lookalike_of"] >= 0][["person_id", "lookalike_of", "lookalike"]].copy()
    la["lookalike_of"] = people["person_id"].to_numpy()[la["lookalike_of"].to_numpy()]
    recs = truth[["record_id", "person_id"]]
    a = la.merge(recs, on="person_id").rename(columns={"record_id": "record_a"})
    b = a.merge(recs.rename(columns={"person_id": "lookalike_of", "record_id": "record_b"}), on="lookalike_of")
    looks = b[["record_a", "record_b", "lookalike"]].rename(columns={"lookalike": "kind"})
    other = truth[truth["noise"].str.contains("nik_of_another")].assign(nik=typed_nik[
        truth.index[truth["noise"].str.contains("nik_of_another")]])
    owner = other.merge(people[["nik", "person_id"]].rename(columns={"person_id": "owner"}), on="nik")
    same = owner.merge(recs.rename(columns={"person_id": "owner", "record_id": "record_b"}), on="owner")
    same = same.rename(columns={"record_id": "record_a"})[["record_a", "record_b"]].assign(kind="same_nik")
    return pd.concat([looks, same], ignore_index=True)
