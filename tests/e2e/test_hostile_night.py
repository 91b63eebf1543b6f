"""A night whose landing zone holds 87 hostile but plausible deliveries (tests/hostile.py),
through the real DAG: every file gets its own reason, the rest of the night completes, nothing
from outside the landing zone is read, and no NIK of a file's name leaves the ledger."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pendulum
import pytest

from rentan.core.ledger import Ledger, StandardisedFile
from rentan.core.settings import data_paths
from tests.hostile import BLOCKED, LOADED, NIK_IN_NAME, hostile_landing
from tests.nightly import run_nightly

pytestmark = pytest.mark.e2e
NIGHT = dt.date(2025, 6, 30)


def _rows(root: Path, layer: str, source: str, columns: str) -> list[tuple]:
    glob = root / "warehouse" / layer / source
    if not list(glob.rglob("*.parquet")):
        return []
    return duckdb.sql(f"select {columns} from read_parquet('{glob.as_posix()}/**/*.parquet', union_by_name = true)"
                      ).fetchall()


def test_a_hostile_landing_zone_gives_each_file_its_reason_and_the_night_completes(
        dagbag, data_root, tmp_path, capfd, caplog):
    outside = tmp_path / "outside"
    outside.mkdir()
    corpus = hostile_landing(data_root / "landing", outside)
    assert len(corpus.expect) >= 60

    run = run_nightly(dagbag)

    states = {(t.task_id, t.rendered_map_index or str(t.map_index)): t.state for t in run.get_task_instances()}
    # the gate names the files held back; everything else, each branch's package included, runs
    assert states.pop(("validation_gate", "-1")) == "failed"
    assert all(s == "success" for s in states.values()), states
    for branch in ("lahat", "muara-enim", "lampung-tengah"):
        assert (data_root / "exports" / "bpjs" / branch / str(NIGHT) / "manifest.json").exists(), branch

    paths = data_paths(data_root)
    ledger = Ledger(paths.ledger_url)
    entries = {e.file: e for e in ledger.entries()}
    with ledger.session() as s:
        standardised = {f.file: f for f in s.query(StandardisedFile)}
    quarantined: dict[str, set[str]] = {}
    for src in ("submissions", "membership", "claims", "budget"):
        for file, code in _rows(data_root, "quarantine", src, "source_file, reason_code"):
            quarantined.setdefault(file, set()).add(code)

    wrong = {}
    for rel, (status, code) in corpus.expect.items():
        e = entries.get(rel)
        got: tuple = (e.status, e.reason_code) if e else ("no ledger entry", None)
        if e and e.status == LOADED:
            f = standardised.get(rel)
            if f is None:
                got = ("loaded but never standardised", None)
            elif f.blocked:
                got = (BLOCKED, next((c for c in (code or "",) if c and c in (f.block_reason or "")), f.block_reason))
            else:
                got = (LOADED, ",".join(sorted(quarantined.get(rel, ()))) or None)
                # the rest of the file loads: one row held (its own reason) or none
                if (f.rows_quarantine, f.rows_silver) != (int(code is not None), f.rows_in - int(code is not None)):
                    got = (LOADED, f"{f.rows_in} rows in, {f.rows_silver} to silver, {f.rows_quarantine} held")
        elif e and status not in (LOADED, BLOCKED):
            got = (e.status, e.reason_code if e.status != "duplicate" else None)
            assert e.reason and e.alasan, f"{rel}: no reason in English and Bahasa Indonesia"
        if got != (status, code):
            wrong[rel] = {"want": (status, code), "got": got}
    assert not wrong, json.dumps(wrong, indent=1, default=str)

    # nothing from outside the landing zone, and no quarantined or hidden-sheet row, reached silver
    silver = {n for src in ("submissions", "membership") for (n,) in _rows(data_root, "silver", src, "nik")}
    assert silver and not (corpus.bad_niks & silver), sorted(corpus.bad_niks & silver)
    # the NIK in a file's name stays in the ledger; logs, XCom and alerts show it masked
    assert any(NIK_IN_NAME in f for f in entries)
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as s:
        xcoms = [json.dumps(x.value, default=str) for x in
                 s.query(XComModel).filter(XComModel.dag_id == "rentan_nightly", XComModel.run_id == run.run_id)]
    assert xcoms
    shown = "\n".join([*xcoms, caplog.text, *capfd.readouterr(),
                       (data_root / "alerts" / "alerts.jsonl").read_text() if (data_root / "alerts").exists() else ""])
    logs = Path(__import__("os").environ["AIRFLOW_HOME"]) / "logs"
    shown += "\n".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file() and run.run_id in str(p))
    assert f"KTP {NIK_IN_NAME[:4]}{'*' * 12} Budi.pdf" in caplog.text, "the unreadable file is named, masked"
    assert f"usulan {NIK_IN_NAME[:4]}{'*' * 12}.xlsx" in (data_root / "alerts" / "alerts.jsonl").read_text()
    assert not re.search(NIK_IN_NAME, shown)

    # a second night over the same zone records nothing again and still completes
    again = run_nightly(dagbag, logical_date=pendulum.datetime(2025, 7, 1, tz="UTC"))
    again_states = {(t.task_id, t.map_index): t.state for t in again.get_task_instances()}
    assert all(st == "success" for (task, _), st in again_states.items() if task != "validation_gate"), again_states
    assert len(list(Ledger(paths.ledger_url).entries())) == len(entries)
