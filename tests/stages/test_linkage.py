"""Identity on the hard linkage benchmark (``rentan_dev.sample.linkage``), at a size CI can afford: the
figures ``make bench`` reports at a million records, held here at sixty thousand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rentan.core.settings import data_paths
from rentan.identity import resolve
from rentan.identity.evaluate import measure
from rentan_dev.sample.linkage import COMBINED, MEM_SCHEMA, NOISE, SUB_SCHEMA, generate

SNAPSHOT = dt.date(2025, 6, 30)
# the kinds of noise the field sees; a slip onto another person's NIK is measured, not held
# to it: where that person's own records do not show the NIK, it looks exactly like a namesake
HELD = [k for k in [*NOISE, *COMBINED] if k != "nik_of_another"]


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("linkage") / "data"
    drawn = generate(root, proposals=40_000, members=20_000, provinces=("16",))
    report = resolve(data_paths(root), load_id="bench", snapshot=SNAPSHOT)
    silver = root / "warehouse" / "silver"
    clusters = pd.read_parquet(silver / "record_persons" / "record_persons.parquet")
    queue = pd.read_parquet(silver / "review_queue" / "review_queue.parquet")
    m = measure(root / "truth" / "linkage", clusters.rename(columns={"person_key": "cluster"}), queue)
    return root, drawn, report, m, queue


def test_identity_finds_the_hard_duplicates_and_keeps_the_lookalikes_apart(benchmark):
    _, drawn, report, m, _ = benchmark
    assert m["records"] == drawn["proposals"] + drawn["members"] == report["records"]
    assert m["records_without_cluster"] == 0
    assert m["precision"] >= 0.97 and m["recall"] >= 0.97, m
    for kind in HELD:
        got = m["recall_by_noise"][kind]
        if got["pairs"] >= 100:
            assert got["recall"] >= 0.9, (kind, got)
    assert m["recall_clean_pairs"]["recall"] >= 0.999
    look = m["lookalikes_merged"]
    assert look["sibling"]["share"] <= 0.02 and look["twin"]["share"] <= 0.15, look
    assert look["namesake"]["share"] <= 0.25, look


def test_the_review_queue_is_small_ambiguous_and_sorted_by_stake(benchmark):
    _, _, report, m, queue = benchmark
    assert m["review"]["pairs"] == report["review_pairs"] == len(queue)
    assert 0 < m["review"]["share_of_records"] < 0.01, m["review"]
    assert m["review"]["ambiguous_share"] >= 0.5, m["review"]
    assert queue["stake_rank"].is_monotonic_increasing
    assert queue["reason"].str.len().min() > 0 and queue["alasan"].str.len().min() > 0
    # both records side by side
    assert {"nik_a", "name_a", "birth_date_a", "nik_b", "name_b", "birth_date_b", "status_a", "status_b"} <= set(queue)


def test_the_benchmark_is_written_in_the_silver_schema(night):
    """Column names and types as standardise writes them, from real files."""
    for source, schema in (("submissions", SUB_SCHEMA), ("membership", MEM_SCHEMA)):
        real = pq.read_schema(next((night / "warehouse" / "silver" / source).rglob("*.parquet")))
        assert [(f.name, f.type) for f in real] == [(f.name, f.type) for f in schema], source
