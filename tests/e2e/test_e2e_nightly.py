"""The nightly DAG, run by Airflow itself (dag.test()), on a small generated landing zone."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from rentan.core.ledger import DUPLICATE, LOADED, UNREADABLE, Ledger
from rentan.core.settings import data_paths
from tests.nightly import run_nightly

pytestmark = pytest.mark.e2e

SMALL = 0.05  # every defect class and file problem is still present at this scale


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    from rentan_dev.sample import generate

    root = tmp_path_factory.mktemp("nightly") / "data"
    generate(root, seed=7, scale=SMALL)
    return root


def _bronze_rows_per_file(root) -> dict[str, int]:
    glob = (root / "warehouse" / "bronze" / "**" / "*.parquet").as_posix()
    return dict(duckdb.sql(
        f"select source_file, count(*) from read_parquet('{glob}', hive_partitioning=true) group by all"
    ).fetchall())


def _ledger(root) -> list:
    with Ledger(data_paths(root).ledger_url) as led:
        return led.entries()


@pytest.fixture(scope="module")
def first_night(dagbag, sample_root):
    """The sample's first night, run once for the tests of this module whatever their order."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RENTAN_DATA", str(sample_root))
    try:
        run = run_nightly(dagbag)
    finally:
        mp.undo()
    assert run.state == "success", [(t.task_id, t.state) for t in run.get_task_instances()]
    return run


def test_nightly_dag_ingests_the_landing_zone_exactly_once(dagbag, sample_root, first_night, monkeypatch):
    monkeypatch.setenv("RENTAN_DATA", str(sample_root))

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
    second = run_nightly(dagbag)
    assert second.state == "success"
    assert [e for e in _ledger(sample_root) if e.load_id == second.run_id] == []
    assert _bronze_rows_per_file(sample_root) == bronze


# defect classes the standardise stage must catch, and the reasons that count as catching them
CAUGHT_BY_STANDARDISE = {
    "nik_numeric_damaged": {"nik_numeric_cell"},
    "nik_scientific": {"nik_scientific"},
    "nik_trailing_zero_point": {"nik_decimal"},
    "nik_wrong_length": {"nik_wrong_length"},
    "unknown_village": {"village_unknown"},
    "bad_date": {"date_missing", "date_unreadable", "date_impossible", "date_in_future"},
}


def test_quarantine_agrees_with_the_ground_truth(sample_root, first_night):
    """Every injected defect class is caught with its reason; clean rows pass; rows are conserved."""
    wh = sample_root / "warehouse"
    measured = duckdb.sql(f"""
        with t as (select * from '{sample_root / "truth" / "submissions.parquet"}'),
        b as (select source_file, row_number from read_parquet('{wh}/bronze/submissions/**/*.parquet', hive_partitioning=true)),
        q as (select source_file, row_number, reason_code from read_parquet('{wh}/quarantine/submissions/**/*.parquet', hive_partitioning=true)),
        s as (select source_file, row_number, warnings from read_parquet('{wh}/silver/submissions/**/*.parquet', hive_partitioning=true))
        select t.defect, count(*) as n_rows, count(q.reason_code) as quarantined,
               list(distinct q.reason_code) filter (where q.reason_code is not null) as codes,
               count(*) filter (where list_contains(s.warnings, 'sex_mismatch')) as flagged,
               count(*) filter (where q.reason_code is null and s.source_file is null) as lost
        from t join b on b.source_file = t.file and b.row_number = t.row_number
        left join q on q.source_file = t.file and q.row_number = t.row_number
        left join s on s.source_file = t.file and s.row_number = t.row_number
        group by all
    """).fetchall()
    by_class = {d: (n, nq, set(codes or []), flagged, lost) for d, n, nq, codes, flagged, lost in measured}
    assert sum(v[4] for v in by_class.values()) == 0, "a bronze row is neither in silver nor in quarantine"
    for defect, reasons in CAUGHT_BY_STANDARDISE.items():
        n, nq, codes, _, _ = by_class[defect]
        assert nq == n, f"{defect}: {nq} of {n} rows quarantined"
        assert codes <= reasons, f"{defect}: reasons {codes}"
    n, nq, *_ = by_class["clean"]
    assert nq / n < 0.005, f"{nq} of {n} clean rows quarantined"
    n, nq, _, flagged, _ = by_class["sex_mismatch"]
    assert nq == 0 and flagged == n, "a sex mismatch is a warning in silver, not a rejection"
    assert not (sample_root / "gx" / "data_docs").exists(), "no Data Docs: their pages need the internet"
    # each village with rejected rows has its fix-list
    villages = duckdb.sql(f"""select distinct area, village_code from read_parquet('{wh}/quarantine/submissions/**/*.parquet',
                              hive_partitioning=true) where village_code is not null""").fetchall()
    assert villages
    for area, code in villages:
        lists = list((sample_root / "exports" / "desa" / area / code).glob(f"daftar_perbaikan_*_{code}.xlsx"))
        assert len(lists) == 1, code


def test_a_held_back_file_fails_the_gate_while_the_night_goes_on(dagbag, data_root, extracts_not_required):
    from tests.builders import HEADER, row, write_xlsx

    land = data_root / "landing" / "submissions" / "lahat" / "tanjung-sakti-pumi"
    write_xlsx(land / "tanpa_nik.xlsx", ["NO", "NAMA", "TGL LAHIR", "DESA"], [[1, "Budi", "17-08-1975", "Kembang Ayun"]])
    write_xlsx(land / "baik.xlsx", HEADER, [row(1, "1604011708750001"), row(2, "1604011708750002")])

    run = run_nightly(dagbag)
    states: dict[str, set] = {}
    for t in run.get_task_instances():
        states.setdefault(t.task_id, set()).add(t.state)
    assert run.state == "failed"
    assert states["validation_gate"] == {"failed"}
    others = set().union(*(v for k, v in states.items() if k != "validation_gate"))
    assert others == {"success"}, states
    # and the data engineer is told, in words, where to look
    alerts = [json.loads(line) for line in (data_root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert [(a["task_id"], a["dag_id"]) for a in alerts] == [("validation_gate", "rentan_nightly")]
    assert "tanpa_nik.xlsx: rule has_nik (missing_column)" in alerts[0]["error"]
    silver = duckdb.sql(f"select distinct source_file from read_parquet('{data_root}/warehouse/silver/submissions/**/*.parquet')").fetchall()
    assert silver == [("submissions/lahat/tanjung-sakti-pumi/baik.xlsx",)]


def test_a_branch_whose_extract_did_not_load_gets_no_package(dagbag, data_root):
    """Without tonight's membership extract, people already covered could look eligible: that
    branch's package is held back (and alerted); the other branches get theirs."""
    from tests.services import landing

    landing(data_root)
    # the membership load of Lahat cannot write bronze: a real failure, not a simulated one
    blocker = data_root / "warehouse" / "bronze" / "membership" / "area=lahat"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    run = run_nightly(dagbag, run_conf={"snapshot_date": "2025-06-30"})
    states = {(t.task_id, t.map_index): t.state for t in run.get_task_instances()}
    branches = ["lahat", "muara-enim", "lampung-tengah"]
    assert states[("load_membership", 0)] == "failed"
    assert states[("identity", -1)] == "success" and states[("marts", -1)] == "success"
    assert [states[("export", i)] for i in range(3)] == ["failed", "success", "success"]
    assert not (data_root / "exports/bpjs/lahat").exists()
    assert all((data_root / f"exports/bpjs/{b}/2025-06-30/manifest.json").exists() for b in branches[1:])
    alerts = [json.loads(line) for line in (data_root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert any(a["task_id"] == "export" and a["area"] == "lahat" and "the membership load of lahat failed" in a["error"]
               and "rerun the night" in a["error"] for a in alerts)
    assert [a["try_number"] for a in alerts if a["task_id"] == "export"] == [1], "an incomplete night is not retried"
    assert {(a["task_id"], a["area"]) for a in alerts} >= {("load_membership", "lahat"), ("export", "lahat")}, \
        "an alert names the regency or branch, not the index of its mapped task"


def test_in_a_group_of_regencies_a_broken_one_still_fails_alone(dagbag, data_root, tmp_path, monkeypatch):
    """With more areas than tasks (here two load tasks a source and one export task for three
    branches) the areas share tasks; a broken area fails its task, naming it, and the other
    areas of that task are loaded, recorded and exported all the same."""
    import yaml

    from rentan.config import DEFAULT_CONFIG
    from rentan.core.ledger import LoadRun
    from tests.services import landing

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["tasks"] = {"max_load_tasks_per_source": 2, "max_export_tasks": 1}
    config = tmp_path / "regencies.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("RENTAN_CONFIG", str(config))
    landing(data_root)
    blocker = data_root / "warehouse" / "bronze" / "membership" / "area=lahat"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    run = run_nightly(dagbag, run_conf={"snapshot_date": "2025-06-30"})

    tis = {(t.task_id, t.rendered_map_index): t.state for t in run.get_task_instances() if t.map_index >= 0}
    assert tis[("load_membership", "lahat,muara-enim")] == "failed"
    assert tis[("load_membership", "lampung-tengah")] == "success"
    assert tis[("load_submissions", "lahat,pali")] == "success"
    assert tis[("export", "lahat,muara-enim,lampung-tengah")] == "failed"
    with Ledger(data_paths(data_root).ledger_url) as led, led.session() as s:
        loads = {(r.source, r.area): r.state for r in s.query(LoadRun).filter_by(load_id=run.run_id)}
    assert loads[("membership", "lahat")] == "failed"
    assert loads[("membership", "muara-enim")] == "succeeded", "the broken area's neighbour in its task loaded"
    assert not (data_root / "exports/bpjs/lahat").exists()
    for branch in ("muara-enim", "lampung-tengah"):
        assert (data_root / f"exports/bpjs/{branch}/2025-06-30/manifest.json").exists()
    alerts = [json.loads(line) for line in (data_root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    load_alert = next(a for a in alerts if a["task_id"] == "load_membership")
    assert load_alert["area"] == "lahat,muara-enim"
    assert "1 of 2 areas failed to load" in load_alert["error"] and "lahat: " in load_alert["error"]
    assert "muara-enim:" not in load_alert["error"]
