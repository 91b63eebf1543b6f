"""The nightly DAG on the default sample (three regencies, ~34,000 proposals, ~100,000 members),
measured against the generator's ground truth: the figures the README reports."""

from __future__ import annotations

import hashlib

import pytest

from rentan.core.settings import data_paths
from rentan.identity.quality import measure
from tests.nightly import run_nightly

pytestmark = pytest.mark.e2e
NIGHT = {"snapshot_date": "2025-06-30"}


@pytest.fixture(scope="module")
def default_night(dagbag, tmp_path_factory):
    from rentan_dev.sample import generate

    root = tmp_path_factory.mktemp("default") / "data"
    generate(root)  # the default seed and scale, as `make demo`
    mp = pytest.MonkeyPatch()
    mp.setenv("RENTAN_DATA", str(root))
    # the night the sample describes (ages and quotas depend on it)
    run = run_nightly(dagbag, run_conf=NIGHT)
    yield root, run
    mp.undo()


def test_identity_quality_on_the_default_sample(default_night):
    root, run = default_night
    assert run.state == "success", [(t.task_id, t.state) for t in run.get_task_instances()]
    m = measure(data_paths(root))
    assert m["exact_duplicates"]["precision"] == 1.0 and m["exact_duplicates"]["recall"] == 1.0, m["exact_duplicates"]
    assert m["fuzzy"]["precision"] >= 0.99 and m["fuzzy"]["recall"] >= 0.95, m["fuzzy"]
    by_class = m["status_by_class"]
    for cls in ("already_active_pu", "active_bpu_other_payer", "active_bpu_same_village", "age_65_plus"):
        assert by_class[cls]["right"] == by_class[cls]["rows"], (cls, by_class[cls])
    clean = by_class["clean"]
    assert clean["right"] / clean["rows"] >= 0.998, clean


def test_a_second_run_of_the_night_gives_identical_identity_outputs(default_night, dagbag, monkeypatch):
    root, _ = default_night
    monkeypatch.setenv("RENTAN_DATA", str(root))
    out = root / "warehouse" / "silver"

    def digest():
        return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                for sub in ("persons", "enrolment_candidates", "review_queue") for p in sorted((out / sub).rglob("*.parquet"))}

    before = digest()
    assert run_nightly(dagbag, run_conf=NIGHT).state == "success"
    assert digest() == before
