"""Identity and eligibility: one person, one record; nobody paid for twice ("tidak double").

Every night, from all of silver: records (village proposals and BPJS TK members) are grouped
into persons by NIK, and by fuzzy matching where a NIK was mistyped (blocking passes in
``blocking``, Fellegi-Sunter comparisons in ``matching``, weights and thresholds in the model file
``model.yaml``); records sharing a NIK whose other fields say they are two persons are kept apart
and reviewed. Each proposal then gets a status:

- ``duplicate``: the person is proposed elsewhere too and that proposal keeps them. The keeper is
  the proposal from the village in the district the NIK was issued in, else the earliest
  received, else the first by file and row;
- ``already_covered``: an active PU member (covered by an employer), or an active BPU member paid
  by someone else than this village (double funding);
- ``already_enrolled``: an active BPU member already paid by this village (a renewal);
- ``ineligible``: 65 or older on the snapshot date;
- ``needs_review``: in a pair a person must decide on (``rentan review``);
- ``eligible``: to enrol; ``over_quota`` marks those past the village's quota, in order received.

Outputs (silver): ``persons``, ``record_persons`` (the person of each record tonight),
``enrolment_candidates``, ``review_queue`` and the merge ledger
``merge_ledger`` (one Parquet file per night: which record became which person, when and why).
Reviewers' decisions live in the ledger database (``review_decision``).

The set work runs in DuckDB under a memory limit (``RENTAN_DUCKDB_MEMORY``, default 4GB) and
spills to ``work/identity`` beyond it, so a national night (millions of proposals against a
national membership extract) fits a modest worker; only the scored candidate pairs, the linked
NIKs and the review queue, all small, come up into Python.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import resource
import shutil
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import select

from rentan import lists as village_lists
from rentan.config import Config, load_config
from rentan.identity.blocking import candidate_pairs, features, nik_pairs
from rentan.identity.keys import hmac_sql, hmac_sql_pads, secret
from rentan.identity.matching import COMPARISONS, mark_disputed, pair_id, reason, score_pairs, score_same_nik
from rentan.identity.model import Model, load_model
from rentan.fsutil import replace_dir
from rentan.ingest.ledger import Ledger, ReviewDecision
from rentan.settings import IDENTITY_TABLES, DataPaths, data_paths, safe_name, snapshot_cutoff

log = logging.getLogger(__name__)

MEMORY_ENV = "RENTAN_DUCKDB_MEMORY"
SUB_COLUMNS = ("area", "source_file", "row_number", "file_sha256", "nik", "name", "name_norm", "birth_date",
               "sex", "village_code", "district_code", "regency_code", "funding_source")
MEM_COLUMNS = ("area", "kpj", "nik", "name", "name_norm", "birth_date", "segment", "status", "payer_village_code",
               "payer_kind")


def connect(work: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB session for heavy set work: bounded memory, spilling under ``work``."""
    spill = work / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": os.environ.get(MEMORY_ENV, "4GB"),
                                 "temp_directory": spill.as_posix()})
    # every output is written in an explicit order: tables need not keep their rows' order, which
    # lets DuckDB spill large builds instead of holding them
    con.execute("set enable_progress_bar = false; set preserve_insertion_order = false")
    return con


def _load_records(con: duckdb.DuckDBPyConnection, paths: DataPaths, ledger: Ledger, cutoff: dt.datetime,
                  config: Config) -> int:
    """Table ``records``: proposals and members from files received by the end of the snapshot's
    day (less the village-list rows a later list replaced), numbered by (source, record id)."""
    subs = paths.parquet_glob("silver", "submissions")
    if subs is None:
        return 0
    now = village_lists.current(paths, ledger, cutoff, config.programme.revision_share)
    received = pa.table({"file_sha256": pa.array(list(now.files), pa.string()),
                         "received_at": pa.array(list(now.files.values()), pa.timestamp("us", "UTC"))})
    con.register("received", received)
    con.register("replaced", now.replaced)
    sub_cols = ", ".join(f"s.{c}" for c in SUB_COLUMNS if c != "file_sha256")
    parts = [f"""
        select 'submission' as source, 'usulan:' || left(s.file_sha256, 16) || ':' || s.row_number as record_id,
               {sub_cols}, r.received_at
        from read_parquet('{subs}', hive_partitioning = true, union_by_name = true) s
        join received r using (file_sha256)
        anti join replaced x on x.file_sha256 = s.file_sha256 and x.row_number = s.row_number
        where s.nik is not null"""]
    mem = paths.parquet_glob("silver", "membership")
    if mem is not None:  # a night before any branch extract arrived still has proposals to decide on
        # extracts arrive again every month and overlap: a member is their latest row. Chosen on
        # the keys alone (a national extract has tens of millions of rows: sorting every column
        # of them would not fit), then joined back to the row's other columns.
        con.execute(f"""
            create temp table latest_member as
            select kpj, arg_max({{'f': m.file_sha256, 'r': m.row_number}}, (r.received_at, m.file_sha256, m.row_number))
                          as at
            from read_parquet('{mem}', hive_partitioning = true, union_by_name = true) m
            join received r using (file_sha256)
            where m.nik is not null and m.kpj is not null
            group by kpj""")
        # an extract standardised by an earlier version may lack a later column: it reads as null
        have = {r[0] for r in con.execute(
            f"describe select * from read_parquet('{mem}', hive_partitioning = true, union_by_name = true)"
        ).fetchall()}
        mem_cols = ", ".join(f"m.{c}" if c in have else f"null::varchar as {c}" for c in MEM_COLUMNS)
        parts.append(f"""
        select 'membership' as source, 'kpj:' || m.kpj as record_id, {mem_cols}
        from read_parquet('{mem}', hive_partitioning = true, union_by_name = true) m
        join latest_member l on l.at.f = m.file_sha256 and l.at.r = m.row_number""")
    con.execute(f"create temp table unnumbered as {' union all by name '.join(parts)}")
    # numbered in a stable order, the sort on the keys alone
    con.execute("""
        create table records as
        select o.pos, u.* from unnumbered u
        join (select source, record_id, (row_number() over (order by source, record_id) - 1)::bigint as pos
              from unnumbered) o using (source, record_id)""")
    con.execute("drop table unnumbered")
    for c in ("kpj", "segment", "status", "payer_village_code", "payer_kind"):
        if c not in [r[0] for r in con.execute("describe records").fetchall()]:
            con.execute(f"alter table records add column {c} varchar")
    # an extract standardised before payers were classified: a village code is a village, else unknown
    con.execute("""update records set payer_kind = case when payer_village_code is not null then 'village'
                                                       else 'unknown' end
                   where source = 'membership' and payer_kind is null""")
    return con.execute("select count(*) from records").fetchall()[0][0]


class _Clock:
    """Seconds spent in each phase of a night (wall, and CPU over all threads), for the report."""

    def __init__(self) -> None:
        self.t, self.c, self.seconds, self.cpu = time.perf_counter(), _cpu(), {}, {}

    def lap(self, phase: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        self.seconds[phase] = round(self.seconds.get(phase, 0) + now - self.t, 2)
        self.cpu[phase] = round(self.cpu.get(phase, 0) + cpu - self.c, 2)
        self.t, self.c = now, cpu


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _match(con: duckdb.DuckDBPyConnection, model: Model, ledger: Ledger, snapshot: dt.date,
           clock: _Clock) -> tuple[pd.DataFrame, dict]:
    """The pairs that matter (links, pairs to review, two persons under one NIK), with their record
    ids and pair ids, reviewers' verdicts applied; and the candidate pairs each blocking pass found.
    Records sharing a NIK are weighed first: where they are found to be two persons, the NIK tells
    nothing against either record's links to others."""
    verdicts = _decisions(ledger)
    features(con, snapshot.year)
    clock.lap("features")
    nik_pairs(con)
    same = _with_ids(con, score_same_nik(con, model), verdicts)
    split = same["decision"].isin(["conflict", "reviewer_different"]).to_numpy(bool)
    mark_disputed(con, same[split])
    clock.lap("same_nik")
    passes = candidate_pairs(con, model.max_block)
    clock.lap("blocking")
    fuzzy = _with_ids(con, score_pairs(con, model), verdicts)
    clock.lap("scoring")
    return pd.concat([same, fuzzy], ignore_index=True), passes


def _with_ids(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame, verdicts: dict[str, bool]) -> pd.DataFrame:
    """Pairs with their records' ids, their pair id, and the reviewers' verdicts applied."""
    con.register("kept_pos", pd.DataFrame({"pos": np.unique(np.concatenate(
        [pairs["pos_i"].to_numpy(np.int64), pairs["pos_j"].to_numpy(np.int64)]))}))
    ids = con.execute("select pos, record_id from records join kept_pos using (pos)").df()
    ids = pd.Series(ids["record_id"].to_numpy(object), index=ids["pos"].to_numpy())
    pairs["record_i"] = pd.array(ids.reindex(pairs["pos_i"]).to_numpy(object), dtype="string")
    pairs["record_j"] = pd.array(ids.reindex(pairs["pos_j"]).to_numpy(object), dtype="string")
    pairs["pair_id"] = pd.Series(dtype="string") if pairs.empty else pair_id(pairs["record_i"], pairs["record_j"])
    verdict = pairs["pair_id"].map(verdicts)
    pairs.loc[verdict.eq(True).fillna(False).to_numpy(bool), "decision"] = "reviewer_same"
    pairs.loc[verdict.eq(False).fillna(False).to_numpy(bool), "decision"] = "reviewer_different"
    return pairs


def _split_groups(con: duckdb.DuckDBPyConnection, conflicts: pd.DataFrame, anchor_linked: np.ndarray) -> pd.DataFrame:
    """The records split from the person their NIK belongs to, each with the record whose group it
    joins (``group_pos``): a record in conflict with its NIK's anchor is a group of its own; where
    the anchor is the one that belongs elsewhere (it links to another person, the record does
    not), the anchor leaves with every record of the NIK that agrees with it, so that one
    person's records on a NIK they slipped onto stay together."""
    own = conflicts["pos_j"].to_numpy(np.int64)[~anchor_linked]
    anchors = np.unique(conflicts["pos_i"].to_numpy(np.int64)[anchor_linked])
    con.register("split_anchor", pd.DataFrame({"pos_i": anchors}))
    con.register("in_conflict", conflicts[["pos_i", "pos_j"]].astype("int64"))
    followers = con.execute("""
        select pos_i as pos, pos_i as group_pos from split_anchor
        union all
        select n.pos_j, n.pos_i from nik_pairs n join split_anchor using (pos_i)
        anti join in_conflict c on c.pos_i = n.pos_i and c.pos_j = n.pos_j""").df()
    out = pd.concat([pd.DataFrame({"pos": own, "group_pos": own}), followers], ignore_index=True)
    return out.drop_duplicates("pos").astype("int64")


def _persons(con: duckdb.DuckDBPyConnection, links: pd.DataFrame, split: pd.DataFrame) -> None:
    """Table ``tok``: each record's identity token (its NIK, or for a record split from the person
    its NIK belongs to, the NIK and the record id of its group) and the token of its person: linked
    tokens form one person, which takes the token BPJS knows if any, else the most frequent, else
    the smallest. Tokens in no link are their own person."""
    con.register("split_pos", split)
    con.execute("""
        create or replace table tok as
        select r.pos, r.source,
               case when s.pos is null then r.nik else r.nik || '#' || g.record_id end as token
        from records r left join split_pos s using (pos) left join records g on g.pos = s.group_pos""")
    con.register("link_pos", links[["pos_i", "pos_j"]])
    edges = con.execute("""
        select a.token as token_i, b.token as token_j
        from link_pos l join tok a on a.pos = l.pos_i join tok b on b.pos = l.pos_j""").df()
    tokens = pd.Index(sorted(set(edges["token_i"]) | set(edges["token_j"])))
    if tokens.empty:
        con.execute("create or replace table person_of (token varchar, canonical varchar)")
        return
    a, b = tokens.get_indexer(edges["token_i"]), tokens.get_indexer(edges["token_j"])
    _, component = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(len(tokens), len(tokens))),
                                        directed=False)
    con.register("linked_tokens", pd.DataFrame({"token": tokens.astype(str), "component": component}))
    con.execute("""
        create or replace table person_of as
        with stats as (
            select l.token, l.component, bool_or(t.source = 'membership') as in_bpjs, count(*) as n
            from linked_tokens l join tok t using (token) group by all)
        select token, first(token) over (partition by component order by in_bpjs desc, n desc, token) as canonical
        from stats""")


def _key_records(con: duckdb.DuckDBPyConnection, links: pd.DataFrame, key: bytes) -> None:
    """Table ``keyed``: records with their person key (HMAC of their person's token, computed in
    SQL: a NIK's key is the same every night) and how they were matched."""
    inner, outer = hmac_sql_pads(key)
    con.register("fuzzy_pos", pd.DataFrame({"pos": np.unique(np.concatenate(
        [links["pos_i"].to_numpy(np.int64), links["pos_j"].to_numpy(np.int64)]))}))
    con.execute(f"""
        create or replace table keyed as
        select r.*,
               {hmac_sql("coalesce(p.canonical, t.token)")} as person_key,
               case when f.pos is null then 'nik' else 'fuzzy' end as matched_by
        from records r join tok t using (pos) left join person_of p using (token) left join fuzzy_pos f using (pos)""",
                {"inner": inner, "outer": outer})


def _candidates(con: duckdb.DuckDBPyConnection, review: pd.DataFrame, snapshot: dt.date, config: Config) -> None:
    """Table ``candidates``: each proposal with its status and reason, keeper, age and quota rank."""
    max_age = config.programme.max_age_years
    con.register("review_pos", pd.DataFrame({"pos": np.unique(np.concatenate(
        [review["pos_i"].to_numpy(np.int64), review["pos_j"].to_numpy(np.int64)]))}))
    quotas = [(slug, r.quota_on(snapshot)) for slug, r in config.regencies.items()]
    con.register("quotas", pd.DataFrame(quotas, columns=["area", "quota"]).astype({"quota": "Int64"}))
    con.execute(f"""
        create table candidates as
        with subs as (
            select * exclude (kpj, segment, status, payer_village_code, payer_kind),
                   coalesce(left(nik, 6) = replace(district_code, '.', ''), false) as home
            from keyed where source = 'submission'
        ), kept as (
            select *,
                   first(record_id) over keeper as keeper_id,
                   first(village_code) over keeper as keeper_village,
                   first(funding_source) over keeper as keeper_funding
            from subs
            window keeper as (partition by person_key
                              order by home desc, received_at asc nulls last, source_file, row_number)
        ), active as (
            select person_key, segment, payer_village_code, payer_kind from keyed
            where source = 'membership' and status = 'AKTIF'
        ), member as (
            select person_key, bool_or(segment = 'PU') as pu,
                   -- paid by someone the extract does not let us name: never an accusation
                   bool_or(segment = 'BPU' and payer_kind = 'unknown') as bpu_unknown
            from active group by person_key
        ), paid_by as (
            select distinct person_key, payer_village_code from active
            where segment = 'BPU' and payer_kind = 'village' and payer_village_code is not null
        ), others as (
            -- BPU memberships whose payer we can name: a village, the member, an employer, a budget
            select a.person_key, a.payer_village_code from active a
            where a.segment = 'BPU' and a.payer_kind <> 'unknown'
        ), flagged as (
            select k.*,
                   k.record_id <> k.keeper_id as is_dup,
                   case when k.keeper_village = k.village_code then 'within_village'
                        when left(k.keeper_village, 5) = left(k.village_code, 5) then 'across_villages'
                        else 'across_regencies' end as dup_kind,
                   coalesce(m.pu, false) as pu,
                   p.person_key is not null as bpu_here,
                   exists (select 1 from others o where o.person_key = k.person_key
                           and o.payer_village_code is distinct from k.village_code) as bpu_other,
                   coalesce(m.bpu_unknown, false) and p.person_key is null as bpu_payer_unknown,
                   k.funding_source is not null and k.keeper_funding is not null
                     and k.funding_source <> k.keeper_funding as other_budget,
                   -- a kelurahan (serial starting with 1) has no village fund to pay from
                   coalesce(substr(k.village_code, 10, 1) = '1', false) as kelurahan,
                   year(DATE '{snapshot.isoformat()}') - year(k.birth_date)
                     - case when month(k.birth_date) > {snapshot.month}
                                 or (month(k.birth_date) = {snapshot.month} and day(k.birth_date) > {snapshot.day})
                            then 1 else 0 end as age,
                   rp.pos is not null as in_review
            from kept k
            left join member m using (person_key)
            left join paid_by p on p.person_key = k.person_key and p.payer_village_code = k.village_code
            left join review_pos rp on rp.pos = k.pos
        ), decided as (
            select *,
                   case when is_dup then 'duplicate' when pu then 'already_covered' when bpu_other then 'already_covered'
                        when bpu_here then 'already_enrolled' when bpu_payer_unknown then 'needs_review'
                        when kelurahan then 'ineligible' when coalesce(age >= {max_age}, false) then 'ineligible'
                        when in_review then 'needs_review' else 'eligible' end as status,
                   case when is_dup and other_budget then 'double_funding_budget'
                        when is_dup then 'duplicate_' || dup_kind when pu then 'active_pu'
                        when bpu_other then 'double_funding' when bpu_here then 'bpu_paid_by_this_village'
                        when bpu_payer_unknown then 'payer_unknown' when kelurahan then 'not_a_desa'
                        when coalesce(age >= {max_age}, false) then 'age_limit'
                        when in_review then 'possible_same_person' end as reason
            from flagged
        ), ranked as (
            select d.*, q.quota,
                   case when d.status = 'eligible' then row_number() over (
                       partition by d.village_code, d.status = 'eligible'
                       order by d.received_at asc nulls last, d.source_file, d.row_number) end as quota_rank
            from decided d left join quotas q using (area)
        )
        select area, pos, record_id, person_key, source_file, row_number, village_code, district_code, regency_code,
               funding_source, status, reason,
               case when is_dup then keeper_id end as duplicate_of,
               case when is_dup then keeper_village end as duplicate_of_village,
               matched_by, age::integer as age, quota::integer as quota, quota_rank::integer as quota_rank,
               coalesce(quota_rank > quota, false) as over_quota
        from ranked""")


# what is at stake in a pair, most first: a proposal that would be enrolled unless the pair is one person
_STAKES = (
    (1, "a proposal to enrol, against an active member: double cover",
     "usulan yang akan didaftarkan, dengan peserta aktif: kepesertaan ganda"),
    (2, "a proposal to enrol, against another proposal: enrolled twice",
     "usulan yang akan didaftarkan, dengan usulan lain: didaftarkan dua kali"),
    (3, "a proposal to enrol, against a lapsed member", "usulan yang akan didaftarkan, dengan peserta tidak aktif"),
    (4, "no proposal waiting on it", "tidak ada usulan yang menunggu"),
)


def _review_queue(con: duckdb.DuckDBPyConnection, review: pd.DataFrame, model: Model) -> pd.DataFrame:
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


def _still_open(con: duckdb.DuckDBPyConnection, review: pd.DataFrame) -> pd.DataFrame:
    """The pairs to review, less those whose records the links have made one person anyway."""
    con.register("review_in", review[["pos_i", "pos_j"]].reset_index())
    moot = con.execute("""
        select r.index from review_in r join keyed a on a.pos = r.pos_i join keyed b on b.pos = r.pos_j
        where a.person_key = b.person_key""").df()["index"]
    fuzzy_moot = review.index.isin(moot) & ~review["same_nik"].to_numpy(bool)
    return review[~fuzzy_moot].reset_index(drop=True)


def _write_candidates(con: duckdb.DuckDBPyConnection, folder: Path, batch: int = 200_000) -> None:
    """One file per regency (``area=<slug>/candidates.parquet``), its proposals in record id order:
    the table read once, sorted by area and record number, and streamed in batches into one
    writer per area, so that neither a national night's table nor a scan per area is needed."""
    reader = con.sql("select * exclude (pos) from candidates order by area, pos").to_arrow_reader(batch)
    names = [n for n in reader.schema.names if n != "area"]
    schema = pa.schema([reader.schema.field(n) for n in names])
    writer, current = None, None
    try:
        for b in reader:
            areas = b.column("area").to_numpy(zero_copy_only=False)
            starts = [0, *(np.flatnonzero(areas[1:] != areas[:-1]) + 1).tolist()]
            for lo, hi in zip(starts, [*starts[1:], len(areas)]):
                if areas[lo] != current:
                    if writer is not None:
                        writer.close()
                    current = areas[lo]
                    (folder / f"area={current}").mkdir(parents=True)
                    writer = pq.ParquetWriter(folder / f"area={current}" / "candidates.parquet", schema,
                                              compression="zstd")
                writer.write_batch(b.slice(lo, hi - lo).select(names))
    finally:
        if writer is not None:
            writer.close()
    folder.mkdir(parents=True, exist_ok=True)


def _file_name(load_id: str) -> str:
    return safe_name(load_id) + ".parquet"


def _merge_ledger(con: duckdb.DuckDBPyConnection, paths: DataPaths, load_id: str, target: Path,
                  rules_version: str) -> int:
    """Writes this night's merge-ledger file: each record first seen, or whose person changed since
    the latest earlier night. A rerun of the same night compares with the nights before it, so it
    writes the same lines again rather than nothing."""
    folder = paths.warehouse / "silver" / "merge_ledger"
    own = folder / _file_name(load_id)
    earlier = [p for p in sorted(folder.glob("*.parquet")) if p != own]
    if earlier:
        files = ", ".join(f"'{p.as_posix()}'" for p in earlier)
        con.execute(f"""create table current_link as
            select record_id, arg_max(person_key, linked_at) as person_key
            from read_parquet([{files}]) group by record_id""")
    else:
        con.execute("create table current_link (record_id varchar, person_key varchar)")
    now = dt.datetime.now(dt.timezone.utc)
    con.execute(f"""
        copy (
            select k.record_id, k.person_key, k.matched_by as method,
                   case when c.record_id is null then 'first seen' else 'person changed' end as reason,
                   $load_id as load_id, $now::timestamptz as linked_at, $rules as rules_version
            from keyed k left join current_link c using (record_id)
            where c.person_key is distinct from k.person_key
            order by k.pos
        ) to '{target.as_posix()}' (format parquet, compression zstd)""",
                {"load_id": load_id, "now": now, "rules": rules_version})
    return con.execute(f"select count(*) from '{target.as_posix()}'").fetchall()[0][0]


def _decisions(ledger: Ledger) -> dict[str, bool]:
    with ledger.session() as s:
        return {d.pair_id: d.same_person for d in s.scalars(select(ReviewDecision))}


# a snapshot's identity tables are kept this long after they were written: long enough for its
# marts and exports (and a retry of them); a backfilled night writes its own again
KEEP_SNAPSHOTS_FOR = dt.timedelta(days=7)


def _forget_old_snapshots(current: Path) -> None:
    oldest = (dt.datetime.now() - KEEP_SNAPSHOTS_FOR).timestamp()
    for d in current.parent.iterdir():
        if d.is_dir() and d != current and not d.name.startswith(".") and d.stat().st_mtime < oldest:
            shutil.rmtree(d, ignore_errors=True)


def _publish(tmp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


def resolve(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date,
            config: Config | None = None, cutoff: dt.datetime | None = None) -> dict:
    """Persons and enrolment candidates of ``snapshot``, from the files received before ``cutoff``
    (default: the end of the snapshot's day, WIB)."""
    paths = paths or data_paths()
    config = config or load_config()
    work = paths.work / "identity" / f"run-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ledger = Ledger(paths.ledger_url)
    con = connect(work)
    out = paths.warehouse / "silver"
    clock = _Clock()
    try:
        n_records = _load_records(con, paths, ledger, cutoff or snapshot_cutoff(snapshot), config)
        clock.lap("load")
        if n_records == 0:
            # nothing had arrived by this snapshot: no outputs, rather than a later night's
            for table in IDENTITY_TABLES:
                shutil.rmtree(out / table, ignore_errors=True)
            shutil.rmtree(paths.identity_dir(snapshot), ignore_errors=True)
            log.info("identity: nothing received by %s", snapshot)
            return {"load_id": load_id, "snapshot": snapshot.isoformat(), "records": 0}
        model = load_model()
        pairs, passes = _match(con, model, ledger, snapshot, clock)
        same_nik = pairs["same_nik"].to_numpy(bool)
        links = pairs[~same_nik & pairs["decision"].isin(["link", "reviewer_same"]).to_numpy(bool)]
        conflicts = pairs[same_nik & pairs["decision"].isin(["conflict", "reviewer_different"]).to_numpy(bool)]
        # two persons under one NIK: one of them becomes a person of their own, the one linked to
        # another person elsewhere if it is (a slip onto the NIK of someone born that day there), else
        # the one that is not the NIK's anchor; a link elsewhere explains the conflict, no review needed
        linked = np.union1d(links["pos_i"].to_numpy(np.int64), links["pos_j"].to_numpy(np.int64))
        anchor_linked = np.isin(conflicts["pos_i"], linked) & ~np.isin(conflicts["pos_j"], linked)
        split = np.where(anchor_linked, conflicts["pos_i"], conflicts["pos_j"])
        explained = np.isin(split, linked)
        _persons(con, links, _split_groups(con, conflicts, anchor_linked))
        _key_records(con, links, secret())
        open_conflicts = conflicts[(conflicts["decision"] == "conflict").to_numpy(bool) & ~explained]
        review = pd.concat([pairs[~same_nik & (pairs["decision"] == "review").to_numpy(bool)], open_conflicts],
                           ignore_index=True)
        review = _still_open(con, review)
        clock.lap("persons")
        _candidates(con, review, snapshot, config)
        queue = _review_queue(con, review, model)
        clock.lap("candidates")

        # written under work, then moved into place: readers never see half a table
        stage = work / "out"
        stage.mkdir(parents=True)
        con.execute(f"""copy (select person_key, count(distinct nik) as niks,
                                     count(*) filter (where source = 'submission') as proposals,
                                     count(*) filter (where source = 'membership') as memberships,
                                     arg_min(birth_date, pos) filter (where birth_date is not null) as birth_date
                              from keyed group by person_key order by person_key)
                        to '{(stage / "persons.parquet").as_posix()}' (format parquet, compression zstd)""")
        clock.lap("write_persons")
        _write_candidates(con, stage / "candidates")
        clock.lap("write_candidates")
        # which person each record (proposal or membership) is tonight: what the marts join on
        # records are numbered in record id order (see _load_records): sorting on the number is the same
        con.execute(f"""copy (select record_id, source, person_key, matched_by from keyed order by pos)
                        to '{(stage / "record_persons.parquet").as_posix()}' (format parquet, compression zstd)""")
        pq.write_table(pa.Table.from_pandas(queue, preserve_index=False), stage / "review_queue.parquet",
                       compression="zstd")
        clock.lap("write_record_persons")
        linked_lines = _merge_ledger(con, paths, load_id, stage / "merge_ledger.parquet", model.version)
        clock.lap("write_merge_ledger")
        stats = dict(con.execute("select status, count(*) from candidates group by 1 order by 1").fetchall())
        n_persons = con.execute("select count(distinct person_key) from keyed").fetchall()[0][0]
        n_over = con.execute("select count(*) filter (where over_quota) from candidates").fetchall()[0][0]
        clock.lap("write")
    finally:
        con.close()
        ledger.dispose()

    produced = sorted((stage / "candidates").glob("area=*"))
    # this snapshot's own copy first (hard links: no data copied), swapped in whole, so a night's
    # marts read its own night's persons even if another night (a backfill) has run since
    version = work / "version"
    files = {"persons/persons.parquet": stage / "persons.parquet",
             "record_persons/record_persons.parquet": stage / "record_persons.parquet",
             "review_queue/review_queue.parquet": stage / "review_queue.parquet",
             **{f"enrolment_candidates/{p.name}/candidates.parquet": p / "candidates.parquet" for p in produced}}
    for rel, src in files.items():
        (version / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(src, version / rel)
    paths.identity_dir(snapshot).parent.mkdir(parents=True, exist_ok=True)
    replace_dir(version, paths.identity_dir(snapshot))
    _forget_old_snapshots(paths.identity_dir(snapshot))
    _publish(stage / "persons.parquet", out / "persons" / "persons.parquet")
    for part in produced:
        _publish(part / "candidates.parquet", out / "enrolment_candidates" / part.name / "candidates.parquet")
    for stale in (out / "enrolment_candidates").glob("area=*"):
        if stale.name not in {p.name for p in produced}:
            shutil.rmtree(stale, ignore_errors=True)
    _publish(stage / "record_persons.parquet", out / "record_persons" / "record_persons.parquet")
    _publish(stage / "review_queue.parquet", out / "review_queue" / "review_queue.parquet")
    _publish(stage / "merge_ledger.parquet", out / "merge_ledger" / _file_name(load_id))
    shutil.rmtree(work, ignore_errors=True)
    report = {
        "load_id": load_id, "snapshot": snapshot.isoformat(), "records": int(n_records),
        "persons": int(n_persons), "proposals": int(sum(stats.values())),
        "status": {k: int(v) for k, v in sorted(stats.items())}, "over_quota": int(n_over),
        "fuzzy_links": int((links["decision"] == "link").sum()), "review_pairs": int(len(queue)),
        "nik_conflicts": int(len(conflicts)), "nik_conflicts_explained": int(explained.sum()),
        "candidate_pairs": passes, "rules_version": model.version, "seconds": clock.seconds, "cpu_seconds": clock.cpu,
        "merge_ledger_lines": int(linked_lines),
    }
    log.info("identity %s: %s", load_id, report)
    return report


def decide(paths: DataPaths | None, pair: str, same_person: bool, by: str, note: str | None = None) -> None:
    """Record a reviewer's verdict on a review-queue pair; later nights apply it."""
    paths = paths or data_paths()
    ledger = Ledger(paths.ledger_url)
    try:
        ledger.record_all([ReviewDecision(pair_id=pair, same_person=same_person, decided_by=by, note=note,
                                          decided_at=dt.datetime.now(dt.timezone.utc))])
    finally:
        ledger.dispose()
