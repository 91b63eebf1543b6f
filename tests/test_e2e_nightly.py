"""The nightly DAG, run by Airflow itself (dag.test()), on a small generated landing zone."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from rentan.ingest.ledger import DUPLICATE, LOADED, UNREADABLE, Ledger
from rentan.settings import data_paths

pytestmark = pytest.mark.e2e

SMALL = 0.05  # every defect class and file problem is still present at this scale


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    from rentan.sample import generate

    root = tmp_path_factory.mktemp("nightly") / "data"
    generate(root, seed=7, scale=SMALL)
    return root


def _bronze_rows_per_file(root) -> dict[str, int]:
    glob = (root / "warehouse" / "bronze" / "**" / "*.parquet").as_posix()
    return dict(duckdb.sql(
        f"select source_file, count(*) from read_parquet('{glob}', hive_partitioning=true) group by all"
    ).fetchall())


def _ledger(root) -> list:
    led = Ledger(data_paths(root).ledger_url)
    try:
        return led.entries()
    finally:
        led.dispose()


def test_nightly_dag_ingests_the_landing_zone_exactly_once(dagbag, sample_root, monkeypatch):
    monkeypatch.setenv("RENTAN_DATA", str(sample_root))
    dag = dagbag.dags["rentan_nightly"]

    first = dag.test()
    assert first.state == "success"

    truth = pd.read_csv(sample_root / "truth" / "files.csv", dtype={"duplicate_of": str}, keep_default_na=False)
    entries = {e.file: e for e in _ledger(sample_root)}
    assert set(entries) == set(truth["file"]), "every landed file is recorded in the ledger once"

    # identical deliveries: exactly one of each pair loaded, the other a duplicate of it
    by_status = {f: e.status for f, e in entries.items()}
    for _, row in truth[truth["expected"] == "duplicate"].iterrows():
        pair = {row["file"], row["duplicate_of"]}
        assert sorted(by_status[f] for f in pair) == [DUPLICATE, LOADED], pair

    unreadable = truth[truth["expected"] == "unreadable"]
    assert len(unreadable) >= 3
    for _, row in unreadable.iterrows():
        e = entries[row["file"]]
        assert e.status == UNREADABLE, row["file"]
        assert e.reason and e.alasan, f"{row['file']} has no reason"

    # bronze holds exactly the data rows of the loaded files
    loaded = [f for f, e in entries.items() if e.status == LOADED]
    expected_rows = truth.set_index("file")["data_rows"]
    bronze = _bronze_rows_per_file(sample_root)
    assert set(bronze) == set(loaded)
    for f in loaded:
        assert bronze[f] == expected_rows[f], f
    assert sum(bronze.values()) == sum(expected_rows[f] for f in loaded)

    # a second night finds nothing new
    second = dag.test()
    assert second.state == "success"
    assert [e for e in _ledger(sample_root) if e.load_id == second.run_id] == []
    assert _bronze_rows_per_file(sample_root) == bronze
