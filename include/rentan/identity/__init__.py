"""Identity and eligibility: one person, one record; nobody paid for twice ("tidak double").

Every night, from all of silver: records (village proposals and BPJS TK members) are grouped
into persons by NIK, and by fuzzy matching where a NIK was mistyped; each proposal then gets a
status:

- ``duplicate``: the person is proposed elsewhere too and that proposal keeps them. The keeper is
  the proposal from the village in the district the NIK was issued in, else the earliest
  received, else the first by file and row;
- ``already_covered``: an active PU member (covered by an employer), or an active BPU member paid
  by someone else than this village (double funding);
- ``already_enrolled``: an active BPU member already paid by this village (a renewal);
- ``ineligible``: 65 or older on the snapshot date;
- ``needs_review``: in a pair a person must decide on (``rentan review``);
- ``eligible``: to enrol; ``over_quota`` marks those past the village's quota, in order received.

Outputs (silver): ``persons``, ``enrolment_candidates``, ``review_queue``; the merge ledger
(``person_link``) and reviewers' decisions (``review_decision``) live in the ledger database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import insert, select

from rentan.config import Config, load_config
from rentan.identity.keys import person_keys, secret
from rentan.identity.matching import candidate_pairs, pair_id, score_and_decide
from rentan.ingest.ledger import Ledger, PersonLink, ReviewDecision
from rentan.settings import DataPaths, data_paths

log = logging.getLogger(__name__)

def _silver(paths: DataPaths, source: str, columns: str) -> pd.DataFrame:
    base = paths.warehouse / "silver" / source
    if not any(base.glob("*/*.parquet")):
        return pd.DataFrame()
    glob = (base / "**" / "*.parquet").as_posix()
    # through Arrow: strings stay Arrow-backed (a third of the memory of Python str objects)
    return duckdb.sql(f"select {columns} from read_parquet('{glob}', hive_partitioning=true, union_by_name=true)").fetch_arrow_table().to_pandas()


def _records(paths: DataPaths, ledger: Ledger) -> pd.DataFrame:
    subs = _silver(paths, "submissions", """
        area, source_file, row_number, file_sha256, nik, name, name_norm, birth_date, sex, village_code,
        district_code, regency_code, funding_source""")
    if subs.empty:
        return subs
    received = pd.DataFrame([(e.sha256, e.received_at) for e in ledger.entries() if e.status == "loaded"],
                            columns=["file_sha256", "received_at"]).drop_duplicates("file_sha256")
    subs = subs.merge(received, on="file_sha256", how="left")
    subs["record_id"] = "usulan:" + subs["file_sha256"].str[:16] + ":" + subs["row_number"].astype(str)
    subs["source"] = "submission"
    mem_columns = ["area", "kpj", "nik", "name", "name_norm", "birth_date", "segment", "status", "payer",
                   "payer_village_code", "registered_on"]
    mem = _silver(paths, "membership", ", ".join(mem_columns))
    # a night before any branch extract arrived still has proposals to decide on
    mem = mem.reindex(columns=mem_columns) if mem.empty else mem.dropna(subset=["nik"])
    mem = mem.assign(record_id="kpj:" + mem["kpj"].astype("string"), source="membership")
    return pd.concat([subs, mem], ignore_index=True)


def _persons(records: pd.DataFrame, links: pd.DataFrame, key: bytes) -> pd.Series:
    """The person key of each record: NIKs joined by links, keyed by a canonical NIK (one BPJS
    knows if any, else the most frequent, else the smallest)."""
    niks = pd.Index(sorted(records["nik"].dropna().unique()))
    n = len(niks)
    a = niks.get_indexer(links["nik_i"]) if len(links) else np.array([], dtype=int)
    b = niks.get_indexer(links["nik_j"]) if len(links) else np.array([], dtype=int)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    stats = (records.assign(m=records["source"].eq("membership")).groupby("nik")
             .agg(in_bpjs=("m", "any"), count=("m", "size")).reindex(niks))
    stats["component"] = component
    canonical = (stats.reset_index(names="nik").sort_values(["component", "in_bpjs", "count", "nik"],
                                                           ascending=[True, False, False, True])
                 .drop_duplicates("component").set_index("component")["nik"])
    canon_nik = pd.Series(canonical.reindex(component).to_numpy(), index=niks)
    return person_keys(records["nik"].map(canon_nik), key)


def _age(birth: pd.Series, on: dt.date) -> pd.Series:
    b = pd.to_datetime(birth)
    before_birthday = (b.dt.month > on.month) | ((b.dt.month == on.month) & (b.dt.day > on.day))
    return (on.year - b.dt.year - before_birthday.astype(int)).astype("Int64")


def _decisions(ledger: Ledger) -> dict[str, bool]:
    with ledger.session() as s:
        return {d.pair_id: d.same_person for d in s.scalars(select(ReviewDecision))}


def _write(df: pd.DataFrame, target: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"{target.parent.name}-{target.name}.{os.getpid()}"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp, compression="zstd")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


def resolve(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date,
            config: Config | None = None) -> dict:
    paths = paths or data_paths()
    config = config or load_config()
    ledger = Ledger(paths.ledger_url)
    try:
        records = _records(paths, ledger)
        if records.empty:
            log.info("identity: no submissions in silver yet")
            return {"load_id": load_id, "records": 0}
        records = records.sort_values(["source", "record_id"], kind="stable").reset_index(drop=True)

        pairs = score_and_decide(records, candidate_pairs(records))
        # a pair below both thresholds is never linked nor queued: no id, no further work
        pairs = pairs[pairs["decision"] != "none"].reset_index(drop=True)
        pairs["nik_i"] = records["nik"].to_numpy()[pairs["pos_i"]]
        pairs["nik_j"] = records["nik"].to_numpy()[pairs["pos_j"]]
        pairs["pair_id"] = pd.Series(dtype="string") if pairs.empty else pair_id(
            records["record_id"].iloc[pairs["pos_i"]].reset_index(drop=True),
            records["record_id"].iloc[pairs["pos_j"]].reset_index(drop=True))
        decided = _decisions(ledger)
        verdict = pairs["pair_id"].map(decided)
        pairs.loc[verdict.eq(True).fillna(False).to_numpy(), "decision"] = "reviewer_same"
        pairs.loc[verdict.eq(False).fillna(False).to_numpy(), "decision"] = "reviewer_different"
        links = pairs[pairs["decision"].isin(["link", "reviewer_same"])]
        records["person_key"] = _persons(records, links, secret())
        fuzzy_pos = set(links["pos_i"]) | set(links["pos_j"])
        records["matched_by"] = np.where(records.index.isin(list(fuzzy_pos)), "fuzzy", "nik")
        review = pairs[pairs["decision"] == "review"]

        cands = _candidates(records, review, snapshot, config)
        persons = _person_table(records)
        queue = _review_queue(records, review)
        _record_links(ledger, records, load_id)
    finally:
        ledger.dispose()

    out = paths.warehouse / "silver"
    work = paths.work / "identity"
    _write(persons, out / "persons" / "persons.parquet", work)
    for area, part in cands.groupby("area", sort=True):
        _write(part.drop(columns="area"), out / "enrolment_candidates" / f"area={area}" / "candidates.parquet", work)
    _write(queue, out / "review_queue" / "review_queue.parquet", work)
    report = {
        "load_id": load_id, "snapshot": snapshot.isoformat(), "records": int(len(records)),
        "persons": int(len(persons)), "proposals": int(len(cands)),
        "status": {k: int(v) for k, v in cands["status"].value_counts().sort_index().items()},
        "over_quota": int(cands["over_quota"].sum()),
        "fuzzy_links": int((links["decision"] == "link").sum()), "review_pairs": int(len(queue)),
    }
    log.info("identity %s: %s", load_id, report)
    return report


def _candidates(records: pd.DataFrame, review: pd.DataFrame, snapshot: dt.date, config: Config) -> pd.DataFrame:
    subs = records[records["source"] == "submission"].copy()
    mem = records[records["source"] == "membership"]

    # the keeper of each person's proposals
    nik_district = subs["nik"].str[:6]
    home = (nik_district == subs["district_code"].str.replace(".", "", regex=False)).astype(int)
    subs["_home"] = -home
    order = subs.sort_values(["person_key", "_home", "received_at", "source_file", "row_number"], kind="stable")
    keeper = order.drop_duplicates("person_key").set_index("person_key")
    subs["keeper_id"] = subs["person_key"].map(keeper["record_id"])
    kv = subs["person_key"].map(keeper["village_code"])
    is_dup = subs["record_id"] != subs["keeper_id"]
    kind = np.where(kv == subs["village_code"], "within_village",
                    np.where(kv.str[:5] == subs["village_code"].str[:5], "across_villages", "across_regencies"))

    # BPJS TK membership of the person
    active = mem[mem["status"] == "AKTIF"]
    pu = set(active.loc[active["segment"] == "PU", "person_key"])
    bpu = active.loc[active["segment"] == "BPU", ["person_key", "payer_village_code"]]
    # (person, paying village) as one string: a MultiIndex of millions of tuples costs gigabytes
    paid_here = (bpu["person_key"].astype("string") + "|" + bpu["payer_village_code"].astype("string")).dropna()
    bpu_here = ((subs["person_key"].astype("string") + "|" + subs["village_code"].astype("string"))
                .isin(paid_here).fillna(False).astype(bool))
    bpu_other = subs["person_key"].isin(bpu["person_key"]) & ~bpu_here
    age = _age(subs["birth_date"], snapshot)
    max_age = config.programme.max_age_years
    in_review = subs.index.isin(list(set(review["pos_i"]) | set(review["pos_j"]))) if len(review) else np.zeros(len(subs), bool)

    status = np.select(
        [is_dup, subs["person_key"].isin(pu), bpu_other, bpu_here, (age >= max_age).fillna(False), in_review],
        ["duplicate", "already_covered", "already_covered", "already_enrolled", "ineligible", "needs_review"],
        default="eligible")
    reason = np.select(
        [is_dup, subs["person_key"].isin(pu), bpu_other, bpu_here, (age >= max_age).fillna(False), in_review],
        ["duplicate_" + pd.Series(kind, index=subs.index), "active_pu", "double_funding", "bpu_paid_by_this_village",
         f"age_{max_age}_plus", "possible_same_person"], default="")
    subs["status"], subs["reason"] = status, pd.Series(reason, index=subs.index).replace("", None)
    subs["duplicate_of"] = subs["keeper_id"].where(is_dup)
    subs["duplicate_of_village"] = kv.where(is_dup)
    subs["age"] = age

    # quota, per village and the snapshot's year: eligible proposals in the order received
    quota = subs["area"].map({slug: r.quota_on(snapshot) for slug, r in config.regencies.items()}).astype("Int64")
    el = subs[subs["status"] == "eligible"].sort_values(["village_code", "received_at", "source_file", "row_number"])
    subs["quota_rank"] = el.groupby("village_code").cumcount().add(1).reindex(subs.index).astype("Int64")
    subs["quota"] = quota
    subs["over_quota"] = (subs["quota_rank"] > quota).fillna(False).astype(bool)
    cols = ["area", "record_id", "person_key", "source_file", "row_number", "village_code", "district_code",
            "regency_code", "funding_source", "status", "reason", "duplicate_of", "duplicate_of_village",
            "matched_by", "age", "quota", "quota_rank", "over_quota"]
    return subs[cols].sort_values(["area", "record_id"]).reset_index(drop=True)


def _person_table(records: pd.DataFrame) -> pd.DataFrame:
    r = records.assign(proposals=records["source"].eq("submission").astype(int),
                       memberships=records["source"].eq("membership").astype(int))
    g = r.groupby("person_key", sort=True)
    return pd.DataFrame({
        "niks": g["nik"].nunique(), "proposals": g["proposals"].sum(), "memberships": g["memberships"].sum(),
        "birth_date": g["birth_date"].first(),
    }).reset_index()


def _review_queue(records: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    cols = ["record_id", "source", "nik", "name", "birth_date", "village_code", "area"]
    left = records[cols].iloc[review["pos_i"]].reset_index(drop=True).add_suffix("_a")
    right = records[cols].iloc[review["pos_j"]].reset_index(drop=True).add_suffix("_b")
    meta = review[["pair_id", "name_score", "nik_distance"]].reset_index(drop=True)
    return pd.concat([meta, left, right], axis=1).sort_values("pair_id").reset_index(drop=True)


def _record_links(ledger: Ledger, records: pd.DataFrame, load_id: str) -> None:
    with ledger.session() as s:
        current = dict(s.execute(select(PersonLink.record_id, PersonLink.person_key).order_by(PersonLink.id)).all())
    changed = records.loc[records["record_id"].map(current) != records["person_key"], ["record_id", "person_key", "matched_by"]]
    if changed.empty:
        return
    rows = changed.rename(columns={"matched_by": "method"}).assign(
        reason=np.where(changed["record_id"].isin(list(current)), "person changed", "first seen"),
        load_id=load_id, linked_at=dt.datetime.now(dt.timezone.utc))
    with ledger.session() as s, s.begin():
        s.execute(insert(PersonLink), rows.to_dict("records"))


def decide(paths: DataPaths | None, pair: str, same_person: bool, by: str, note: str | None = None) -> None:
    """Record a reviewer's verdict on a review-queue pair; later nights apply it."""
    paths = paths or data_paths()
    ledger = Ledger(paths.ledger_url)
    try:
        ledger.record_all([ReviewDecision(pair_id=pair, same_person=same_person, decided_by=by, note=note,
                                          decided_at=dt.datetime.now(dt.timezone.utc))])
    finally:
        ledger.dispose()
