"""Identity and eligibility measured against the sample generator's ground truth."""

from __future__ import annotations

import duckdb

from rentan.core.paths import DataPaths
from rentan.identity.keys import person_keys, secret

# what the stage should conclude for a proposal of each injected class
EXPECTED_STATUS = {
    "clean": "eligible", "sex_mismatch": "eligible", "lapsed_member": "eligible", "nik_mistyped": "eligible",
    "dup_within_village": "duplicate", "dup_across_villages": "duplicate", "dup_across_regencies": "duplicate",
    "already_active_pu": "already_covered", "active_bpu_other_payer": "already_covered",
    "active_bpu_same_village": "already_enrolled", "age_65_plus": "ineligible",
}
EXACT_DUPLICATES = ("dup_within_village", "dup_across_villages", "dup_across_regencies")


def measure(paths: DataPaths) -> dict:
    wh, truth = paths.warehouse / "silver", paths.truth
    con = duckdb.connect()
    try:
        con.execute(f"""
            create temp table c as
            select c.*, t.defect, t.person_id, t.true_nik
            from read_parquet('{wh}/enrolment_candidates/**/*.parquet', hive_partitioning=true) c
            join '{truth}/submissions.parquet' t on t.file = c.source_file and t.row_number = c.row_number""")
        expected = " ".join(f"when '{k}' then '{v}'" for k, v in EXPECTED_STATUS.items())
        per_class = con.execute(f"""
            select defect, count(*) as n, count(*) filter (where status = case defect {expected} end) as right,
                   mode(status) as usual
            from c where defect in ({", ".join(f"'{k}'" for k in EXPECTED_STATUS)}) group by all order by 1
        """).fetchall()
        # which of two proposals keeps the person is the stage's documented rule, not the generator's
        # order: a duplicate is right when it names a proposal of the same real person, and a
        # person proposed k times should give k - 1 duplicates
        dup_tp, dup_pred = con.execute("""
            select count(*) filter (where k.person_id = d.person_id), count(*)
            from c d join c k on k.record_id = d.duplicate_of where d.status = 'duplicate'""").fetchall()[0]
        dup_true = con.execute("""
            select coalesce(sum(n - 1), 0)
            from (select person_id, count(*) as n from c group by all having n > 1)""").fetchall()[0][0]
        # fuzzy: right when the record's person is its real person, whose key comes from the true NIK
        fz = con.execute("select matched_by, defect, person_key, true_nik from c").df()
    finally:
        con.close()
    fz["true_key"] = person_keys(fz["true_nik"], secret())
    fz["right"] = fz["person_key"] == fz["true_key"]
    linked = fz[fz["matched_by"] == "fuzzy"]
    mistyped = fz[fz["defect"] == "nik_mistyped"]
    fz_pred, fz_pure = len(linked), int(linked["right"].sum())
    mistyped_linked = int(mistyped["right"].sum())
    mistyped = len(mistyped)
    return {        "status_by_class": {d: {"rows": n, "right": r, "usual": u} for d, n, r, u in per_class},
        "exact_duplicates": {"precision": dup_tp / dup_pred if dup_pred else 1.0,
                             "recall": dup_tp / dup_true if dup_true else 1.0, "found": dup_tp, "injected": dup_true},
        "fuzzy": {"precision": fz_pure / fz_pred if fz_pred else 1.0,
                  "recall": mistyped_linked / mistyped if mistyped else 1.0,
                  "linked_records": fz_pred, "mistyped": mistyped, "mistyped_linked": mistyped_linked},
    }
