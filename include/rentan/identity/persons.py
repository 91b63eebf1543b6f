"""Records into persons: pairs weighed (same NIK first, then the blocking passes), linked tokens
grouped into persons (connected components), and each record keyed by its person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import select

from rentan.core.ledger import Ledger, ReviewDecision
from rentan.identity.blocking import candidate_pairs, features, nik_pairs
from rentan.identity.keys import hmac_sql, hmac_sql_pads
from rentan.identity.matching import mark_disputed, pair_id, score_pairs, score_same_nik
from rentan.identity.model import Model


def match(con: duckdb.DuckDBPyConnection, model: Model, ledger: Ledger, snapshot: dt.date,
          lap: Callable[[str], None]) -> tuple[pd.DataFrame, dict]:
    """The pairs that matter (links, pairs to review, two persons under one NIK), with their record
    ids and pair ids, reviewers' verdicts applied; and the candidate pairs each blocking pass found.
    Records sharing a NIK are weighed first: where they are found to be two persons, the NIK tells
    nothing against either record's links to others."""
    verdicts = _decisions(ledger)
    features(con, snapshot.year)
    lap("features")
    nik_pairs(con)
    same = _with_ids(con, score_same_nik(con, model), verdicts)
    split = same["decision"].isin(["conflict", "reviewer_different"]).to_numpy(bool)
    mark_disputed(con, same[split])
    lap("same_nik")
    passes = candidate_pairs(con, model.max_block)
    lap("blocking")
    fuzzy = _with_ids(con, score_pairs(con, model), verdicts)
    lap("scoring")
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


def _still_open(con: duckdb.DuckDBPyConnection, review: pd.DataFrame) -> pd.DataFrame:
    """The pairs to review, less those whose records the links have made one person anyway."""
    con.register("review_in", review[["pos_i", "pos_j"]].reset_index())
    moot = con.execute("""
        select r.index from review_in r join keyed a on a.pos = r.pos_i join keyed b on b.pos = r.pos_j
        where a.person_key = b.person_key""").df()["index"]
    fuzzy_moot = review.index.isin(moot) & ~review["same_nik"].to_numpy(bool)
    return review[~fuzzy_moot].reset_index(drop=True)


def _decisions(ledger: Ledger) -> dict[str, bool]:
    with ledger.session() as s:
        return {d.pair_id: d.same_person for d in s.scalars(select(ReviewDecision))}


@dataclass(frozen=True)
class Grouping:
    """What grouping the pairs decided: the fuzzy links, the records under one NIK found to be two
    persons (and which of those a link elsewhere explains), and the pairs left to review."""
    links: pd.DataFrame
    conflicts: pd.DataFrame
    explained: np.ndarray
    review: pd.DataFrame


def group(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame, key: bytes) -> Grouping:
    """Tables ``tok``, ``person_of`` and ``keyed`` from the weighed pairs; the pairs still to review."""
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
    _key_records(con, links, key)
    open_conflicts = conflicts[(conflicts["decision"] == "conflict").to_numpy(bool) & ~explained]
    review = pd.concat([pairs[~same_nik & (pairs["decision"] == "review").to_numpy(bool)], open_conflicts],
                       ignore_index=True)
    return Grouping(links, conflicts, explained, _still_open(con, review))
