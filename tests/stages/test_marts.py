"""Marts and branch exports on a small night of real files, checked against numbers worked out by
hand; publishing that survives a kill; xlsx exports as a branch opens them."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import openpyxl
import pytest

from rentan.core.settings import data_paths
from rentan.exports.bpjs import export
from rentan.identity import resolve
from rentan.ingest import ingest
from rentan.marts import AuditFailed, load
from rentan.standardise import standardise
from tests.lahat import AWAY, HOME_CODE, INJECTED_ADDRESS, SNAPSHOT, deliver_later_extract
from tests.packages import sheet_frame


def _sql(sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def _one(root, mart: str, where: str = "true") -> dict:
    with duckdb.connect() as con:
        rel = con.execute(f"select * from read_parquet('{root}/warehouse/marts/{mart}/*/*.parquet', "
                          f"hive_partitioning=true) where {where}")
        cols = [d[0] for d in rel.description]
        rows = rel.fetchall()
    assert len(rows) == 1, (mart, where, rows)
    return dict(zip(cols, rows[0]))


def test_marts_equal_numbers_worked_out_by_hand(full_night):
    load(data_paths(full_night), load_id="n2", snapshot=SNAPSHOT)
    home = _one(full_night, "coverage_village", f"village_code = '{HOME_CODE}'")
    # 15 + 1 proposals at home: PU member, BPU paid elsewhere, BPU paid here, a 70-year-old,
    # two to review (a namesake's next serial, another person under the PU member's NIK), and 10
    # eligible (6 plain, the one this village keeps of a pair, the mistyped NIK of a lapsed member,
    # a namesake whose NIK is four digits off, Siti Rahma)
    assert {k: home[k] for k in ("proposed", "valid", "duplicates", "already_covered", "already_enrolled",
                                 "ineligible", "needs_review", "eligible", "over_quota")} == {
        "proposed": 16, "valid": 16, "duplicates": 0, "already_covered": 2, "already_enrolled": 1,
        "ineligible": 1, "needs_review": 2, "eligible": 10, "over_quota": 0}
    # enrolled: the one BPU member this village pays; last paid 2025-05, so paid up on 30 June
    assert (home["quota"], home["enrolled"], home["active"], home["quota_met"], home["submitted"]) == (100, 1, 1, False, True)
    assert (home["village_word"], home["regency"]) == ("desa", "lahat")
    away = _one(full_night, "coverage_village", f"village_code = '{AWAY['code']}'")
    assert (away["proposed"], away["duplicates"], away["eligible"]) == (2, 1, 1)

    reg = _one(full_night, "coverage_regency", "regency = 'lahat'")
    # five AKTIF members, all of the Lahat branch, which serves Lahat alone
    assert (reg["active_participants"], reg["pu_active"], reg["bpu_active"]) == (5, 3, 2)
    assert reg["coverage_pct"] == round(100 * 5 / 239_799, 2)
    assert (reg["villages"], reg["villages_submitted"], reg["vulnerable_quota"]) == (360, 2, 36_000)

    bud = _one(full_night, "budget_village", f"village_code = '{HOME_CODE}'")
    # one enrolled worker x Rp16,800 x 12 months of 2025
    assert (bud["contribution_required_idr"], bud["contribution_budget_idr"], bud["gap_idr"]) == (
        201_600, 20_160_000, 201_600 - 20_160_000)
    assert (bud["add_total_idr"], bud["workers_budgeted"], bud["realised_idr"], bud["months"]) == (
        500_000_000, 100, 1_680_000, 12)

    claims = _sql(f"""select month, claim_type, claims, amount_idr, scholarship_children, scholarship_amount_idr
                      from read_parquet('{full_night}/warehouse/marts/claims_monthly/*/*.parquet') order by 1, 2""")
    # K-002 counted once, as corrected in the later extract
    assert claims == [(dt.date(2025, 3, 1), "BEASISWA", 1, 1_600_000, 1, 1_600_000),
                      (dt.date(2025, 3, 1), "JKM", 1, 42_000_000, 0, 0),
                      (dt.date(2025, 4, 1), "BEASISWA", 1, 1_500_000, 1, 1_500_000)]
    assert _sql(f"select distinct regency_code from read_parquet('{full_night}/warehouse/marts/fact_claim/*/*.parquet')") == [("16.04",)]


def test_analysts_database_and_rerun_replaces_the_night(full_night):
    paths = data_paths(full_night)
    load(paths, load_id="n2", snapshot=SNAPSHOT)
    load(paths, load_id="n2-again", snapshot=SNAPSHOT)            # the same night again
    load(paths, load_id="n3", snapshot=SNAPSHOT + dt.timedelta(days=1))
    db = paths.warehouse / "rentan.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        per_snapshot = con.execute("select snapshot_date, count(*) from coverage_village_history group by 1 order by 1").fetchall()
        assert per_snapshot == [(SNAPSHOT, 556), (SNAPSHOT + dt.timedelta(days=1), 556)], "one copy per night"
        assert con.execute("select count(*) from coverage_village").fetchall() == [(556,)]
        assert con.execute("select count(*) from villages_missing where regency = 'lahat'").fetchall() == [(358,)]
    # DuckDB's own CLI is not installed here; the same file through the Python client and rentan query
    out = subprocess.run([sys.executable, "-m", "rentan.cli", "--data", str(full_night), "query", "--csv",
                          "select regency, active_participants from coverage_regency order by 1"],
                         capture_output=True, text=True, check=True).stdout
    assert "lahat,5" in out.splitlines()


def test_a_failed_audit_publishes_nothing(full_night, tmp_path, monkeypatch):
    paths = data_paths(full_night)
    load(paths, load_id="n2", snapshot=SNAPSHOT)
    before = os.readlink(paths.warehouse / "marts")
    # a suite that demands what the night cannot give: every village to have submitted
    suites = tmp_path / "expectations"
    suites.mkdir()
    from rentan.quality import validation

    for f in validation.EXPECTATIONS_DIR.glob("*.json"):
        data = json.loads(f.read_text())
        if f.name == "coverage_village.gold.json":
            data["expectations"].append({"type": "expect_column_values_to_be_in_set", "kwargs": {
                "column": "submitted", "value_set": [True]}, "meta": {"rule": "all_submitted", "level": "blocking",
                "reason_code": "mart_invalid"}, "description": "every village submitted"})
        (suites / f.name).write_text(json.dumps(data))
    monkeypatch.setattr(validation, "EXPECTATIONS_DIR", suites)
    validation.suite_json.cache_clear()
    try:
        with pytest.raises(AuditFailed, match=r"coverage_village: all_submitted: every village submitted \(554 rows\)"):
            load(paths, load_id="n3", snapshot=SNAPSHOT + dt.timedelta(days=1))
    finally:
        validation.suite_json.cache_clear()
    assert os.readlink(paths.warehouse / "marts") == before
    assert not list((paths.warehouse / "marts" / "coverage_village").glob("snapshot_date=2025-07-01"))
    kept = list((paths.work / "marts").glob("2025-07-01-*"))
    assert len(kept) == 1 and "all_submitted" in (kept[0] / "AUDIT_FAILED").read_text(), "kept for inspection"
    monkeypatch.undo()
    validation.suite_json.cache_clear()
    load(paths, load_id="n4", snapshot=SNAPSHOT)  # another night's run keeps it too
    assert list((paths.work / "marts").glob("2025-07-01-*")) == kept


KILLER = textwrap.dedent("""
    import datetime as dt, os, signal, sys
    import rentan.marts.publish as publish
    from rentan.marts import load
    from rentan.core.settings import data_paths

    real_replace = os.replace
    def replace(src, dst, *a, **k):
        if str(dst).endswith("/warehouse/marts"):   # the switch itself: die just before it
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *a, **k)
    publish.os.replace = replace
    load(data_paths(sys.argv[1]), load_id="killed", snapshot=dt.date.fromisoformat(sys.argv[2]))
""")


def _published(root) -> dict:
    marts = root / "warehouse" / "marts"
    return {str(p.relative_to(marts)): p.read_bytes() for p in sorted(marts.rglob("*.parquet"))}


@pytest.mark.parametrize("snapshot", [SNAPSHOT, SNAPSHOT + dt.timedelta(days=1)], ids=["rerun", "next-night"])
def test_a_run_killed_while_publishing_leaves_the_previous_state_whole(full_night, snapshot):
    paths = data_paths(full_night)
    load(paths, load_id="n2", snapshot=SNAPSHOT)
    before = _published(full_night)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(full_night), snapshot.isoformat()],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert _published(full_night) == before, "the killed run changed nothing a reader can see"
    with duckdb.connect(str(paths.warehouse / "rentan.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from coverage_village").fetchall() == [(556,)]
    left = list((paths.work / "marts").iterdir())
    assert left, "the killed run left its work folder"
    # the next run cleans up what the killed one left and publishes
    load(paths, load_id="n3", snapshot=snapshot)
    assert not list((paths.work / "marts").iterdir()), "no staging folder is left behind"
    versions = [p for p in (paths.warehouse / "_marts").iterdir() if p.is_dir()]
    assert len(versions) == 2, "the current version and the one before"
    current = (paths.warehouse / "_marts" / "CURRENT").read_text().strip()
    assert (paths.warehouse / "marts").resolve().name == current, "the pointer names what the link points to"


def test_analysts_views_follow_a_data_root_mounted_elsewhere(full_night, tmp_path):
    load(data_paths(full_night), load_id="n2", snapshot=SNAPSHOT)
    moved = tmp_path / "seen-from-the-host"
    shutil.move(full_night, moved)
    db = moved / "warehouse" / "rentan.duckdb"
    with duckdb.connect(str(db), read_only=True) as con, pytest.raises(duckdb.Error):
        con.execute("select count(*) from coverage_village").fetchall()  # the writer's path is gone

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "rentan.cli", "--data", str(moved), *args],
                              capture_output=True, text=True, check=True).stdout

    assert cli("query", "--csv", "select count(*) as n from coverage_village").split() == ["n", "556"]
    cli("views")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from coverage_village").fetchall() == [(556,)]


def test_a_nights_marts_read_that_nights_persons_after_another_night_ran(full_night):
    """A backfilled night's identity may run between tonight's identity and tonight's marts: each
    night's marts and exports read the persons resolved for their own snapshot."""
    paths = data_paths(full_night)
    deliver_later_extract(full_night)
    ingest(paths, load_id="n3")
    standardise(paths, load_id="n3", today=SNAPSHOT)
    resolve(paths, load_id="n3", snapshot=SNAPSHOT)                # tonight
    resolve(paths, load_id="n0", snapshot=dt.date(2025, 6, 5))     # a backfilled night, before that extract

    def statuses(glob: str) -> list:
        return _sql(f"select status, count(*) from read_parquet('{glob}') group by 1 order by 1")

    tonight = statuses(paths.identity_glob("enrolment_candidates", SNAPSHOT))
    assert tonight != statuses(f"{paths.warehouse}/silver/enrolment_candidates/*/*.parquet"), \
        "the two nights resolve differently, and the backfilled one ran last"
    load(paths, load_id="n3", snapshot=SNAPSHOT)
    assert statuses(f"{full_night}/warehouse/marts/fact_enrolment/snapshot_date={SNAPSHOT}/*.parquet") == tonight
    export(paths, load_id="n3", snapshot=SNAPSHOT)
    listed = sheet_frame(next((paths.exports / "bpjs" / "lahat" / str(SNAPSHOT)).glob("daftar_pendaftaran_*.xlsx")))
    assert len(listed) == dict(tonight)["eligible"]


def test_branch_exports_cells_and_injection_guard(full_night):
    paths = data_paths(full_night)
    load(paths, load_id="n2", snapshot=SNAPSHOT)
    report = export(paths, load_id="n2", snapshot=SNAPSHOT)
    folder = paths.exports / "bpjs" / "lahat" / SNAPSHOT.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text())
    import hashlib

    for name, f in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == f["sha256"], name
    assert report["branches"]["lahat"][f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx"] == 11

    ws = openpyxl.load_workbook(folder / f"daftar_pendaftaran_lahat_{SNAPSHOT}.xlsx").active
    rows = list(ws.iter_rows(values_only=False))
    header_at = next(i for i, r in enumerate(rows) if r[0].value == "NO")
    header = [c.value for c in rows[header_at]]
    body = rows[header_at + 1:]
    nik_col, addr_col, fee_col = header.index("NIK"), header.index("ALAMAT"), header.index("IURAN PER BULAN (RP)")
    assert all(r[nik_col].data_type == "s" and len(r[nik_col].value) == 16 for r in body), "NIK is text, all 16 digits"
    assert all(r[fee_col].value == 16_800 for r in body)
    addresses = [r[addr_col].value for r in body if r[addr_col].value]
    assert addresses == ["'" + INJECTED_ADDRESS], "the formula is shown as text, not run"
    assert not any(c.data_type == "f" for r in body for c in r), "no formula cell anywhere"
    assert not list(folder.glob("*.csv")), "no csv: opened in a spreadsheet, its NIKs would lose digits"

    exc = openpyxl.load_workbook(folder / f"pengecualian_lahat_{SNAPSHOT}.xlsx").active
    values = [[c.value for c in r] for r in exc.iter_rows()]
    head = next(i for i, r in enumerate(values) if r[0] == "NIK")
    codes = sorted(r[values[head].index("KODE ALASAN")] for r in values[head + 1:])
    assert codes == ["active_pu", "age_limit", "bpu_paid_by_this_village", "double_funding",
                     "duplicate_across_villages", "possible_same_person", "possible_same_person"]
    # the other branches serve other regencies: none of this night's people reach them
    for other in ("muara-enim", "lampung-tengah"):
        out = paths.exports / "bpjs" / other / SNAPSHOT.isoformat()
        assert json.loads((out / "manifest.json").read_text())["files"][f"daftar_pendaftaran_{other}_{SNAPSHOT}.xlsx"]["rows"] == 0


def test_dictionary_suites_and_marts_agree(full_night):
    import yaml

    from rentan.marts import MARTS
    from rentan.quality.validation import suite_json

    load(data_paths(full_night), load_id="n2", snapshot=SNAPSHOT)
    import rentan.marts

    dictionary = yaml.safe_load((Path(rentan.marts.__file__).parent / "dictionary.yaml").read_text(encoding="utf-8"))
    assert set(dictionary) == set(MARTS)
    for mart in MARTS:
        written = [c for (c,) in _sql(f"select column_name from (describe select * from "
                                      f"read_parquet('{full_night}/warehouse/marts/{mart}/*/*.parquet', hive_partitioning = false))")]
        suite = next(e for e in suite_json(f"{mart}.gold")["expectations"] if e["meta"]["rule"] == "columns_exact")
        assert written == list(dictionary[mart]["columns"]), mart
        assert sorted(suite["kwargs"]["column_set"]) == sorted(written), mart


def test_a_snapshot_sees_only_what_had_arrived_by_its_day(full_night):
    paths = data_paths(full_night)
    # before any file arrived: empty marts, not a later night's
    resolve(paths, load_id="early", snapshot=dt.date(2025, 5, 1))
    load(paths, load_id="early", snapshot=dt.date(2025, 5, 1))
    early = f"{full_night}/warehouse/marts/coverage_village/snapshot_date=2025-05-01/*.parquet"
    assert _sql(f"select sum(proposed), sum(enrolled) from read_parquet('{early}')") == [(0, 0)]
    claims = f"{full_night}/warehouse/marts/claims_monthly/snapshot_date=2025-05-01/*.parquet"
    # the March extract had arrived (mtime 26 March), the April one (18 April) too; nothing else
    assert _sql(f"select count(*) from read_parquet('{claims}')") == [(3,)]
    march = dt.date(2025, 4, 1)
    resolve(paths, load_id="march", snapshot=march)
    load(paths, load_id="march", snapshot=march)
    assert _sql(f"""select claim_type, amount_idr from read_parquet('{full_night}/warehouse/marts/claims_monthly/snapshot_date={march}/*.parquet')
                    order by 1""") == [("BEASISWA", 1_500_000), ("JKM", 42_000_000)], "K-002 as first sent; K-003 not yet"


def test_a_package_left_half_written_is_cleared_and_replaced(full_night):
    paths = data_paths(full_night)
    load(paths, load_id="n2", snapshot=SNAPSHOT)
    branch = paths.exports / "bpjs" / "lahat"
    # what a run killed mid-export leaves: a half-written folder (with NIKs in it)
    left = branch / f".{SNAPSHOT}.12345.tmp"
    left.mkdir(parents=True)
    (left / "daftar_pendaftaran_lahat.csv").write_text("NIK\n1604010102800001\n")
    export(paths, load_id="n2", snapshot=SNAPSHOT)
    export(paths, load_id="n2-again", snapshot=SNAPSHOT)
    assert sorted(p.name for p in branch.iterdir() if p.name != ".lock") == [SNAPSHOT.isoformat()]


def test_a_dry_run_audits_but_publishes_and_exports_nothing(full_night):
    from rentan.pipeline import run_exports

    paths = data_paths(full_night)
    report = load(paths, load_id="dry", snapshot=SNAPSHOT, publish=False)
    assert report["published"] is False and report["rows"]["coverage_village"] == 556
    assert not (paths.warehouse / "marts").exists() and not (paths.warehouse / "rentan.duckdb").exists()
    assert run_exports("dry", report, branches=["lahat"]) == {"branches": {}, "requested": ["lahat"], "written": False}
    assert not (paths.exports / "bpjs").exists()
