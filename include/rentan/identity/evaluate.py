"""Linkage measured against the linkage benchmark's ground truth (``rentan_dev.sample.linkage``).

Whatever made the clusters (rentan's identity stage, or a peer such as Splink), the input is one
row per record, ``(record_id, cluster)``, and the figures are the same:

- pairwise precision, recall and F1: a pair of records is predicted when both are in one cluster,
  true when both are one person; counted per cluster and person, never by listing all pairs;
- recall per noise kind: of the true pairs in which either record carries that kind;
- look-alikes merged: the share of pairs of records of two look-alike persons (namesakes, twins,
  siblings) put in one cluster, per kind;
- the review queue, when given: its size, how many of its pairs are one person, and how many are
  truly ambiguous (see ``AMBIGUOUS``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# Noise kinds by the field they change; formatting (titles, degrees, bin/binti, Muhammad) is what
# normalised names drop, so it changes no field
FIELD_OF = {"nik_substitution": "nik", "nik_transposition": "nik", "nik_of_another": "nik", "name_typo": "name",
            "name_token_dropped": "name", "name_token_added": "name", "old_spelling": "name",
            "birth_placeholder": "birth", "birth_day_month_swap": "birth"}
AMBIGUOUS = ("a pair of look-alikes (namesakes, twins, siblings); two persons sharing one NIK; one person "
             "whose NIKs differ in the serial's last digit only (the next person's serial looks the same); "
             "or one person whose records differ in two fields or more")


def _clusters(con: duckdb.DuckDBPyConnection, clusters: pd.DataFrame | str) -> None:
    if isinstance(clusters, pd.DataFrame):
        con.register("clusters_in", clusters)
        con.execute("create or replace temp table clusters as select record_id, cluster::varchar as cluster from clusters_in")
    else:
        con.execute(f"create or replace temp table clusters as select record_id, cluster::varchar as cluster from {clusters}")


def measure(truth_dir: Path, clusters: pd.DataFrame | str, review: pd.DataFrame | None = None) -> dict:
    """Pairwise figures of ``clusters`` (a frame, or a SQL relation, of record_id and cluster)."""
    con = duckdb.connect()
    try:
        con.execute(f"create temp table truth as select * from '{(truth_dir / 'records*.parquet').as_posix()}'")
        _clusters(con, clusters)
        missing = con.execute("select count(*) from truth left join clusters using (record_id) "
                              "where clusters.record_id is null").fetchall()[0][0]
        con.execute("""create temp table t as
                       select t.*, coalesce(c.cluster, 'alone:' || t.record_id) as cluster
                       from truth t left join clusters c using (record_id)""")
        tp, pred, true = con.execute("""
            select (select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) n from t group by cluster, person_id)),
                   (select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) n from t group by cluster)),
                   (select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) n from t group by person_id))
        """).fetchall()[0]
        precision = tp / pred if pred else 1.0
        recall = tp / true if true else 1.0
        # the true pairs, each with the noise kinds of both records
        con.execute("""
            create temp table true_pairs as
            with multi as (select * from t where person_id in (select person_id from t group by 1 having count(*) > 1))
            select a.record_id as record_a, b.record_id as record_b, a.cluster = b.cluster as linked,
                   list_distinct(list_filter(string_split(a.noise, ',') || string_split(b.noise, ','),
                                             lambda x: x <> '')) as kinds
            from multi a join multi b on a.person_id = b.person_id and a.record_id < b.record_id""")
        per_kind = con.execute("""
            select kind, count(*) as pairs, count(*) filter (where linked) as linked
            from (select unnest(kinds) as kind, linked from true_pairs) group by kind order by kind""").fetchall()
        clean = con.execute("select count(*), count(*) filter (where linked) from true_pairs where len(kinds) = 0").fetchall()[0]
        look = con.execute(f"""
            select l.kind, count(*) as pairs, count(*) filter (where a.cluster = b.cluster) as merged
            from '{(truth_dir / 'lookalikes*.parquet').as_posix()}' l
            join t a on a.record_id = l.record_a join t b on b.record_id = l.record_b
            group by 1 order by 1""").fetchall()
        n_records = con.execute("select count(*) from t").fetchall()[0][0]
        out = {
            "records": int(n_records), "records_without_cluster": int(missing),
            "true_pairs": int(true), "predicted_pairs": int(pred), "true_positive_pairs": int(tp),
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "recall_by_noise": {k: {"pairs": int(p), "recall": lk / p} for k, p, lk in per_kind},
            "recall_clean_pairs": {"pairs": int(clean[0]), "recall": clean[1] / clean[0] if clean[0] else 1.0},
            "lookalikes_merged": {k: {"pairs": int(p), "merged": int(m), "share": m / p} for k, p, m in look},
        }
        if review is not None:
            out["review"] = _review(con, review, n_records, truth_dir)
        return out
    finally:
        con.close()


def _review(con: duckdb.DuckDBPyConnection, review: pd.DataFrame, n_records: int, truth_dir: Path) -> dict:
    """The queue's pairs by what they truly are."""
    con.register("review_in", review[["record_id_a", "record_id_b", "nik_a", "nik_b"]])
    field_of = ", ".join(f"('{k}', '{v}')" for k, v in FIELD_OF.items())
    look = (truth_dir / "lookalikes*.parquet").as_posix()
    r = con.execute(f"""
        with fields(kind, field) as (values {field_of}),
        look as (select record_a, record_b from '{look}' union select record_b, record_a from '{look}'),
        r as (
            select r.*, a.person_id = b.person_id as same, l.record_a is not null as lookalike,
                   list_filter(string_split(a.noise, ',') || string_split(b.noise, ','), lambda x: x <> '') as kinds
            from review_in r join t a on a.record_id = r.record_id_a join t b on b.record_id = r.record_id_b
            left join look l on l.record_a = r.record_id_a and l.record_b = r.record_id_b
        ), k as (
            select r.record_id_a, r.record_id_b, count(distinct f.field) as fields
            from (select record_id_a, record_id_b, unnest(kinds) as kind from r) r join fields f using (kind)
            group by all
        )
        select r.same, r.lookalike, r.nik_a = r.nik_b as same_nik,
               left(r.nik_a, 15) = left(r.nik_b, 15) and r.nik_a <> r.nik_b as last_digit_only,
               coalesce(k.fields, 0) as fields
        from r left join k using (record_id_a, record_id_b)""").df()
    if r.empty:
        return {"pairs": 0, "share_of_records": 0.0, "same_person": 0, "truly_ambiguous": 0, "ambiguous_share": 1.0}
    ambiguous = (r["lookalike"] | (~r["same"] & r["same_nik"])
                 | (r["same"] & (r["last_digit_only"] | (r["fields"] >= 2))))
    return {"pairs": len(r), "share_of_records": len(r) / n_records, "same_person": int(r["same"].sum()),
            "lookalikes": int(r["lookalike"].sum()), "same_nik_two_persons": int((~r["same"] & r["same_nik"]).sum()),
            "truly_ambiguous": int(ambiguous.sum()), "ambiguous_share": float(ambiguous.mean())}
