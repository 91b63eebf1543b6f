"""``make bench``: a whole night, stage by stage, beside the floor measured in the same run.

The floor is the least any load must do: read every received file's cells as text and write one
Parquet file per source, with no checks (run on as many processes as the load's readers). Each
stage then runs as the DAG's task would, in a child process of its own, so that one stage's peak
memory is not hidden by another's; a second night follows with no new file, the cost of a night
that has nothing to do. Printed per stage: wall time, peak memory, files/s, rows/s, and the
night's time as a multiple of the floor.

Usage: ``python -m rentan_dev.bench --scale 1`` (the default sample) or ``--regencies 16,18`` (every
regency of Sumatera Selatan and Lampung, from the official reference) or ``--regencies all``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

SNAPSHOT = dt.date(2025, 6, 30)


def _measure(fn, *args) -> dict:
    """Run fn(*args) in a fresh process (not a pool's: a stage starts processes of its own); its
    wall time, peak RSS (of it and its children) and result."""
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    proc = ctx.Process(target=_timed, args=(queue, fn, *args))
    proc.start()
    ok, value = queue.get()
    proc.join()
    if not ok:
        raise RuntimeError(f"{fn.__name__} failed in its process:\n{value}")
    return value


def _timed(queue, fn, *args) -> None:
    import traceback

    t0 = time.perf_counter()
    try:
        result = fn(*args)
    except BaseException:  # noqa: BLE001 - whatever the stage raised goes back to the parent as text
        queue.put((False, traceback.format_exc()))
        return
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    queue.put((True, {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(peak / 1024, 1),
                      "result": result}))


def _sample(root: str, scale: float, regencies: str | None) -> dict:
    from rentan.config import load_config
    from rentan_dev.sample import generate

    config = None
    if regencies:
        from rentan_dev.sample.national import write_config

        config = load_config(write_config(regencies.split(","), Path(root) / "config" / "regencies.yaml"))
    s = generate(root, scale=scale, config=config)
    return {"submission_rows": s.get("submission_rows"), "members": s.get("members")}


def _read_cells(path: str) -> tuple[str, list[list[str]]]:
    """The floor's read: the first sheet's (or the csv's) cells as text, nothing checked."""
    import csv

    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            with open(p, newline="", encoding="utf-8", errors="replace") as fh:
                return path, [list(r) for r in csv.reader(fh)]
        if p.suffix.lower() == ".xlsx":
            from python_calamine import CalamineWorkbook

            rows = CalamineWorkbook.from_path(str(p)).get_sheet_by_index(0).to_python()
            return path, [["" if c is None else str(c) for c in r] for r in rows]
    except Exception:  # noqa: BLE001 - a damaged file is the load's to explain; the floor skips it
        pass
    return path, []


def _floor(root: str) -> dict:
    """Read every landing file as text (in parallel) and write one Parquet file per source."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rentan.core.settings import side_by_side

    landing = Path(root) / "landing"
    files = sorted(str(p) for p in landing.rglob("*") if p.is_file())
    out = Path(root) / "floor"
    out.mkdir(exist_ok=True)
    by_source: dict[str, list] = {}
    rows = 0
    with mp.get_context("fork").Pool(side_by_side()) as pool:
        for path, cells in pool.imap(_read_cells, files, chunksize=16):
            source = Path(path).relative_to(landing).parts[0]
            by_source.setdefault(source, []).append((path, cells))
            rows += max(len(cells) - 1, 0)
    for source, parts in by_source.items():
        file_col = [p for p, cells in parts for _ in cells]
        cells_col = [r for _, cells in parts for r in cells]
        pq.write_table(pa.table({"file": file_col, "cells": pa.array(cells_col, pa.list_(pa.string()))}),
                       out / f"{source}.parquet", compression="zstd")
    return {"files": len(files), "rows": rows}


def _ingest(root: str, load_id: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.ingest import ingest

    r = ingest(data_paths(root), load_id=load_id).as_dict()
    return {"files": r["files_seen"], "rows": r["rows_loaded"]}


def _standardise(root: str, load_id: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.pipeline import standardise_night

    r = standardise_night(data_paths(root), load_id=load_id, today=SNAPSHOT).as_dict()
    return {"files": r["files"], "rows": sum(r["rows_in"].values()),
            "quarantined": sum(r["rows_quarantine"].values()), "fix_lists": r["fix_lists"]}


def _identity(root: str, load_id: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.identity import resolve

    r = resolve(data_paths(root), load_id=load_id, snapshot=SNAPSHOT)
    return {"rows": r.get("records"), "persons": r.get("persons")}


def _marts(root: str, load_id: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.pipeline import marts_night

    r = marts_night(data_paths(root), load_id=load_id, snapshot=SNAPSHOT)
    return {"rows": sum((r.get("rows") or {}).values()) if isinstance(r.get("rows"), dict) else r.get("rows")}


def _exports(root: str, load_id: str) -> dict:
    from rentan.core.settings import data_paths
    from rentan.exports.bpjs import export
    from rentan.quality.completeness import IncompleteNight

    try:
        r = export(data_paths(root), load_id=load_id, snapshot=SNAPSHOT)
    except IncompleteNight as e:  # the complete branches' packages are written all the same
        return {"branches": len(list(Path(root).glob(f"exports/bpjs/*/{SNAPSHOT}/manifest.json"))),
                "refused": str(e).count("branch ")}
    return {"branches": len(r["branches"]),
            "rows": sum(sum(f.values()) for f in r["branches"].values())}


STAGES = (("ingest", _ingest), ("standardise", _standardise), ("identity", _identity), ("marts", _marts),
          ("exports", _exports))


def _rate(n, seconds) -> str:
    return f"{n / seconds:,.0f}" if seconds and n else "-"


def _line(name: str, m: dict, files: int = 0, rows: int = 0) -> None:
    print(f"  {name:<24} {m['seconds']:>8} {m['peak_rss_mb']:>8} {_rate(files, m['seconds']):>9} "
          f"{_rate(rows, m['seconds']):>11}", flush=True)


def _night(root: str, load_id: str, night: str, floor: dict) -> None:
    """Each stage's line as it finishes (a stage that fails leaves the lines before it), then the night's."""
    total, peak = 0.0, 0.0
    for name, fn in STAGES:
        m = _measure(fn, root, load_id)
        _line(f"{night} {name}", m, m["result"].get("files") or 0, m["result"].get("rows") or 0)
        total += m["seconds"]
        peak = max(peak, m["peak_rss_mb"])
    files, rows = floor["result"]["files"], floor["result"]["rows"]
    print(f"  {night + ' night, all stages':<24} {total:>8.2f} {peak:>8} {_rate(files, total):>9} "
          f"{_rate(rows, total):>11}   {total / floor['seconds']:.1f}x the floor", flush=True)


def _airflow_night(root: Path) -> dict:
    """The default night as `make demo` runs it, through Airflow (`airflow dags test`), in an
    Airflow home of its own: the seconds from its first task's start to the run's end."""
    import re
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "AIRFLOW_HOME": str(root / "airflow"), "RENTAN_DATA": str(root),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(repo / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(repo / "plugins"))
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    run = subprocess.run([airflow, "dags", "test", "rentan_nightly", SNAPSHOT.isoformat()], env=env,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if "state=success" not in run.stdout + run.stderr:
        raise RuntimeError("the night through Airflow did not succeed:\n" + (run.stdout + run.stderr)[-3000:])
    stamps = re.findall(r"^(\S+Z) .*\[DAG TEST\] starting task", run.stdout + run.stderr, re.M)
    end = re.findall(r"^(\S+Z) .*DagRun Finished", run.stdout + run.stderr, re.M)
    tasks = None
    if stamps and end:
        at = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
        tasks = round((at(end[-1]) - at(stamps[0])).total_seconds(), 1)
    return {"wall": round(wall, 1), "tasks": tasks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rentan-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, action="append", help="sample scale (repeatable); default 1")
    parser.add_argument("--regencies", action="append",
                        help="a night of these regencies (all, or province/regency codes such as 16,18; repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data roots")
    parser.add_argument("--airflow", action="store_true",
                        help="also run the default sample's night through Airflow (airflow dags test)")
    args = parser.parse_args(argv)
    scenarios = [(f"scale {s:g}", s, None) for s in args.scale or []]
    scenarios += [(f"regencies {r}", 1.0, r) for r in args.regencies or []]
    for label, scale, regencies in scenarios or [("scale 1", 1.0, None)]:
        root = Path(tempfile.mkdtemp(prefix="rentan-bench-"))
        saved = {k: os.environ.get(k) for k in ("RENTAN_CONFIG", "RENTAN_DATA")}
        try:
            os.environ["RENTAN_DATA"] = str(root)
            _measure(_sample, str(root), scale, regencies)
            if regencies:  # the stages' processes read the scenario's configuration
                os.environ["RENTAN_CONFIG"] = str(root / "config" / "regencies.yaml")
            floor = _measure(_floor, str(root))
            size_mb = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file()) / 2**20
            print(f"\n{label}: {floor['result']['files']:,} files, {floor['result']['rows']:,} rows, "
                  f"{size_mb:,.0f} MB received")
            print(f"  {'stage':<24} {'seconds':>8} {'peak MB':>8} {'files/s':>9} {'rows/s':>11}")
            _line("floor (read, write)", floor, floor["result"]["files"], floor["result"]["rows"])
            _night(str(root), "bench-1", "first", floor)
            _night(str(root), "bench-2", "again", floor)
            if args.airflow and not regencies and scale == 1.0:
                again = Path(tempfile.mkdtemp(prefix="rentan-bench-airflow-"))
                try:
                    _measure(_sample, str(again), 1.0, None)
                    night = _airflow_night(again)
                    print(f"  the default night through Airflow (airflow dags test): {night['tasks']} s from its "
                          f"first task to its end, {night['wall']} s with Airflow's start")
                finally:
                    shutil.rmtree(again, ignore_errors=True)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            if args.keep:
                print(f"  kept: {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
