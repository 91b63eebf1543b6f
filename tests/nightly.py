"""Running the nightly DAG with dag.test() the way the scheduler would: every run with its own
full set of parameters. dag.test() keeps a run's conf on the DAG object for the next run in the
same process, which a real scheduler never does, so each call here states every parameter."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pendulum
import pytest

DEFAULTS = {"snapshot_date": None, "areas": [], "dry_run": False}
# what `airflow dags test rentan_nightly 2025-06-30` (make demo) gives: the night the sample describes
SAMPLE_NIGHT = pendulum.datetime(2025, 6, 30, tz="UTC")


def run_nightly(dagbag, run_conf: dict | None = None, **kwargs):
    """A run as `airflow dags test rentan_nightly <logical date>` makes it (default: the sample's night)."""
    kwargs.setdefault("logical_date", SAMPLE_NIGHT)
    return dagbag.dags["rentan_nightly"].test(run_conf={**DEFAULTS, **(run_conf or {})}, **kwargs)


def run_checked(dagbag, env: dict, run_conf: dict | None = None, **kwargs) -> None:
    """One night with ``env`` set (a None value unsets), every task but the validation gate
    succeeding, and the gate failing exactly when the ledger says this run held a file back
    (the sample holds files the gate must stop, though not every night receives one)."""
    from rentan.core.ledger import Ledger, StandardisedFile
    from rentan.core.settings import data_paths

    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        if v is None:
            mp.delenv(k, raising=False)
        else:
            mp.setenv(k, v)
    try:
        run = run_nightly(dagbag, run_conf, **kwargs)
        with Ledger(data_paths().ledger_url) as ledger, ledger.session() as s:
            held = s.query(StandardisedFile).filter_by(load_id=run.run_id, blocked=True).count()
    finally:
        mp.undo()
    states = {(t.task_id, t.map_index): t.state for t in run.get_task_instances()}
    assert all(s == "success" for k, s in states.items() if k[0] != "validation_gate"), states
    assert states[("validation_gate", -1)] == ("failed" if held else "success"), (held, states)


def night_outputs(root: Path, day: dt.date) -> dict:
    """Each mart's rows of the night (sorted), and each branch package's files by checksum."""
    from rentan.marts import MARTS

    out = {}
    with duckdb.connect() as con:
        for m in MARTS:
            part = root / "warehouse" / "marts" / m / f"snapshot_date={day}"
            out[m] = sorted(con.execute(f"select * from read_parquet('{part}/*.parquet', hive_partitioning = false)")
                            .fetchall(), key=repr)
    for manifest in sorted((root / "exports" / "bpjs").glob(f"*/{day}/manifest.json")):
        m = json.loads(manifest.read_text())
        out[f"exports/{m['branch']}"] = {k: v["sha256"] for k, v in m["files"].items()}
    return out
