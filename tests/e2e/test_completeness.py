"""A night is complete and true, or says why not: held-back extracts, revised village lists,
payers told by name, and content loaded once, each with real files through the real DAG."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import shutil

import duckdb
import pendulum
import pytest

from rentan.core.ledger import DUPLICATE, LOADED, UNREADABLE, Content, Ledger
from rentan.core.settings import data_paths
from tests import builders as b
from tests.nightly import run_nightly
from tests.packages import sheet_frame

pytestmark = pytest.mark.e2e

JUNE = lambda day, hour=9: dt.datetime(2025, 6, day, hour, tzinfo=b.WIB)  # noqa: E731
A, B_, C, D, E = (b.nik(d, 1, 90, 100 + d) for d in (11, 12, 13, 14, 15))


def _states(run) -> dict[tuple[str, str], str]:
    return {(t.task_id, t.rendered_map_index or str(t.map_index)): t.state for t in run.get_task_instances()}


def _alerts(root) -> list[dict]:
    path = root / "alerts" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _mart(root, mart: str, night: dt.date, where: str = "true") -> list[dict]:
    part = root / "warehouse" / "marts" / mart / f"snapshot_date={night}"
    with duckdb.connect() as con:
        rel = con.execute(f"select * from read_parquet('{part}/*.parquet') where {where}")
        cols = [c[0] for c in rel.description]
        return [dict(zip(cols, r)) for r in rel.fetchall()]


def _sheet(path) -> list[dict]:
    """The rows of a package's workbook under its header row, as a branch officer reads them."""
    return sheet_frame(path).to_dict("records")


def _package(root, branch: str, night: dt.date, stem: str) -> list[dict]:
    return _sheet(root / "exports" / "bpjs" / branch / str(night) / f"{stem}_{branch}_{night}.xlsx")


def test_a_held_back_membership_extract_gives_no_package_and_says_why(dagbag, data_root):
    land = data_root / "landing"
    b.village_list(land / "submissions/lahat/tsp/usulan_kembang_ayun.xlsx",
                   [b.person(1, A, "Budi Santoso", "11-01-1990"), b.person(2, B_, "Siti Aminah", "12-01-1990", sex="P")],
                   JUNE(1))
    b.every_branch_extracts(land, JUNE(2))
    # a later extract of the Lahat branch: Budi is an active PU member there and only there, but
    # nine of its ten rows have no card number, so the 20% rule holds the whole file back
    rows = [b.member("12345678901", A, "BUDI SANTOSO", "11-01-1990")]
    rows += [b.member("-", b.nik(1, 2, 80, 500 + i, "160402"), "WARGA", "01-02-1980") for i in range(9)]
    b.csv_extract(land / "membership/lahat/kepesertaan_2025_06_20.csv", b.MEMBERSHIP_HEADER, rows, JUNE(20))

    run = run_nightly(dagbag)
    states = _states(run)
    assert states[("validation_gate", "-1")] == "failed"
    assert states[("export", "lahat")] == "failed"
    assert states[("export", "muara-enim")] == states[("export", "lampung-tengah")] == "success"
    assert not (data_root / "exports/bpjs/lahat").exists(), "no package: it could have enrolled an active PU member"
    night = dt.date(2025, 6, 30)
    why = [a for a in _alerts(data_root) if a["task_id"] == "export"]
    assert len(why) == 1 and why[0]["area"] == "lahat"
    assert "membership/lahat/kepesertaan_2025_06_20.csv" in why[0]["error"] and "held back" in why[0]["error"]
    assert "ask BPJS Ketenagakerjaan Cabang Lahat for a corrected extract" in why[0]["error"]
    lahat = _mart(data_root, "coverage_regency", night, "regency = 'lahat'")[0]
    assert lahat["complete"] is False and "held back" in lahat["incomplete_reason"]
    assert lahat["active_participants"] is None and lahat["coverage_pct"] is None, "never a silent 0%"
    others = _mart(data_root, "coverage_regency", night, "regency <> 'lahat'")
    assert all(r["complete"] and r["active_participants"] == 1 for r in others)
    from rentan.report import summary

    assert "branch lahat            INCOMPLETE, no package" in summary(data_paths(data_root))


def test_a_corrected_resend_replaces_the_earlier_list(dagbag, data_root):
    land = data_root / "landing"
    b.every_branch_extracts(land, JUNE(2))
    village = land / "submissions/lahat/tsp"
    b.village_list(village / "usulan_kembang_ayun.xlsx", [
        b.person(1, A, "Budi Santoso", "11-01-1990"), b.person(2, B_, "Agus Salim", "12-01-1990"),
        b.person(3, C, "Dedi Kurniawan", "31-02-1990"),          # no such day: turned back
        b.person(4, D, "Joko Susilo", "14-01-1990")], JUNE(5))
    first = dt.date(2025, 6, 10)
    assert run_nightly(dagbag, logical_date=pendulum.datetime(2025, 6, 10, tz="UTC")).state == "success"
    assert {r["NIK"] for r in _package(data_root, "lahat", first, "daftar_pendaftaran")} == {A, B_, D}

    # the village corrects Dedi's birth date, withdraws Joko and adds Eko: the whole list again
    b.village_list(village / "usulan_kembang_ayun_revisi.xlsx", [
        b.person(1, A, "Budi Santoso", "11-01-1990"), b.person(2, B_, "Agus Salim", "12-01-1990"),
        b.person(3, C, "Dedi Kurniawan", "13-01-1990"), b.person(4, E, "Eko Prasetyo", "15-01-1990")], JUNE(15))
    second = dt.date(2025, 6, 20)
    run = run_nightly(dagbag, logical_date=pendulum.datetime(2025, 6, 20, tz="UTC"))
    assert run.state == "success", _states(run)
    home = _mart(data_root, "coverage_village", second, f"village_code = '{b.KEMBANG_AYUN[2]}'")[0]
    assert (home["proposed"], home["valid"], home["duplicates"], home["eligible"]) == (4, 4, 0, 4), "counted once"
    assert {r["NIK"] for r in _package(data_root, "lahat", second, "daftar_pendaftaran")} == {A, B_, C, E}
    gone = _package(data_root, "lahat", second, "penarikan")
    assert [(r["NIK"], r["PAKET SEBELUMNYA"]) for r in gone] == [(D, "2025-06-10")]
    assert gone[0]["DIGANTI DENGAN DAFTAR"] == "submissions/lahat/tsp/usulan_kembang_ayun_revisi.xlsx"
    assert _package(data_root, "lahat", second, "pengecualian") == [], "the village's own resent rows are no duplicates"
    with Ledger(data_paths(data_root).ledger_url) as ledger:
        old = next(lst for lst in ledger.submission_lists() if lst.file.endswith("usulan_kembang_ayun.xlsx"))
    assert (old.superseded_by, old.rows_replaced) == ("submissions/lahat/tsp/usulan_kembang_ayun_revisi.xlsx", 4)
    # Dedi's old row is no longer on the village's fix-list: it has no rejected row left
    assert not list((data_root / "exports/desa/lahat").rglob("daftar_perbaikan_*.xlsx"))
    # and the first night, as published then, keeps its own figures
    assert _mart(data_root, "coverage_village", first, f"village_code = '{b.KEMBANG_AYUN[2]}'")[0]["proposed"] == 4


def test_who_pays_is_read_from_the_payer_name_and_an_unknown_payer_is_no_accusation(dagbag, data_root):
    from rentan.reference import villages

    land = data_root / "landing"
    x, y, z, v = (b.nik(d, 3, 85, 200 + d) for d in (1, 2, 3, 4))
    b.village_list(land / "submissions/lahat/tsp/usulan_kembang_ayun.xlsx", [
        b.person(1, x, "Rudi Hartono", "01-03-1985"), b.person(2, y, "Hadi Purnomo", "02-03-1985"),
        b.person(3, z, "Wawan Setiawan", "03-03-1985"), b.person(4, v, "Yusuf Maulana", "04-03-1985")], JUNE(1))
    # the same Yusuf, proposed by the neighbouring desa under the regency's budget
    b.village_list(land / "submissions/lahat/tsp/usulan_gunung_meraksa.xlsx", [
        b.person(1, v, "Yusuf Maulana", "04-03-1985", village=b.GUNUNG_MERAKSA, fund="APBD")], JUNE(3))
    pali = villages(["16.12"], desa_only=True).iloc[0]
    w = b.nik(5, 3, 85, 205, pali["district_code"].replace(".", ""))
    b.village_list(land / "submissions/pali/usulan_pali.xlsx", [
        b.person(1, w, "Bambang Irawan", "05-03-1985", village=(pali["name"], pali["district_name"]))], JUNE(1))
    b.every_branch_extracts(land, JUNE(2), skip=("lahat", "muara-enim"))
    b.csv_extract(land / "membership/lahat/kepesertaan.csv", b.MEMBERSHIP_HEADER, [
        b.member("10000000001", x, "RUDI HARTONO", "01-03-1985", "BPU", payer="PEMDES KEMBANG AYUN"),
        b.member("10000000002", y, "HADI PURNOMO", "02-03-1985", "BPU", payer="Pemerintah Desa Gunung Meraksa"),
        b.member("10000000003", z, "WAWAN SETIAWAN", "03-03-1985", "BPU", payer="")], JUNE(2))
    b.csv_extract(land / "claims/lahat/klaim.csv", b.CLAIMS_HEADER, [b.claim("K-1", "10000000001", x)], JUNE(2))
    # the Muara Enim extract names its payer column in a way no mapping knows
    header = [h if h != "PEMBAYAR" else "SIAPA YANG MEMBAYAR" for h in b.MEMBERSHIP_HEADER]
    b.csv_extract(land / "membership/muara-enim/kepesertaan.csv", header, [
        b.member("10000000005", w, "BAMBANG IRAWAN", "05-03-1985", "BPU", payer="PEMDES X")], JUNE(2))
    b.csv_extract(land / "claims/muara-enim/klaim.csv", b.CLAIMS_HEADER, [b.claim("K-2", "10000000005", w)], JUNE(2))

    run = run_nightly(dagbag)
    assert run.state == "success", _states(run)
    night = dt.date(2025, 6, 30)
    reasons = {r["NIK"]: r["KODE ALASAN"] for r in _package(data_root, "lahat", night, "pengecualian")}
    assert reasons == {x: "bpu_paid_by_this_village",   # "PEMDES KEMBANG AYUN": this village, a renewal
                       y: "double_funding",             # another village pays him already
                       z: "payer_unknown",              # payer not given: to review, not an accusation
                       v: "double_funding_budget"}      # proposed again under another budget
    assert {r["NIK"] for r in _package(data_root, "lahat", night, "daftar_pendaftaran")} == {v}
    pali_reasons = {r["NIK"]: r["KODE ALASAN"] for r in _package(data_root, "muara-enim", night, "pengecualian")}
    assert pali_reasons == {w: "payer_unknown"}
    assert _package(data_root, "muara-enim", night, "daftar_pendaftaran") == []


def test_a_misfiled_copy_never_takes_the_place_of_the_right_one(dagbag, data_root, extracts_not_required):
    land = data_root / "landing"
    rows = [b.person(i, b.nik(10 + i, 4, 88, 300 + i), f"Warga {chr(65 + i)}", f"{10 + i}-04-1988") for i in range(5)]
    # the same Lahat list, first dropped in PALI's folder, then in the right one
    misfiled = b.village_list(land / "submissions/pali/salah/usulan_kembang_ayun.xlsx", rows, JUNE(1))
    right = land / "submissions/lahat/tsp/usulan_kembang_ayun.xlsx"
    right.parent.mkdir(parents=True)
    shutil.copy2(misfiled, right)
    b.delivered(right, JUNE(3))

    run = run_nightly(dagbag)
    assert run.state == "success", _states(run)
    with Ledger(data_paths(data_root).ledger_url) as ledger:
        entries = {e.file: e for e in ledger.entries()}
    assert entries["submissions/lahat/tsp/usulan_kembang_ayun.xlsx"].status == LOADED
    wrong = entries["submissions/pali/salah/usulan_kembang_ayun.xlsx"]
    assert (wrong.status, wrong.reason_code) == (UNREADABLE, "misfiled_regency")
    assert "Kabupaten Lahat" in wrong.reason and "landing/submissions/lahat/" in wrong.reason
    night = dt.date(2025, 6, 30)
    by_regency = {r["regency"]: r["proposed"] for r in _mart(data_root, "coverage_regency", night)}
    assert by_regency["lahat"] == 5 and by_regency["pali"] == 0

    # the other order of the two loads gives the same
    from rentan.ingest import ingest

    other = data_root.parent / "other-order"
    shutil.copytree(land, other / "landing")
    for area in ("pali", "lahat"):
        ingest(data_paths(other), load_id="o", areas=[area], sources=["submissions"])
    with Ledger(data_paths(other).ledger_url) as ledger:
        assert {e.file: (e.status, e.reason_code) for e in ledger.entries()} == {
            e.file: (e.status, e.reason_code) for e in entries.values()}


def _load_in_parallel(root, area, barrier) -> None:
    import os

    os.environ["RENTAN_DATA"] = str(root)
    from rentan.pipeline import run_load

    barrier.wait()
    run_load(load_id="race", source="membership", area=area, night={"snapshot": "2025-06-30"})


def test_the_same_bytes_in_two_folders_loaded_side_by_side_give_one_copy(tmp_path):
    """Two loads, in two processes, started together on the same content filed under two
    branches: the ledger lets one load it, whatever the timing; the other records a duplicate."""
    ctx = multiprocessing.get_context("spawn")
    rows = [b.member(f"3000000000{i}", b.nik(1, 5, 80, 700 + i, "160402"), "WARGA", "01-05-1980") for i in range(30)]
    for attempt in range(3):
        root = tmp_path / f"race-{attempt}"
        first = b.csv_extract(root / "landing/membership/lahat/kepesertaan.csv", b.MEMBERSHIP_HEADER, rows, JUNE(2))
        second = root / "landing/membership/muara-enim/kepesertaan.csv"
        second.parent.mkdir(parents=True)
        shutil.copy2(first, second)
        with Ledger(data_paths(root).ledger_url):
            pass  # the ledger's tables, made once, as the plan task does
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_load_in_parallel, args=(root, area, barrier)) for area in ("lahat", "muara-enim")]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        with Ledger(data_paths(root).ledger_url) as ledger:
            statuses = sorted(e.status for e in ledger.entries())
            with ledger.session() as s:
                claims = s.query(Content).count()
        assert statuses == [DUPLICATE, LOADED] and claims == 1, attempt
        bronze = (root / "warehouse/bronze/membership").as_posix()
        assert duckdb.sql(f"select count(*) from read_parquet('{bronze}/**/*.parquet')").fetchall() == [(30,)]


def test_a_partial_resend_replaces_only_the_rows_it_names_and_an_addition_replaces_none(data_root):
    """A village sends ten people (two with a bad birth date), then only the two corrected rows,
    then three more people: ten people are proposed, once each; nothing is withdrawn."""
    from rentan import lists
    from rentan.core.night import end_of_day
    from rentan.ingest import ingest
    from rentan.standardise import standardise

    village = data_root / "landing/submissions/lahat/tsp"
    people = [(b.nik(1 + i, 6, 91, 400 + i), f"Warga Desa {chr(65 + i)}", f"{1 + i:02d}-06-1991") for i in range(13)]
    first = [b.person(i + 1, n, name, "30-02-1991" if i < 2 else born) for i, (n, name, born) in enumerate(people[:10])]
    b.village_list(village / "usulan.xlsx", first, JUNE(1))
    b.village_list(village / "usulan_perbaikan.xlsx", [b.person(i + 1, n, name, born)
                                                        for i, (n, name, born) in enumerate(people[:2])], JUNE(3))
    b.village_list(village / "usulan_tambahan.xlsx", [b.person(i + 1, n, name, born)
                                                       for i, (n, name, born) in enumerate(people[10:])], JUNE(5))
    paths = data_paths(data_root)
    ingest(paths, load_id="p")
    standardise(paths, load_id="p", today=dt.date(2025, 6, 30))
    with Ledger(paths.ledger_url) as ledger:
        now = lists.current(paths, ledger, end_of_day(dt.date(2025, 6, 30)), 0.5)
        by_file = {lst.file.rsplit("/", 1)[1]: lst for lst in ledger.submission_lists()}
    assert sorted(now.replaced["row_number"]) == [2, 3], "the two rows the corrections name, nothing else"
    assert (by_file["usulan.xlsx"].superseded_by, by_file["usulan.xlsx"].rows_replaced) == (
        "submissions/lahat/tsp/usulan_perbaikan.xlsx", 2)
    assert by_file["usulan_perbaikan.xlsx"].superseded_by is None and by_file["usulan_tambahan.xlsx"].rows_replaced == 0
    # a night before the corrections arrived saw the first list whole
    with Ledger(paths.ledger_url) as ledger:
        assert lists.current(paths, ledger, end_of_day(dt.date(2025, 6, 2)), 0.5).replaced.empty
