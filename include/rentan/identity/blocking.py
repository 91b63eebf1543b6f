"""Which pairs of records are worth comparing: blocking passes in DuckDB, never all pairs.

A NIK is region (6 digits: province, regency, district), date (DDMMYY, day + 40 for women) and
serial (4). One mistyped or swapped digit breaks one part (two at a boundary), so the passes
below each ask for one or two intact parts of the NIK together with a birth date, from the
record's own field or the one its NIK encodes, and where the part alone says too little, a shared
name token; two more ask for the same normalised name, whatever the NIK:

==========  =======================================================  ================================
pass        records agree on                                         finds
==========  =======================================================  ================================
``rd``      region, a date                                           a serial or date digit mistyped
``pdt``     province, a date, a name token                           a regency or district digit
``qds``     regency and district digits, a date, serial              a province digit
``rsyt``    region, serial, a birth year, a name token               a date digit and a birth date
                                                                     that differs too
``nd``      the name's sorted tokens, a date                         any NIK: a namesake, a wrong NIK
``nry``     the name's sorted tokens, regency, a birth year          a wrong NIK and a birth date
==========  =======================================================  ================================

"A date" is either of the record's birth date and its NIK's, so a birth date that differs from
the NIK (a placeholder, a day and month swapped) still meets the other record's. A block with more
records than the model's ``max_block`` is skipped (a placeholder date with a common name): its
pairs are found by the other passes or not at all. Records with the same NIK are compared
separately, each with the NIK's anchor (``nik_pairs``), to catch two persons under one NIK.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from rentan.reference import districts

# each pass: its key over a record's dates (``dt``, its birth date and its NIK's), birth years
# (``yr``) and name tokens (``tok``), whichever it names: one key per combination
PASSES = {
    "rd": "hash(r, dt)",
    "pdt": "hash(left(r, 2), dt, tok)",
    "qds": "hash(substr(r, 3, 4), dt, s)",
    "rsyt": "hash(r, s, yr, tok)",
    "nd": "hash(name_key, dt)",
    "nry": "hash(name_key, left(r, 4), yr)",
}


def features(con: duckdb.DuckDBPyConnection, snapshot_year: int) -> None:
    """Table ``feat``: what matching compares, one row per record of ``records``: the NIK's parts,
    its birth date and sex, the record's own birth date and sex, the name's tokens, the district
    of the proposing village (``home``) and the village itself (``v``, a proposal's only), and
    ``disputed``: set once its NIK is found to be held by two persons."""
    con.register("official_districts", pd.DataFrame({"r": districts()["code"].str.replace(".", "", regex=False)}))
    con.execute(f"""
        create or replace table feat as
        with n as (
            select pos, source, nik, coalesce(name_norm, '') as name, birth_date as bd, sex as sex_given,
                   replace(district_code, '.', '') as home, replace(village_code, '.', '') as v,
                   left(nik, 6) as r, substr(nik, 7, 6) as d6, right(nik, 4) as s,
                   substr(nik, 7, 2)::int as dd, substr(nik, 9, 2)::int as mm, substr(nik, 11, 2)::int as yy,
                   list_distinct(list_filter(string_split(coalesce(name_norm, ''), ' '), lambda t: t <> '')) as tokens
            from records
        )
        select pos, source, nik, name, bd, r, d6, s, home, v, false as disputed,
               try(make_date(case when 2000 + yy <= {snapshot_year - 14} then 2000 + yy else 1900 + yy end,
                             mm, case when dd > 40 then dd - 40 else dd end)) as nd,
               case when dd > 40 then 'P' else 'L' end as nik_sex,
               coalesce(sex_given, case when dd > 40 then 'P' else 'L' end) as sex,
               tokens, array_to_string(list_sort(tokens), ' ') as name_key,
               r in (select r from official_districts) as region_known
        from n""")


def candidate_pairs(con: duckdb.DuckDBPyConnection, max_block: int) -> dict[str, int]:
    """Table ``pairs`` (pos_i < pos_j, records with different NIKs, one of them at least a village's
    proposal, and ``passes``: a bit per pass that found the pair), one pass at a time so that only
    one pass's keys are held at once; a pair whose NIKs are more than two keystrokes apart is kept
    only if the names' words are the same (no weight of the model could link it otherwise).
    Returns the pairs each pass found."""
    con.execute("create or replace temp table found (pos_i bigint, pos_j bigint, pass utinyint)")
    con.execute("""
        create or replace temp table bk as
        select pos, hash(nik) as nikh, source = 'submission' as proposal, r, s, name_key,
               list_distinct(list_filter([bd, nd], lambda x: x is not null)) as dates,
               list_distinct(list_filter([year(bd), year(nd)], lambda x: x is not null)) as years,
               case when len(tokens) = 0 then [''] else tokens end as tokens
        from feat""")
    for i, key in enumerate(PASSES.values()):
        # each list the key names unnested in a layer of its own: every date with every token
        rel = "bk"
        for col, alias in (("dates", "dt"), ("years", "yr"), ("tokens", "tok")):
            if re.search(rf"\b{alias}\b", key):
                rel = f"(select *, unnest({col}) as {alias} from {rel})"
        con.execute(f"create or replace temp table k as select pos, nikh, proposal, {key} as key from {rel}")
        # a mistyped NIK is a village's: two BPJS TK cards under two NIKs are two people to BPJS, so
        # only blocks and pairs with a proposal in them are worth comparing
        con.execute(f"""
            insert into found
            with big as (select key from k group by key
                         having count(*) between 2 and {int(max_block)} and bool_or(proposal))
            select a.pos, b.pos, {i} from k a join big using (key) join k b on a.key = b.key and a.pos < b.pos
            where a.nikh <> b.nikh and (a.proposal or b.proposal)""")
    con.execute("drop table k; drop table bk")
    counts = con.execute("select pass, count(distinct (pos_i, pos_j)) from found group by 1").fetchall()
    con.execute("""
        create or replace table pairs as
        with d as (select pos_i, pos_j, bit_or((1::integer << pass)::integer) as passes from found group by all)
        select d.* from d join feat a on a.pos = d.pos_i join feat b on b.pos = d.pos_j
        where damerau_levenshtein(a.nik, b.nik) <= 2 or a.name_key = b.name_key""")
    con.execute("drop table found")
    names = list(PASSES)
    return {names[p]: int(n) for p, n in counts}


def nik_pairs(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``nik_pairs``: each record sharing its NIK with others (``pos_j``), paired with the NIK's
    anchor (``pos_i``): a record of the name most of them carry, the one BPJS holds if any, else one
    whose birth date and sex agree with the NIK, else the first."""
    con.execute("""
        create or replace table nik_pairs as
        with g as (
            select pos, nik, source, bd, nd, sex, nik_sex, count(*) over (partition by nik, name_key) as same_name
            from feat
            where nik in (select nik from feat group by nik having count(*) > 1)
        ), a as (
            select pos, first(pos) over (partition by nik order by same_name desc, source = 'membership' desc,
                                                          (bd = nd and sex = nik_sex) desc nulls last, pos) as anchor
            from g
        )
        select anchor as pos_i, pos as pos_j from a where pos <> anchor""")
