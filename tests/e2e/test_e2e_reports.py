"""The reports scenario through the real DAG: the marts must give back the published figures, the
branches get their own people only, and no personal data reaches any mart."""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pytest

from rentan.core.settings import data_paths
from tests.nightly import run_nightly
from tests.packages import sheet_frame

pytestmark = pytest.mark.e2e

SNAPSHOT = "2025-05-30"


@pytest.fixture(scope="module")
def reports(dagbag, tmp_path_factory):
    from rentan_dev.sample.scenario import generate_reports

    root = tmp_path_factory.mktemp("reports") / "data"
    generate_reports(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("RENTAN_DATA", str(root))
    try:
        run = run_nightly(dagbag, run_conf={"snapshot_date": SNAPSHOT})
    finally:
        mp.undo()
    assert run.state == "success", [(t.task_id, t.state) for t in run.get_task_instances()]
    return root


def _db(root):
    return duckdb.connect(str(data_paths(root).warehouse / "rentan.duckdb"), read_only=True)


def test_marts_reproduce_the_reported_coverage(reports):
    with _db(reports) as con:
        got = dict(con.execute("select regency, coverage_pct from coverage_regency").fetchall())
        counts = dict(con.execute("select regency, (working_population, active_participants) from coverage_regency").fetchall())
    assert got["lahat"] == 21.43 and got["lampung-barat"] == 24.41
    assert counts["lahat"] == (239_799, 51_398) and counts["lampung-barat"] == (92_913, 22_680)
    assert got["pali"] is None, "no published working population for PALI: no coverage invented"
    assert counts["pali"] == (None, 4_390), "PALI's village officials, BPD members and staff already active"


def test_marts_list_palis_missing_villages(reports):
    truth = json.loads((reports / "truth" / "summary.json").read_text())
    with _db(reports) as con:
        missing = [r[0] for r in con.execute("select village_code from villages_missing where regency = 'pali' order by 1").fetchall()]
        pali = con.execute("select villages, villages_submitted, proposed from coverage_regency where regency = 'pali'").fetchall()
    assert pali == [(65, 12, 743)]
    assert missing == truth["villages_missing"]["pali"] and len(missing) == 53


def test_each_branch_gets_its_own_regencies_people_only(reports):
    subs = {}
    for f in (reports / "landing" / "submissions").rglob("*.xlsx"):
        frame = pd.read_excel(f, header=2, dtype=str)
        subs.setdefault(f.relative_to(reports / "landing" / "submissions").parts[0], set()).update(frame["NIK"])
    expect = {"lahat": subs["lahat"], "muara-enim": subs["pali"], "lampung-tengah": subs["lampung-barat"]}
    for branch, niks in expect.items():
        folder = data_paths(reports).exports / "bpjs" / branch / SNAPSHOT
        manifest = json.loads((folder / "manifest.json").read_text())
        # the withdrawal sheet (penarikan) comes along where the branch has one
        assert set(manifest["files"]) - {f"penarikan_{branch}_{SNAPSHOT}.xlsx"} == {
            f"daftar_pendaftaran_{branch}_{SNAPSHOT}.xlsx", f"pengecualian_{branch}_{SNAPSHOT}.xlsx",
            f"rekonsiliasi_desa_{branch}_{SNAPSHOT}.xlsx"}
        sent = sheet_frame(folder / f"daftar_pendaftaran_{branch}_{SNAPSHOT}.xlsx")
        assert set(sent["NIK"]) == niks, branch


def test_no_personal_data_in_any_mart(reports):
    paths = data_paths(reports)
    con = duckdb.connect()
    silver = paths.warehouse / "silver"
    secrets = set()
    for table, cols in (("submissions", ("nik", "name")), ("membership", ("nik", "kpj", "name"))):
        for c in cols:
            secrets.update(v for (v,) in con.execute(
                f"select distinct {c} from read_parquet('{silver / table}/*/*.parquet') where {c} is not null").fetchall())
    assert len(secrets) > 150_000
    marts = sorted((paths.warehouse / "marts").rglob("*.parquet"))
    assert len(marts) >= 9
    digits = re.compile(r"\d{11,}")
    # keyed hashes (hex) and record ids (a file hash and a row number) may hold long digit runs
    pseudonyms = {"person_key", "claim_key", "record_id", "duplicate_of"}
    for f in marts:
        rel = con.execute(f"select * from read_parquet('{f}')")
        cols = [d[0] for d in rel.description]
        rows = rel.fetchall()
        values = {str(v) for row in rows for v in row if v is not None}
        leaked = values & secrets
        assert not leaked, f"{f.name} of {f.parent.parent.name} holds personal data in {cols}"
        plain = {str(v) for row in rows for c, v in zip(cols, row) if v is not None and c not in pseudonyms}
        assert not [v for v in plain if digits.search(v)], f"{f.parent.parent.name}: an 11+ digit number (NIK or KPJ?)"
    con.close()
