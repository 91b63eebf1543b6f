"""Comparing two records: how much each field's agreement says they are one person.

The Fellegi-Sunter idea Splink uses: each comparison (NIK, name, birth date, sex, village) puts a
pair of records in one of its levels, each level has a probability among pairs of one person (m)
and among pairs of two persons (u), and the pair's match weight is the prior log-odds plus the sum of
log2(m / u) over the comparisons. The levels are defined here; their m and u, the prior and the
thresholds are the model file's (``rentan.identity.model``).

The NIK comparison reads what the NIK says (region, DDMMYY with day + 40 for women, serial):

- a difference in the serial's last digit only is how the next person born that day in that
  district differs, as much as a typo: weak evidence either way;
- a difference within the date part, where one record's own birth date and sex agree with the
  other's NIK, is a typo: strong evidence of one person; where each record agrees with its own
  NIK, two persons born on different days (siblings): strong evidence of two;
- a region that is no district at all is a typo;
- a record sharing its NIK with records of another name, whose own name is exactly that of a
  record under the neighbouring NIK (same region and date, another serial), slipped onto the
  neighbour's NIK (``slips``): the pair is a conflict however alike the names are (twins' names
  are a letter apart), and for that record the NIK is no evidence against the neighbour.

The proposing villages are a comparison of their own: a village that lists a person twice is the
commonest duplicate, and a BPJS TK member (no village) says nothing either way.

Names are the standardise stage's normalised names; their levels survive an added or dropped
token (one's tokens all in the other's) and typos (rapidfuzz's token-sort and token-set ratios,
computed over whole arrays in C++, only for the pairs whose names are not already equal).
"""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from rentan.identity.model import Model

# (level, SQL condition over the pair's records a and b, tried in order); ``dl`` is the NIKs'
# Damerau-Levenshtein distance, ``ok(x)`` says a record's birth date and sex agree with its own NIK
_OK_A = "(a.bd = a.nd and a.sex = a.nik_sex)"
_OK_B = "(b.bd = b.nd and b.sex = b.nik_sex)"
_GAP = "abs(a.s::int - b.s::int)"
_HOME = "((a.home = b.r and a.home <> a.r) or (b.home = a.r and b.home <> b.r))"
NIK_LEVELS: tuple[tuple[str, str], ...] = (
    ("exact", "a.nik = b.nik"),
    ("taken_next", "(a.disputed or b.disputed) and a.r = b.r and a.d6 = b.d6"),
    ("taken", "(a.disputed or b.disputed) and dl <= 2"),
    ("serial_next", f"a.r = b.r and a.d6 = b.d6 and {_GAP} <= 2"),
    ("serial_typo", "a.r = b.r and a.d6 = b.d6 and dl <= 2"),
    ("date_two_persons", f"a.r = b.r and a.s = b.s and dl <= 2 and {_OK_A} and {_OK_B}"),
    ("date_typo", "a.r = b.r and a.s = b.s and dl <= 2 and ((a.bd = b.nd and a.sex = b.nik_sex) "
                  "or (b.bd = a.nd and b.sex = a.nik_sex))"),
    ("date_other", "a.r = b.r and a.s = b.s and dl <= 2"),
    ("region_unknown", "a.d6 = b.d6 and a.s = b.s and dl <= 2 and not (a.region_known and b.region_known)"),
    ("region_home", f"a.d6 = b.d6 and a.s = b.s and dl <= 2 and {_HOME}"),
    ("region", "a.d6 = b.d6 and a.s = b.s and dl <= 2"),
    ("one_edit", "dl <= 1"),
    ("two_edits", "dl <= 2"),
    ("far", "true"),
)
_PLACEHOLDER = "((month({d}) = 7 and day({d}) = 1) or (month({d}) = 12 and day({d}) = 31) or day({d}) = 15)"
BIRTH_LEVELS: tuple[tuple[str, str], ...] = (
    ("missing", "a.bd is null or b.bd is null"),
    ("exact", "a.bd = b.bd"),
    ("placeholder", f"year(a.bd) = year(b.bd) and ({_PLACEHOLDER.format(d='a.bd')} or {_PLACEHOLDER.format(d='b.bd')})"),
    ("day_month_swapped", "year(a.bd) = year(b.bd) and month(a.bd) = day(b.bd) and day(a.bd) = month(b.bd)"),
    ("one_digit", "hamming(strftime(a.bd, '%d%m%Y'), strftime(b.bd, '%d%m%Y')) = 1"),
    ("same_year", "year(a.bd) = year(b.bd)"),
    ("different", "true"),
)
SEX_LEVELS: tuple[tuple[str, str], ...] = (("same", "a.sex = b.sex"), ("different", "true"))
# the villages that proposed the two records (codes without dots: province 2, regency 2, district
# 2, village 4); a BPJS TK member has none, and says nothing here
VILLAGE_LEVELS: tuple[tuple[str, str], ...] = (
    ("missing", "a.v is null or b.v is null"),
    ("same_village", "a.v = b.v"),
    ("same_district", "left(a.v, 6) = left(b.v, 6)"),
    ("same_regency", "left(a.v, 4) = left(b.v, 4)"),
    ("different", "true"),
)
NAME_LEVELS = ("missing", "exact", "same_tokens", "token_more_or_less", "one_name_within", "typo",
               "typo_and_token", "close", "shares_token", "different")
COMPARISONS = {"nik": [n for n, _ in NIK_LEVELS], "name": list(NAME_LEVELS),
               "birth_date": [n for n, _ in BIRTH_LEVELS], "sex": [n for n, _ in SEX_LEVELS],
               "village": [n for n, _ in VILLAGE_LEVELS]}
# name levels by rapidfuzz score
TYPO_RATIO, CLOSE_RATIO = 90, 80


def _case(levels: tuple[tuple[str, str], ...]) -> str:
    return "case " + " ".join(f"when {cond} then {i}" for i, (_, cond) in enumerate(levels)) + " end"


def comparison_sql(pairs: str) -> str:
    """SQL: each pair of ``pairs`` (pos_i, pos_j, same_nik, slip) with its NIK, birth-date, sex and
    village levels, the flags the name levels need and both names."""
    return f"""
        select p.pos_i, p.pos_j, p.same_nik, p.slip, a.name as name_i, b.name as name_j,
               damerau_levenshtein(a.nik, b.nik) as dl, dl::utinyint as nik_distance,
               {_case(NIK_LEVELS)}::utinyint as nik_level,
               {_case(BIRTH_LEVELS)}::utinyint as birth_date_level,
               {_case(SEX_LEVELS)}::utinyint as sex_level,
               {_case(VILLAGE_LEVELS)}::utinyint as village_level,
               a.name = '' or b.name = '' as name_missing,
               a.name = b.name as name_exact,
               a.name_key = b.name_key as name_same_tokens,
               list_has_all(a.tokens, b.tokens) or list_has_all(b.tokens, a.tokens) as name_subset,
               least(len(a.tokens), len(b.tokens)) = 1 as name_single,
               len(list_intersect(a.tokens, b.tokens)) > 0 as name_shares
        from {pairs} p join feat a on a.pos = p.pos_i join feat b on b.pos = p.pos_j"""


def _token_cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each pair of names, the worst of the shorter name's words' best ratio against the other
    name's words: high when every word of one name is in the other, typos allowed."""
    out = np.zeros(len(a))
    for i, (x, y) in enumerate(zip(a, b)):
        tx, ty = x.split(), y.split()
        if len(tx) > len(ty):
            tx, ty = ty, tx
        out[i] = min(max(fuzz.ratio(t, u) for u in ty) for t in tx) if tx and ty else 0.0
    return out


def name_levels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The name level of each pair, and a 0-100 similarity (100 for equal names)."""
    n = len(frame)
    score = np.full(n, 100.0)
    level = np.full(n, NAME_LEVELS.index("exact"), dtype=np.uint8)
    exact = frame["name_exact"].to_numpy(bool)
    missing = frame["name_missing"].to_numpy(bool)
    todo = np.flatnonzero(~exact & ~missing)
    if len(todo):
        a = frame["name_i"].to_numpy(object)[todo]
        b = frame["name_j"].to_numpy(object)[todo]
        sort = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=-1)
        tset = process.cpdist(a, b, scorer=fuzz.token_set_ratio, workers=-1)
        # a letter swapped, dropped or doubled in a short name: one edit, however low the ratio
        edits = process.cpdist(a, b, scorer=OSA.distance, workers=-1)
        short = np.minimum(pd.Series(a).str.len().to_numpy(), pd.Series(b).str.len().to_numpy()) >= 3
        same = frame["name_same_tokens"].to_numpy(bool)[todo]
        subset = frame["name_subset"].to_numpy(bool)[todo]
        single = frame["name_single"].to_numpy(bool)[todo]
        shares = frame["name_shares"].to_numpy(bool)[todo]
        typo = (sort >= TYPO_RATIO) | ((edits <= 1) & short)
        rest = np.flatnonzero(~same & ~subset & ~typo & (tset < TYPO_RATIO))
        cover = np.zeros(len(todo))
        cover[rest] = _token_cover(a[rest], b[rest])
        lv = np.select(
            [same, subset & ~single, subset, typo, (tset >= TYPO_RATIO) | (cover >= CLOSE_RATIO),
             np.maximum(sort, tset) >= CLOSE_RATIO, shares],
            [NAME_LEVELS.index(x) for x in ("same_tokens", "token_more_or_less", "one_name_within", "typo",
                                              "typo_and_token", "close", "shares_token")],
            NAME_LEVELS.index("different"))
        level[todo] = lv
        score[todo] = np.maximum(sort, tset)
    level[missing] = NAME_LEVELS.index("missing")
    score[missing] = 0.0
    return level, np.round(score, 1)


def levels(frame: pd.DataFrame) -> pd.DataFrame:
    """Every comparison's level (as an index into its levels) for each pair of ``comparison_sql``."""
    name, score = name_levels(frame)
    return pd.DataFrame({"nik": frame["nik_level"].to_numpy(np.uint8), "name": name,
                         "birth_date": frame["birth_date_level"].to_numpy(np.uint8),
                         "sex": frame["sex_level"].to_numpy(np.uint8),
                         "village": frame["village_level"].to_numpy(np.uint8), "name_score": score})


def _scored(con: duckdb.DuckDBPyConnection, table: str, model: Model, batch: int, keep_all: bool) -> pd.DataFrame:
    reader = con.sql(comparison_sql(table) + " order by p.pos_i, p.pos_j").to_arrow_reader(batch)
    kept = []
    for b in reader:
        f = b.to_pandas()
        lv = levels(f)
        same = f["same_nik"].to_numpy(bool)
        # one NIK: what its records' other fields say, without the NIK and the prior of different NIKs
        w = np.where(same, weights(lv, model, without=("nik",)) - model.prior_weight, weights(lv, model))
        conflict = (w < model.nik_conflict) | f["slip"].to_numpy(bool)
        decision = np.where(same, np.where(conflict, "conflict", "same_nik"),
                            np.where(w >= model.link, "link", np.where(w >= model.review, "review", "none")))
        out = pd.concat([f[["pos_i", "pos_j", "same_nik", "nik_distance"]].reset_index(drop=True), lv], axis=1)
        out["weight"] = np.round(w, 3)
        out["decision"] = decision
        kept.append(out if keep_all else out[~np.isin(decision, ("none", "same_nik"))])
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("pos_i", "int64"), ("pos_j", "int64"), ("same_nik", "bool"), ("nik_distance", "uint8"),
            ("nik", "uint8"), ("name", "uint8"), ("birth_date", "uint8"), ("sex", "uint8"), ("village", "uint8"),
            ("name_score", "float64"), ("weight", "float64"), ("decision", "object"))})
    return pd.concat(kept, ignore_index=True)


def score_same_nik(con: duckdb.DuckDBPyConnection, model: Model, batch: int = 500_000,
                   keep_all: bool = False) -> pd.DataFrame:
    """The pairs of ``nik_pairs`` (a record and its NIK's anchor) weighed by their other fields:
    those below the model's ``nik_conflict`` are two persons under one NIK (decision ``conflict``),
    and so are those where a slip onto the NIK is plain (``slips``)."""
    slips(con)
    con.execute("""create or replace temp table scored_input as
                   select p.pos_i, p.pos_j, true as same_nik, s.pos_i is not null as slip
                   from nik_pairs p left join slip_pairs s using (pos_i, pos_j)""")
    return _scored(con, "scored_input", model, batch, keep_all)


def slips(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``slip_pairs``: pairs of ``nik_pairs`` whose names differ where one record's name (that
    of ``slipped``) is exactly that of a record under another NIK of the same region and birth date
    (the next person born that day there) and the other's is not: a slip onto the neighbour's NIK,
    such as a twin's (whose name is a letter apart, so the other fields alone would take the two
    for one person)."""
    con.execute("""
        create or replace temp table slip_pairs as
        with x as (
            select p.pos_i, p.pos_j, a.r || a.d6 as stem, a.name as name_a, b.name as name_b
            from nik_pairs p join feat a on a.pos = p.pos_i join feat b on b.pos = p.pos_j
            where a.name <> b.name and a.name <> '' and b.name <> ''
        ), shared as (
            -- a name held under two NIKs or more of one region and birth date, among those of x
            select r || d6 as stem, name from feat
            where r || d6 in (select stem from x) and name <> ''
            group by all having count(distinct nik) > 1
        )
        select x.pos_i, x.pos_j, case when sa.name is null then x.pos_j else x.pos_i end as slipped from x
        left join shared sa on sa.stem = x.stem and sa.name = x.name_a
        left join shared sb on sb.stem = x.stem and sb.name = x.name_b
        where (sa.name is null) <> (sb.name is null)""")


def mark_disputed(con: duckdb.DuckDBPyConnection, conflicts: pd.DataFrame) -> None:
    """The records of each pair found to be two persons under one NIK, for which the NIK is then no
    evidence against a match elsewhere: of a slip onto the neighbour's NIK, the one that slipped;
    of any other pair, both, since which of them typed the NIK wrongly is not known."""
    con.register("conflict_in", conflicts[["pos_i", "pos_j"]].astype("int64"))
    con.execute("""
        update feat set disputed = true where pos in (
            select unnest(case when s.slipped is not null then [s.slipped] else [c.pos_i, c.pos_j] end)
            from conflict_in c left join slip_pairs s using (pos_i, pos_j))""")


def score_pairs(con: duckdb.DuckDBPyConnection, model: Model, batch: int = 500_000,
                keep_all: bool = False) -> pd.DataFrame:
    """The blocking passes' pairs (``pairs``) compared and weighed, batch by batch so that memory
    stays flat; the links and pairs to review, or all of them with ``keep_all``: pos_i, pos_j, the
    levels, name_score, nik_distance, weight and decision."""
    con.execute("create or replace temp table scored_input as select pos_i, pos_j, false as same_nik, false as slip "
                "from pairs")
    return _scored(con, "scored_input", model, batch, keep_all)


def weights(lv: pd.DataFrame, model: Model, *, without: tuple[str, ...] = ()) -> np.ndarray:
    """Match weight (log2 odds) of each pair: the prior plus each comparison's level weight."""
    w = np.full(len(lv), model.prior_weight)
    for comp in COMPARISONS:
        if comp not in without:
            w += model.level_weights(comp)[lv[comp].to_numpy()]
    return w


def reason(lv: pd.DataFrame, model: Model, language: str) -> pd.Series:
    """What the comparisons found, in words, one phrase per comparison."""
    parts = [pd.Series(np.asarray(model.descriptions(comp, language), dtype=object)[lv[comp].to_numpy()])
             for comp in COMPARISONS]
    out = parts[0]
    for p in parts[1:]:
        out = out + "; " + p
    return out


def pair_id(a: pd.Series, b: pd.Series) -> pd.Series:
    """A stable id for an unordered pair of record ids."""
    lo, hi = a.where(a < b, b), b.where(a < b, a)
    return (lo + "|" + hi).map(lambda s: hashlib.sha256(s.encode()).hexdigest()[:16]).astype("string")
