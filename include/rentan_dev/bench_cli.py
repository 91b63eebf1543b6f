"""``make bench``: how fast the command line answers, beside Python's own start as the floor.

``rentan query "select 1"`` should answer in well under a second: the command line imports only
what a command needs (no pandas, no Airflow for a query). Each command runs ``--runs`` times in
a fresh process; the median wall time is reported with its ratio to ``python -c pass``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _marts(root: Path) -> None:
    """A published-looking marts tree (two small marts) for the query to run over."""
    import duckdb

    for mart, sql in (("coverage_regency", "select 'lahat' as regency, 21.43 as coverage_pct"),
                      ("coverage_village", "select 'lahat' as regency, 'Kabupaten Lahat' as regency_name, "
                       "'Kota Lahat' as district_name, '16.04.01.2001' as village_code, 'Desa' as village_name, "
                       "'desa' as village_word, null::date as first_submitted_on, true as submitted")):
        part = root / "warehouse" / "marts" / mart / "snapshot_date=2025-06-30"
        part.mkdir(parents=True)
        duckdb.sql(f"copy ({sql}) to '{part / 'part-0.parquet'}' (format parquet)")


def _time(cmd: list[str], runs: int, env: dict) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rentan-bench-cli", description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rentan-bench-cli-") as tmp:
        root = Path(tmp) / "data"
        _marts(root)
        env = {**os.environ, "RENTAN_DATA": str(root)}
        cli = [sys.executable, "-m", "rentan.cli"]
        cases = [("python -c pass (floor)", [sys.executable, "-c", "pass"]),
                 ("rentan --help", [*cli, "--help"]),
                 ('rentan query "select 1"', [*cli, "query", "select 1"]),
                 ('rentan query "from coverage_regency" --csv', [*cli, "query", "from coverage_regency", "--csv"])]
        floor = None
        print(f"{'command':<44} {'median s':>9} {'x floor':>8}")
        for name, cmd in cases:
            t = _time(cmd, args.runs, env)
            floor = floor or t
            print(f"{name:<44} {t:>9.3f} {t / floor:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
