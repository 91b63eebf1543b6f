"""People: names, birth dates, places and NIKs, drawn in bulk.

Faker is asked once for its Indonesian name and city lists; everything per person is then numpy
indexing, so a million people cost seconds rather than minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

# Names common in South Sumatra and Lampung that Faker's id_ID lists lack.
LOCAL_MALE = (
    "Ahmad", "Abdul", "Rahmat", "Junaidi", "Zulkifli", "Syamsul", "Herman", "Hendri", "Rusdi", "Jumadi",
    "Sarwani", "Yusuf", "Usman", "Sukri", "Cik Mat", "Mat Ali", "Darmawan", "Sahrul", "Jasman", "Yulianto",
    "Subur", "Juhardi", "Cahyadi", "Sujarwo", "Yahya", "Jamaludin", "Umar", "Budiman", "Sutrisno", "Rusman",
)
LOCAL_FEMALE = (
    "Nurhayati", "Yuliana", "Rosmawati", "Jumiati", "Rusmini", "Cahaya", "Juwita", "Sulastri", "Yusnani",
    "Marhamah", "Sumarni", "Nurjanah", "Komariah", "Yanti", "Susanti", "Juliana", "Murni", "Jamilah",
)
LOCAL_SURNAMES_MALE = ("Saputra", "Pratama", "Hidayat", "Susanto", "Syahputra", "Effendi", "Yusuf", "Juanda")
LOCAL_SURNAMES_FEMALE = ("Saputri", "Wati", "Sari", "Yanti", "Susanti", "Juwita", "Ningsih")

MALE_SHARE = 0.65  # farming and day labour: proposals are mostly men
MOVED_SHARE = 0.03  # NIK first issued elsewhere
PLACEHOLDER_SHARE = 0.03  # registered birth date 31 Dec or 1 Jul
LOCAL_BIRTHPLACE_SHARE = 0.8

MIN_AGE, MAX_AGE, OLD_AGE_LIMIT = 18, 65, 80


@dataclass(frozen=True)
class NamePools:
    male: np.ndarray
    female: np.ndarray
    surname_male: np.ndarray
    surname_female: np.ndarray
    cities: np.ndarray


def _pool(values) -> np.ndarray:
    return np.array(sorted({str(v).upper() for v in values}))


def name_pools(seed: int) -> NamePools:
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    draws = 3000
    return NamePools(
        male=_pool([fake.first_name_male() for _ in range(draws)] + list(LOCAL_MALE)),
        female=_pool([fake.first_name_female() for _ in range(draws)] + list(LOCAL_FEMALE)),
        surname_male=_pool([fake.last_name_male() for _ in range(draws // 3)] + list(LOCAL_SURNAMES_MALE)),
        surname_female=_pool([fake.last_name_female() for _ in range(draws // 3)] + list(LOCAL_SURNAMES_FEMALE)),
        cities=_pool([fake.city_name() for _ in range(draws // 3)]),
    )


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def to_days(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, day


def from_parts(y: np.ndarray, m: np.ndarray | int, d: np.ndarray | int) -> np.ndarray:
    months = (np.asarray(y) - 1970) * 12 + (np.asarray(m) - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + np.asarray(d) - 1


def age_on(birth_days: np.ndarray, day: dt.date) -> np.ndarray:
    y, m, d = date_parts(birth_days)
    before = (m > day.month) | ((m == day.month) & (d > day.day))
    return day.year - y - before.astype(np.int64)


def draw_birth_days(rng: np.random.Generator, old: np.ndarray, snapshot: dt.date) -> np.ndarray:
    """Days since 1970 of birth dates: working age 18..64 on the snapshot, or 65..80 where ``old``."""
    n = len(old)
    latest = np.where(old, to_days(years_before(snapshot, MAX_AGE)), to_days(years_before(snapshot, MIN_AGE)))
    earliest = np.where(old, to_days(years_before(snapshot, OLD_AGE_LIMIT)) + 1,
                        to_days(years_before(snapshot, MAX_AGE)) + 1)
    # working people cluster in their thirties and forties
    shape = np.where(old, rng.beta(1.0, 2.2, n), rng.beta(1.7, 1.9, n))
    return earliest + np.floor(shape * (latest - earliest)).astype(np.int64)


def apply_placeholders(rng: np.random.Generator, birth: np.ndarray, old: np.ndarray, snapshot: dt.date):
    """Registries that lacked a birth date wrote 31 December or 1 July of the year."""
    pick = rng.random(len(birth)) < PLACEHOLDER_SHARE
    y, _, _ = date_parts(birth)
    dec31 = rng.random(len(birth)) < 0.6
    cand = np.where(dec31, from_parts(y, 12, 31), from_parts(y, 7, 1))
    age = age_on(cand, snapshot)
    ok = np.where(old, (age >= MAX_AGE) & (age <= OLD_AGE_LIMIT), (age >= MIN_AGE) & (age < MAX_AGE))
    use = pick & ok
    return np.where(use, cand, birth), use


def draw_names(rng: np.random.Generator, pools: NamePools, male: np.ndarray) -> np.ndarray:
    n = len(male)
    first = np.where(male, pools.male[rng.integers(0, len(pools.male), n)],
                     pools.female[rng.integers(0, len(pools.female), n)])
    last = np.where(male, pools.surname_male[rng.integers(0, len(pools.surname_male), n)],
                    pools.surname_female[rng.integers(0, len(pools.surname_female), n)])
    second = np.where(male, pools.male[rng.integers(0, len(pools.male), n)],
                      pools.female[rng.integers(0, len(pools.female), n)])
    shape = rng.random(n)
    # one name only (common among older villagers), given + family name, or two given names
    tail = np.where(shape < 0.15, "", np.where(shape < 0.8, " " + last.astype(object), " " + second.astype(object)))
    prefix = np.where(male & (rng.random(n) < 0.12), "MUHAMMAD ",
                      np.where(~male & (rng.random(n) < 0.08), "SITI ", ""))
    names = pd.Series(prefix, dtype=object) + pd.Series(first, dtype=object) + pd.Series(tail, dtype=object)
    return names.to_numpy(dtype=object)


def draw_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    operators = np.array(["0811", "0812", "0813", "0821", "0822", "0852", "0853", "0877", "0878", "0813",
                          "0895", "0896", "0857", "0858"])
    op = operators[rng.integers(0, len(operators), n)]
    long = rng.random(n) < 0.6
    rest = np.where(long, rng.integers(10**7, 10**8, n), rng.integers(10**6, 10**7, n))
    return (pd.Series(op, dtype=object) + pd.Series(rest).astype(str)).to_numpy(dtype=object)


def make_people(rng: np.random.Generator, pools: NamePools, *, residence_district: np.ndarray,
                home_village: np.ndarray, old: np.ndarray, snapshot: dt.date,
                district_names: dict[str, str], regency_names: dict[str, str], moved_share: float = MOVED_SHARE,
                male_share: float = MALE_SHARE) -> pd.DataFrame:
    """People without NIKs yet; ``nik_region`` is the district that issued their NIK."""
    n = len(residence_district)
    male = rng.random(n) < male_share
    birth = draw_birth_days(rng, old, snapshot)
    birth, placeholder = apply_placeholders(rng, birth, old, snapshot)

    residence_district = np.asarray(residence_district, dtype=object)
    regency_code = pd.Series(residence_district, dtype=object).str[:5].to_numpy(dtype=object)
    all_districts = np.array(sorted(district_names))
    dist_regency = np.array([c[:5] for c in all_districts])
    moved = rng.random(n) < moved_share
    # a mover's NIK was issued in another district of the same regency, or anywhere in Indonesia
    # (transmigrants, people who came for the plantations)
    region = residence_district.copy()
    mv = np.flatnonzero(moved)
    if len(mv):
        cand = all_districts[rng.integers(0, len(all_districts), len(mv))]
        same_reg_pick = rng.random(len(mv)) < 0.5
        for code in np.unique(regency_code[mv]):
            local = all_districts[dist_regency == code]
            sel = np.flatnonzero((regency_code[mv] == code) & same_reg_pick)
            if len(local) > 1 and len(sel):
                cand[sel] = local[rng.integers(0, len(local), len(sel))]
        same = cand == residence_district[mv]
        # drawing the home district again would not be a move: take its neighbour in the list
        if same.any():
            idx = np.searchsorted(all_districts, cand[same])
            cand[same] = all_districts[(idx + 1) % len(all_districts)]
        region[mv] = cand

    places = pools.cities[rng.integers(0, len(pools.cities), n)].astype(object)
    local = rng.random(n) < LOCAL_BIRTHPLACE_SHARE
    dist_name = pd.Series(residence_district, dtype=object).map(district_names).to_numpy(dtype=object)
    reg_name = pd.Series(regency_code, dtype=object).map(regency_names).to_numpy(dtype=object)
    use_reg = rng.random(n) < 0.35
    places = np.where(local, np.where(use_reg, reg_name, dist_name), places)
    places = pd.Series(places, dtype=object).str.upper().to_numpy(dtype=object)

    return pd.DataFrame({
        "name": draw_names(rng, pools, male),
        "sex": np.where(male, "L", "P"),
        "birth_date_days": birth,
        "birth_date_placeholder": placeholder,
        "birth_place": places,
        "residence_district_code": residence_district,
        "residence_regency_code": regency_code,
        "home_village_code": np.asarray(home_village, dtype=object),
        "nik_region_code": region,
        "moved": region != residence_district,
        "phone": draw_phones(rng, n),
    })


def assign_niks(rng: np.random.Generator, people: pd.DataFrame) -> np.ndarray:
    """16-digit NIKs: region (6), DDMMYY with day + 40 for women, serial (4), unique over ``people``."""
    y, m, d = date_parts(people["birth_date_days"].to_numpy())
    d = d + np.where(people["sex"].to_numpy() == "P", 40, 0)
    stem = (pd.Series(people["nik_region_code"].to_numpy(), dtype=object).str.replace(".", "", regex=False)
            + pd.Series(d).astype(str).str.zfill(2) + pd.Series(m).astype(str).str.zfill(2)
            + pd.Series(y % 100).astype(str).str.zfill(2))
    codes, uniques = pd.factorize(stem)
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    # serials are handed out in order at the civil registry; a stem's first serial is rarely 0001
    offset = np.minimum(rng.geometric(0.15, len(uniques)) - 1, 200)
    serial = offset[codes] + rank + 1
    if serial.max() > 9999:
        raise ValueError("more than 9999 people share a NIK stem")
    return (stem + pd.Series(serial).astype(str).str.zfill(4)).to_numpy(dtype=object)


# ---- how a name is shown in a village's list (not defects) ----

NAME_VARIANTS = ("title", "bin_binti", "muhammad_abbrev", "old_spelling")
NAME_VARIANT_SHARE = 0.06

_OLD_SPELLING = (("U", "OE"), ("J", "DJ"), ("C", "TJ"), ("Y", "J"))
_MUHAMMAD_FORMS = np.array(["MOH.", "MUH.", "M.", "MUHAMAD", "MOHAMMAD", "MOCH."])
_TITLES_MALE = np.array(["H. {}", "DRS. {}", "{}, S.PD", "{} S.PD.", "H. {}"])
_TITLES_FEMALE = np.array(["HJ. {}", "{}, S.PD", "HJ. {}", "{}, A.MD"])


def display_names(rng: np.random.Generator, pools: NamePools, names: np.ndarray, sex: np.ndarray):
    """Names as a village types them: mostly as on the KTP; a few with a title, bin/binti and the
    father's name, Muhammad abbreviated, or old (pre-1972) spelling. Returns (shown, variant)."""
    n = len(names)
    shown = pd.Series(names, dtype=object).copy()
    variant = np.full(n, "", dtype=object)
    pick = np.flatnonzero(rng.random(n) < NAME_VARIANT_SHARE)
    if not len(pick):
        return shown.to_numpy(dtype=object), variant
    base = shown.iloc[pick]
    male = sex[pick] == "L"
    muhammad = base.str.startswith("MUHAMMAD ").to_numpy()
    kind = np.array(["title", "bin_binti", "old_spelling"])[rng.integers(0, 3, len(pick))]
    kind = np.where(muhammad & (rng.random(len(pick)) < 0.7), "muhammad_abbrev", kind).astype(object)

    out = base.copy()
    # old spelling: the first rule that changes the name
    old = kind == "old_spelling"
    if old.any():
        sub = base[old]
        done = pd.Series(False, index=sub.index)
        res = sub.copy()
        for new, legacy in _OLD_SPELLING:
            cand = sub.str.replace(new, legacy, regex=False)
            take = (~done) & (cand != sub)
            res[take] = cand[take]
            done |= take
        out[old] = res
        kind[np.flatnonzero(old)[~done.to_numpy()]] = "bin_binti"
    mu = kind == "muhammad_abbrev"
    if mu.any():
        forms = _MUHAMMAD_FORMS[rng.integers(0, len(_MUHAMMAD_FORMS), int(mu.sum()))]
        out[mu] = pd.Series(forms, index=base.index[mu], dtype=object) + base[mu].str.slice(len("MUHAMMAD"))
    bb = kind == "bin_binti"
    if bb.any():
        father = pools.male[rng.integers(0, len(pools.male), int(bb.sum()))]
        word = np.where(male[bb], " BIN ", " BINTI ")
        out[bb] = base[bb] + pd.Series(word, index=base.index[bb], dtype=object) + pd.Series(
            father, index=base.index[bb], dtype=object)
    ti = kind == "title"
    if ti.any():
        tm = _TITLES_MALE[rng.integers(0, len(_TITLES_MALE), int(ti.sum()))]
        tf = _TITLES_FEMALE[rng.integers(0, len(_TITLES_FEMALE), int(ti.sum()))]
        pattern = pd.Series(np.where(male[ti], tm, tf), index=base.index[ti], dtype=object)
        head = pattern.str.split("{}").str[0]
        tail = pattern.str.split("{}").str[1]
        out[ti] = head + base[ti] + tail
    shown.iloc[pick] = out.to_numpy(dtype=object)
    variant[pick] = kind
    return shown.to_numpy(dtype=object), variant
