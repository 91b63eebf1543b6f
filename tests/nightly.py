"""Running the nightly DAG with dag.test() the way the scheduler would: every run with its own
full set of parameters. dag.test() keeps a run's conf on the DAG object for the next run in the
same process, which a real scheduler never does, so each call here states every parameter."""

from __future__ import annotations

DEFAULTS = {"snapshot_date": None, "areas": [], "dry_run": False}


def run_nightly(dagbag, run_conf: dict | None = None, **kwargs):
    return dagbag.dags["rentan_nightly"].test(run_conf={**DEFAULTS, **(run_conf or {})}, **kwargs)
