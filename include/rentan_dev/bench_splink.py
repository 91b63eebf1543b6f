"""Splink 5 on DuckDB over the linkage benchmark's silver: the peer ``make bench`` measures rentan against.

Run by ``rentan_dev.bench_identity`` with the Python of Splink's own virtual environment (``make bench``
installs it from ``requirements-splink.lock``), so it imports Splink, DuckDB and the standard library
only, never rentan. It reads the same silver records rentan's identity reads, builds a model as
Splink's documentation recommends for person data (a Damerau-Levenshtein NIK comparison, Splink's
name comparison with term-frequency adjustments, the name tokens' overlap, its date-of-birth
comparison, sex; blocking rules on the NIK and its parts, the birth date and the name), trains it as
the documentation does (the prior from deterministic rules, u by random sampling, m by
expectation maximisation on two blocking rules), predicts and clusters. It writes the scored pairs
(for the caller's threshold sweep), the clusters at ``--threshold``, and its timings.

Usage: ``python bench_splink.py <data root> <output folder> [--threshold 0.9]``
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

INPUT_SQL = """
select record_id as unique_id, nik, name_norm,
       string_split(name_norm, ' ') as name_tokens,
       split_part(name_norm, ' ', 1) as first_token,
       birth_date, year(birth_date) as birth_year,
       coalesce(sex, case when substr(nik, 7, 2)::int > 40 then 'P' else 'L' end) as sex,
       left(nik, 6) as region
from (
    select 'usulan:' || left(file_sha256, 16) || ':' || row_number as record_id, nik, name_norm, birth_date, sex
    from read_parquet('{root}/warehouse/silver/submissions/**/*.parquet', hive_partitioning = true, union_by_name = true)
    where nik is not null
    union all
    select 'kpj:' || kpj, nik, name_norm, birth_date, null
    from read_parquet('{root}/warehouse/silver/membership/**/*.parquet', hive_partitioning = true, union_by_name = true)
    where nik is not null and kpj is not null
    qualify row_number() over (partition by kpj order by file_sha256 desc) = 1
)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("out")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--memory", default="8GB")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    import duckdb
    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": args.memory, "temp_directory": str(out / "spill")})
    con.execute("create table records_in as " + INPUT_SQL.format(root=Path(args.root).as_posix()))
    db_api = DuckDBAPI(connection=con)
    df = db_api.register(con.table("records_in"))
    timings["read"] = time.perf_counter() - t0

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("nik"),
            block_on("birth_date", "first_token"),
            block_on("region", "birth_date"),
            block_on("name_norm", "birth_year"),
            block_on("region", "substr(nik, 13, 4)", "birth_year"),
            block_on("substr(nik, 7, 6)", "substr(nik, 13, 4)", "first_token"),
        ],
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("nik", [1, 2]),
            cl.NameComparison("name_norm").configure(term_frequency_adjustments=True),
            cl.ArrayIntersectAtSizes("name_tokens", [2, 1]),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("sex"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nik"), block_on("name_norm", "birth_date", "region")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date", "first_token"))
    timings["train"] = time.perf_counter() - t0 - sum(timings.values())

    pred = linker.inference.predict(threshold_match_probability=0.01)
    timings["predict"] = time.perf_counter() - t0 - sum(timings.values())
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=args.threshold)
    con.sql(f"copy (select unique_id as record_id, cluster_id as cluster from {clusters.physical_name}) "
            f"to '{(out / 'clusters.parquet').as_posix()}' (format parquet)")
    timings["cluster"] = time.perf_counter() - t0 - sum(timings.values())
    total = time.perf_counter() - t0
    # the records and the scored pairs, for the threshold sweep (not part of Splink's time)
    con.sql(f"copy (select unique_id as record_id from records_in order by 1) "
            f"to '{(out / 'records.parquet').as_posix()}' (format parquet)")
    con.sql(f"copy (select unique_id_l, unique_id_r, match_weight, match_probability from {pred.physical_name}) "
            f"to '{(out / 'pairs.parquet').as_posix()}' (format parquet)")
    report = {"seconds": round(total, 2), "timings": {k: round(v, 2) for k, v in timings.items()},
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "splink": splink.__version__, "duckdb": duckdb.__version__, "threshold": args.threshold,
              "records": con.sql("select count(*) from records_in").fetchall()[0][0],
              "pairs_scored": con.sql(f"select count(*) from {pred.physical_name}").fetchall()[0][0],
              "match_weights": linker.misc.save_model_to_json() if hasattr(linker, "misc") else None}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "match_weights"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
