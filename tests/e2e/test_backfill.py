"""Backfilling a week of nights gives one snapshot per night, each the same as a single run of
that night on its own: a snapshot sees only the files received by the end of its day."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import duckdb
import pendulum
import pytest

from tests.nightly import night_outputs, run_checked

pytestmark = pytest.mark.e2e

WEEK = [dt.date(2025, 6, 10) + dt.timedelta(days=i) for i in range(7)]
CHECKED = (WEEK[0], WEEK[3], WEEK[6])  # single runs to compare with: first, middle and last night


def _night(day: dt.date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, 1, tz="Asia/Jakarta")


def _run(dagbag, root, day: dt.date) -> None:
    run_checked(dagbag, {"RENTAN_DATA": str(root)}, logical_date=_night(day))


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from rentan_dev.sample import generate

    root = tmp_path_factory.mktemp("backfill-sample") / "data"
    generate(root, seed=11, scale=0.05, villages_limit=4)
    return root


def test_a_backfilled_week_equals_single_runs(dagbag, landing, tmp_path, extracts_not_required):
    # the sample's branch extracts arrive after this week: its nights are incomplete, which is
    # not what this test is about (tests/e2e/test_completeness.py is)
    backfilled = tmp_path / "backfilled"
    shutil.copytree(landing, backfilled)  # copytree keeps the files' delivery times
    for day in WEEK:  # what `airflow backfill create` does: one run per logical date, in order
        _run(dagbag, backfilled, day)
    published = duckdb.connect().execute(
        f"select distinct snapshot_date from read_parquet('{backfilled}/warehouse/marts/coverage_regency/*/*.parquet', "
        "hive_partitioning=true) order by 1").fetchall()
    assert [d for (d,) in published] == WEEK, "one snapshot per night, no more"

    seen = []
    for day in CHECKED:
        single = tmp_path / f"single-{day}"
        shutil.copytree(landing, single)
        _run(dagbag, single, day)
        expected = night_outputs(single, day)
        assert night_outputs(backfilled, day) == expected, day
        seen.append(hashlib.sha256(repr(expected).encode()).hexdigest())
    # the week is not flat: files arrived during it, so the nights differ
    assert len(set(seen)) == len(CHECKED)
