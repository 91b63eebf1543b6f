"""``make bench``: time and peak memory of each stage on generated data of a given scale.

Every measurement runs in a child process of its own, so that one stage's peak memory is not
hidden by another's. Usage: ``python -m rentan.bench --scale 1 --scale 5``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _measure(fn, *args) -> dict:
    """Run fn(*args) in a fresh process; its wall time, peak RSS and result."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_timed, (fn, *args))


def _timed(fn, *args) -> dict:
    t0 = time.perf_counter()
    result = fn(*args)
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "result": result,
    }


def _sample(root: str, scale: float) -> dict:
    from rentan.sample import generate

    s = generate(root, scale=scale)
    return {"submission_rows": s.get("submission_rows"), "members": s.get("members")}


def _ingest(root: str) -> dict:
    from rentan.ingest import ingest
    from rentan.settings import data_paths

    r = ingest(data_paths(root), load_id="bench").as_dict()
    return {"files": r["files_seen"], "rows_loaded": r["rows_loaded"]}


def _standardise(root: str) -> dict:
    import datetime as dt

    from rentan.settings import data_paths
    from rentan.standardise import standardise

    r = standardise(data_paths(root), load_id="bench", today=dt.date(2025, 6, 30)).as_dict()
    return {"files": r["files"], "rows_loaded": sum(r["rows_in"].values()),
            "quarantined": sum(r["rows_quarantine"].values()), "blocked": len(r["blocked"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rentan-bench", description=__doc__)
    parser.add_argument("--scale", type=float, action="append", help="sample scale (repeatable); default 1")
    parser.add_argument("--keep", action="store_true", help="keep the generated data roots")
    args = parser.parse_args(argv)
    rows = []
    for scale in args.scale or [1.0]:
        root = Path(tempfile.mkdtemp(prefix=f"rentan-bench-{scale:g}-"))
        try:
            gen = _measure(_sample, str(root), scale)
            ing = _measure(_ingest, str(root))
            std = _measure(_standardise, str(root))
            size_mb = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file()) / 2**20
            rows.append({"scale": scale, "landing_mb": round(size_mb, 1), "sample": gen, "ingest": ing, "standardise": std})
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    print(f"{'scale':>6} {'stage':<8} {'seconds':>8} {'peak MB':>8} {'rows/s':>10}  result")
    for r in rows:
        for stage in ("sample", "ingest", "standardise"):
            m = r[stage]
            n = m["result"].get("rows_loaded") or m["result"].get("submission_rows") or 0
            rate = f"{n / m['seconds']:,.0f}" if m["seconds"] else "-"
            print(f"{r['scale']:>6g} {stage:<8} {m['seconds']:>8} {m['peak_rss_mb']:>8} {rate:>10}  {json.dumps(m['result'])}")
        print(f"{'':>6} landing zone: {r['landing_mb']} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
