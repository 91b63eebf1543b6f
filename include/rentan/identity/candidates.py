"""Each proposal's status (eligible, duplicate, already covered, ...), and the review queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from string import Template

import duckdb
import numpy as np
import pandas as pd

from rentan.config import Config
from rentan.identity.matching import COMPARISONS, reason
from rentan.identity.model import Model

STATUS_SQL = Template(Path(__file__).with_name("candidates.sql").read_text(encoding="utf-8"))


def statuses(con: duckdb.DuckDBPyConnection, review: pd.DataFrame, snapshot: dt.date, config: Config) -> None:
    """Table ``candidates``: each proposal with its status and reason, keeper, age and quota rank."""
    max_age = config.programme.max_age_years
    con.register("review_pos", pd.DataFrame({"pos": np.unique(np.concatenate(
        [review["pos_i"].to_numpy(np.int64), review["pos_j"].to_numpy(np.int64)]))}))
    quotas = [(slug, r.quota_on(snapshot)) for slug, r in config.regencies.items()]
    con.register("quotas", pd.DataFrame(quotas, columns=["area", "quota"]).astype({"quota": "Int64"}))
    con.execute(STATUS_SQL.substitute(snapshot=snapshot.isoformat(), month=snapshot.month, day=snapshot.day,
                                      max_age=int(max_age)))


# what is at stake in a pair, most first: a proposal that would be enrolled unless the pair is one person
_STAKES = (
    (1, "a proposal to enrol, against an active member: double cover",
     "usulan yang akan didaftarkan, dengan peserta aktif: kepesertaan ganda"),
    (2, "a proposal to enrol, against another proposal: enrolled twice",
     "usulan yang akan didaftarkan, dengan usulan lain: didaftarkan dua kali"),
    (3, "a proposal to enrol, against a lapsed member", "usulan yang akan didaftarkan, dengan peserta tidak aktif"),
    (4, "no proposal waiting on it", "tidak ada usulan yang menunggu"),
)


def review_queue(con: duckdb.DuckDBPyConnection, review: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Both records of each pair side by side, the reason in English and Indonesian, and what is at
    stake; sorted by the stake, then the likeliest to be one person first."""
    cols = ["record_id", "source", "nik", "name", "birth_date", "sex", "village_code", "area"]
    frame = review[["pair_id", "pos_i", "pos_j", "same_nik", "weight", "name_score", "nik_distance"]].copy()
    frame["reason_code"] = np.where(frame["same_nik"], "same_nik_different_person", "possible_same_person")
    lv = review[list(COMPARISONS)].reset_index(drop=True)
    frame["reason"] = reason(lv, model, "en").to_numpy(object)
    frame["alasan"] = reason(lv, model, "id").to_numpy(object)
    con.register("review_pairs", frame.drop(columns=["same_nik"]))
    con.register("stakes", pd.DataFrame(_STAKES, columns=["stake_rank", "stake", "taruhan"]))
    a = ", ".join(f"a.{c} as {c}_a" for c in cols)
    b = ", ".join(f"b.{c} as {c}_b" for c in cols)
    return con.sql(f"""
        with side as (
            select k.pos, k.source, c.status as proposal_status, k.status as member_status
            from keyed k left join candidates c using (record_id)
        ), ranked as (
            select p.*,
                   case when (sa.proposal_status = 'needs_review' and sb.member_status = 'AKTIF')
                          or (sb.proposal_status = 'needs_review' and sa.member_status = 'AKTIF') then 1
                        when (sa.proposal_status = 'needs_review' and sb.source = 'submission')
                          or (sb.proposal_status = 'needs_review' and sa.source = 'submission') then 2
                        when sa.proposal_status = 'needs_review' or sb.proposal_status = 'needs_review' then 3
                        else 4 end as stake_rank,
                   coalesce(sa.proposal_status, sa.member_status) as status_a,
                   coalesce(sb.proposal_status, sb.member_status) as status_b
            from review_pairs p join side sa on sa.pos = p.pos_i join side sb on sb.pos = p.pos_j
        )
        select p.pair_id, p.stake_rank, s.stake, s.taruhan, p.reason_code, p.reason, p.alasan,
               round(p.weight, 2) as match_weight, round(pow(2, p.weight) / (1 + pow(2, p.weight)), 4) as match_probability,
               p.name_score, p.nik_distance, {a}, p.status_a, {b}, p.status_b
        from ranked p join stakes s using (stake_rank) join records a on a.pos = p.pos_i join records b on b.pos = p.pos_j
        order by p.stake_rank, p.weight desc, p.pair_id""").to_arrow_table().to_pandas()
