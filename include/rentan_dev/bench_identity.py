"""``make bench``'s identity benchmark: the linkage benchmark (``rentan_dev.sample.linkage``) beside Splink.

``--compare P:M`` writes P proposals and M members (the provinces of South Sumatra and Lampung)
and measures, on the same records and in the same run, rentan's identity stage (``resolve``, in
a process of its own: wall time and peak memory) and Splink 5 on DuckDB (``rentan_dev.bench_splink``,
run with the Python of its own virtual environment, ``--splink-python``); Splink's clusters are
taken at its best threshold against the ground truth, rentan's as they come. It prints one table
of both, with recall per noise kind. ``--national P:M`` writes P proposals and M members over all
of Indonesia and measures rentan alone. Usage:
``python -m rentan_dev.bench_identity --splink-python PY --compare 682000:320000 --national 8400000:20000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rentan_dev.bench import _measure

# thresholds on Splink's match probability tried for its best F1 (its clusters at each)
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)
COMPARE_PROVINCES = ("16", "18")
# DuckDB's memory limit for the national run, unless RENTAN_DUCKDB_MEMORY says otherwise: with the
# default 4GB, 28 million records spill most of their set work to disk; 8GB keeps the whole process
# within 12 GB
NATIONAL_MEMORY = "8GB"


def _generate(root: str, proposals: int, members: int, provinces: tuple[str, ...] | None) -> dict:
    from rentan_dev.sample.linkage import generate

    return generate(root, proposals=proposals, members=members, provinces=provinces)


def _resolve(root: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.identity import resolve

    r = resolve(data_paths(root), load_id="bench", snapshot=dt.date(2025, 6, 30))
    return {k: r[k] for k in ("records", "persons", "fuzzy_links", "review_pairs", "nik_conflicts",
                              "candidate_pairs", "seconds")}


def _rentan_quality(root: Path) -> dict:
    from rentan.identity.evaluate import measure

    silver = root / "warehouse" / "silver"
    rp = pd.read_parquet(silver / "record_persons" / "record_persons.parquet", columns=["record_id", "person_key"])
    queue = pd.read_parquet(silver / "review_queue" / "review_queue.parquet")
    return measure(root / "truth" / "linkage", rp.rename(columns={"person_key": "cluster"}), queue)


def _splink_quality(root: Path, out: Path) -> tuple[float, dict]:
    """Splink's figures at the threshold that gives it its best F1."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from rentan.identity.evaluate import measure

    pairs = pd.read_parquet(out / "pairs.parquet")
    ids = pd.Index(pd.read_parquet(out / "records.parquet")["record_id"])
    a, b = ids.get_indexer(pairs["unique_id_l"]), ids.get_indexer(pairs["unique_id_r"])
    p = pairs["match_probability"].to_numpy()
    best: tuple[float, dict] | None = None
    for t in SPLINK_THRESHOLDS:
        keep = p >= t
        _, comp = connected_components(coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])),
                                                  shape=(len(ids), len(ids))), directed=False)
        m = measure(root / "truth" / "linkage", pd.DataFrame({"record_id": ids, "cluster": comp}))
        if best is None or m["f1"] > best[1]["f1"]:
            best = (t, m)
    if best is None:
        raise ValueError("no Splink threshold to sweep")
    return best


def _splink(python: str, root: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run([python, str(Path(__file__).with_name("bench_splink.py")), str(root), str(out)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Splink failed:\n{done.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    report["wall_seconds"] = round(time.perf_counter() - t0, 2)
    return report


def _row(name: str, seconds: float, mb: float, m: dict, extra: str = "") -> str:
    look = sum(v["merged"] for v in m["lookalikes_merged"].values()) / max(
        sum(v["pairs"] for v in m["lookalikes_merged"].values()), 1)
    return (f"| {name} | {seconds:,.1f} | {mb:,.0f} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | "
            f"{look:.3f} | {extra} |")


def compare(python: str, proposals: int, members: int, keep: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="rentan-bench-linkage-"))
    try:
        made = _measure(_generate, str(root), proposals, members, COMPARE_PROVINCES)
        print(f"linkage benchmark: {made['result']} written in {made['seconds']} s", flush=True)
        run = _measure(_resolve, str(root))
        ours = _rentan_quality(root)
        sp_out = root / "splink"
        sp = _splink(python, root, sp_out)
        threshold, theirs = _splink_quality(root, sp_out)
        review = ours["review"]
        print(f"\n{ours['records']:,} records ({proposals:,} proposals, {members:,} members asked), "
              f"{ours['true_pairs']:,} true pairs\n")
        print("| | wall s | peak MB | precision | recall | F1 | look-alike pairs merged | |")
        print("|---|---|---|---|---|---|---|---|")
        print(_row("rentan identity", run["seconds"], run["peak_rss_mb"], ours,
                   f"review queue {review['pairs']:,} pairs ({review['share_of_records']:.2%} of records), "
                   f"{review['ambiguous_share']:.0%} truly ambiguous"))
        print(_row(f"Splink {sp['splink']} (DuckDB {sp['duckdb']}), best threshold {threshold}",
                   sp["wall_seconds"], sp["peak_rss_mb"], theirs, f"{sp['pairs_scored']:,} pairs scored"))
        print(f"\nrentan is {sp['wall_seconds'] / run['seconds']:.1f}x faster than Splink in this run\n")
        print("| noise kind | true pairs | rentan recall | Splink recall |")
        print("|---|---|---|---|")
        for kind, v in ours["recall_by_noise"].items():
            print(f"| {kind} | {v['pairs']:,} | {v['recall']:.3f} | {theirs['recall_by_noise'][kind]['recall']:.3f} |")
        print(f"| (no noise) | {ours['recall_clean_pairs']['pairs']:,} | {ours['recall_clean_pairs']['recall']:.3f} | "
              f"{theirs['recall_clean_pairs']['recall']:.3f} |")
        print("\n| look-alikes | pairs | rentan merged | Splink merged |")
        print("|---|---|---|---|")
        for kind, v in ours["lookalikes_merged"].items():
            print(f"| {kind} | {v['pairs']:,} | {v['share']:.3f} | {theirs['lookalikes_merged'][kind]['share']:.3f} |")
        print(f"\nrentan phases (s): {run['result']['seconds']}; candidate pairs per pass: "
              f"{run['result']['candidate_pairs']}; Splink phases (s): {sp['timings']}", flush=True)
        return {"rentan": {"run": run, "quality": ours}, "splink": {"run": sp, "threshold": threshold,
                                                                    "quality": theirs}}
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def national(proposals: int, members: int, keep: bool = False) -> dict:
    root = Path(tempfile.mkdtemp(prefix="rentan-bench-national-"))
    os.environ.setdefault("RENTAN_DUCKDB_MEMORY", NATIONAL_MEMORY)
    try:
        made = _measure(_generate, str(root), proposals, members, None)
        print(f"\nnational benchmark: {made['result']} written in {made['seconds']} s", flush=True)
        run = _measure(_resolve, str(root))
        ours = _rentan_quality(root)
        review = ours["review"]
        print(f"\n| national: {ours['records']:,} records | wall s | peak MB | precision | recall | F1 | "
              f"look-alike pairs merged | |")
        print("|---|---|---|---|---|---|---|---|")
        print(_row("rentan identity", run["seconds"], run["peak_rss_mb"], ours,
                   f"review queue {review['pairs']:,} pairs ({review['share_of_records']:.2%} of records)"))
        print(f"\nrentan phases (s): {run['result']['seconds']}, DuckDB memory limit "
              f"{os.environ['RENTAN_DUCKDB_MEMORY']}", flush=True)
        return {"run": run, "quality": ours}
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _size(text: str) -> tuple[int, int]:
    p, m = text.split(":")
    return int(p), int(m)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rentan-bench-identity", description=__doc__)
    parser.add_argument("--splink-python", help="the Python of Splink's virtual environment")
    parser.add_argument("--compare", type=_size, action="append", default=[], metavar="PROPOSALS:MEMBERS")
    parser.add_argument("--national", type=_size, action="append", default=[], metavar="PROPOSALS:MEMBERS")
    parser.add_argument("--keep", action="store_true", help="keep the generated data roots")
    args = parser.parse_args(argv)
    # a key of its own, so that no run waits for Airflow to be asked for one
    os.environ.setdefault("RENTAN_PERSON_KEY", "rentan-bench-key")
    if args.compare and not args.splink_python:
        parser.error("--compare needs --splink-python")
    for p, m in args.compare:
        compare(args.splink_python, p, m, args.keep)
    for p, m in args.national:
        national(p, m, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
