"""Identity and eligibility on real village files and a real BPJS extract, through ingest and
standardise, read back from Parquet."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd

from rentan.config import load_config
from rentan.core.settings import data_paths
from rentan.identity import decide, resolve
from rentan.identity.keys import person_keys
from rentan.ingest import ingest
from rentan.standardise import standardise
from tests.builders import HEADER, write_xlsx
from tests.lahat import AWAY, DELIVERED, HOME, N_DUP, N_MEMBER, N_PU, SNAPSHOT, deliver_later_extract, delivered, nik, proposal


def candidates(root: Path) -> dict[tuple[str, int], dict]:
    rel = duckdb.sql(f"select * from read_parquet('{root}/warehouse/silver/enrolment_candidates/**/*.parquet', hive_partitioning=true)")
    return {(Path(r["source_file"]).name, r["row_number"]): r for r in (dict(zip(rel.columns, x)) for x in rel.fetchall())}


def test_each_proposal_gets_its_status(night, monkeypatch):
    monkeypatch.setenv("RENTAN_PERSON_KEY", "test-secret")
    report = resolve(data_paths(night), load_id="n1", snapshot=SNAPSHOT)
    c = candidates(night)
    h, a = "usulan_home.xlsx", "usulan_away.xlsx"
    # the village in the district that issued the NIK keeps the person; the other names it
    assert c[(h, 2)]["status"] == "eligible"
    assert (c[(a, 2)]["status"], c[(a, 2)]["reason"]) == ("duplicate", "duplicate_across_villages")
    assert c[(a, 2)]["duplicate_of"] == c[(h, 2)]["record_id"] and c[(a, 2)]["duplicate_of_village"] == HOME["code"]
    assert (c[(h, 3)]["status"], c[(h, 3)]["reason"]) == ("already_covered", "active_pu")
    assert (c[(h, 4)]["status"], c[(h, 4)]["reason"]) == ("already_covered", "double_funding")
    assert c[(h, 5)]["status"] == "already_enrolled"
    assert (c[(h, 6)]["status"], c[(h, 6)]["age"]) == ("ineligible", 70)
    # the mistyped NIK is the lapsed member: same person, may be proposed again
    assert (c[(h, 7)]["status"], c[(h, 7)]["matched_by"]) == ("eligible", "fuzzy")
    assert c[(h, 7)]["person_key"] == person_keys(pd.Series([N_MEMBER]), b"test-secret")[0]
    # same name and birth date, the next serial: a typo or a namesake, a person must decide; the
    # pair waits with both records side by side, first in the queue (a proposal against an active member)
    assert (c[(h, 8)]["status"], c[(h, 8)]["reason"]) == ("needs_review", "possible_same_person")
    # another person under the PU member's NIK: not merged with them, reviewed
    assert c[(h, 9)]["status"] == "needs_review" and c[(h, 9)]["person_key"] != c[(h, 3)]["person_key"]
    assert c[(h, 3)]["status"] == "already_covered"
    # the same name and birth date with a NIK four digits off is another person
    assert c[(h, 10)]["status"] == "eligible"
    assert report["review_pairs"] == 2 and report["fuzzy_links"] == 1 and report["nik_conflicts"] == 1
    queue = pd.read_parquet(night / "warehouse/silver/review_queue/review_queue.parquet")
    assert list(queue["reason_code"]) == ["possible_same_person", "same_nik_different_person"]
    first = queue.iloc[0]
    assert first["stake_rank"] == 1 and {first["name_a"], first["name_b"]} == {"Siti Aminah", "SITI AMINAH"}
    assert "serial" in first["reason"] and "nomor urut" in first["alasan"]
    assert {c[(h, r)]["status"] for r in range(11, 17)} == {"eligible"}
    assert not any(v["over_quota"] for v in c.values())


def test_quota_overflow_is_flagged_not_dropped(night):
    cfg = load_config()
    small = replace(cfg, regencies={**cfg.regencies, "lahat": replace(
        cfg.regencies["lahat"], quota_steps=(replace(cfg.regencies["lahat"].quota_steps[0], quota=5),))})
    resolve(data_paths(night), load_id="n1", snapshot=SNAPSHOT, config=small)
    home = [v for k, v in candidates(night).items() if k[0] == "usulan_home.xlsx" and v["status"] == "eligible"]
    assert len(home) == 9
    assert sorted(v["quota_rank"] for v in home) == list(range(1, 10))
    assert [v["row_number"] for v in home if v["over_quota"]] == [13, 14, 15, 16]  # the last four received


def test_same_night_twice_gives_identical_keys_and_outputs(night):
    def digest() -> dict[str, str]:
        out = night / "warehouse" / "silver"
        return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                for sub in ("persons", "enrolment_candidates", "review_queue") for p in sorted((out / sub).rglob("*.parquet"))}

    def links() -> int:
        return duckdb.execute(f"select count(*) from '{night}/warehouse/silver/merge_ledger/*.parquet'").fetchall()[0][0]

    resolve(data_paths(night), load_id="n1", snapshot=SNAPSHOT)
    first, linked = digest(), links()
    resolve(data_paths(night), load_id="n1-again", snapshot=SNAPSHOT)
    assert digest() == first
    assert linked == 23 and links() == linked, "17 proposals and 6 members, each recorded once unless its person changes"
    # the same night again rewrites its own lines, not an empty file
    resolve(data_paths(night), load_id="n1-again", snapshot=SNAPSHOT)
    assert links() == linked


def test_a_reviewers_decision_sticks(night):
    resolve(data_paths(night), load_id="n1", snapshot=SNAPSHOT)
    queue = pd.read_parquet(night / "warehouse/silver/review_queue/review_queue.parquet")
    assert len(queue) == 2 and {queue.at[0, "source_a"], queue.at[0, "source_b"]} == {"membership", "submission"}
    decide(data_paths(night), queue.at[0, "pair_id"], same_person=False, by="petugas verifikasi")
    # the two under one NIK are one person after all (a reviewer says so): merged
    decide(data_paths(night), queue.at[1, "pair_id"], same_person=True, by="petugas verifikasi")
    resolve(data_paths(night), load_id="n2", snapshot=SNAPSHOT)
    c = candidates(night)
    assert c[("usulan_home.xlsx", 8)]["status"] == "eligible"
    assert c[("usulan_home.xlsx", 9)]["person_key"] == c[("usulan_home.xlsx", 3)]["person_key"]
    assert (c[("usulan_home.xlsx", 9)]["status"], c[("usulan_home.xlsx", 9)]["duplicate_of"]) == (
        "duplicate", c[("usulan_home.xlsx", 3)]["record_id"])
    assert pd.read_parquet(night / "warehouse/silver/review_queue/review_queue.parquet").empty


def test_person_keys_are_keyed_stable_and_not_plain_hashes():
    niks = pd.Series([N_DUP, N_DUP, N_PU, None], dtype="string")
    k1, k2 = person_keys(niks, b"secret-one"), person_keys(niks, b"secret-two")
    assert k1[0] == k1[1] and k1[0] != k1[2] and pd.isna(k1[3])
    assert k1[0] != k2[0], "another secret gives other keys"
    assert k1[0] not in hashlib.sha256(N_DUP.encode()).hexdigest(), "a key is not the NIK's plain hash"


def test_sql_person_keys_equal_the_python_ones():
    from rentan.identity.keys import hmac_sql, hmac_sql_pads

    niks = [nik(d, m, y, s) for d, m, y, s in [(1, 2, 80, 1), (31, 12, 99, 9999), (45, 6, 0, 17)]]
    for key in (b"short", b"k" * 64, b"a much longer secret than one sha256 block of sixty-four bytes, hashed first"):
        inner, outer = hmac_sql_pads(key)
        got = duckdb.connect().execute(
            f"select list_transform($niks, lambda n: {hmac_sql('n')})",
            {"outer": outer, "inner": inner, "niks": niks}).fetchall()[0][0]
        assert got == list(person_keys(pd.Series(niks), key))


def test_a_night_with_no_candidate_pairs(data_root):
    """One proposal and nobody else: no pair to score, still a decision."""
    land = data_root / "landing"
    write_xlsx(land / "submissions/lahat/tanjung-sakti-pumi/satu.xlsx", HEADER,
               [proposal(1, nik(9, 9, 90, 9), "Satu Saja", "09-09-1990")], title=False)
    delivered(land, DELIVERED)
    ingest(data_paths(data_root), load_id="n1")
    standardise(data_paths(data_root), load_id="n1", today=SNAPSHOT)
    report = resolve(data_paths(data_root), load_id="n1", snapshot=SNAPSHOT)
    assert report["status"] == {"eligible": 1} and report["review_pairs"] == 0


def test_a_later_extract_replaces_a_members_row(night):
    """Extracts come monthly and overlap: a member is their latest row, once."""
    deliver_later_extract(night)
    ingest(data_paths(night), load_id="n2")
    standardise(data_paths(night), load_id="n2", today=SNAPSHOT)
    resolve(data_paths(night), load_id="n2", snapshot=SNAPSHOT)
    assert candidates(night)[("usulan_home.xlsx", 3)]["status"] == "eligible", "no longer an active PU member"
    rp = f"{night}/warehouse/silver/record_persons/*.parquet"
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) - count(distinct record_id) from '{rp}'").fetchall() == [(0,)]
    # and on the snapshot before the later extract arrived, the member was still active
    resolve(data_paths(night), load_id="n0", snapshot=dt.date(2025, 6, 5))
    assert candidates(night)[("usulan_home.xlsx", 3)]["status"] == "already_covered"


def test_a_slip_onto_a_twins_nik_belongs_to_the_one_who_made_it(data_root, monkeypatch):
    """Twins born the same day in one district hold neighbouring NIKs and names a letter apart.
    A village types Hasan's NIK for his twin Hasin's on two lists: the two records stay with
    Hasan (the BPJS TK member), apart from Hasin, whose own proposal carries the NIK too."""
    monkeypatch.setenv("RENTAN_PERSON_KEY", "test-secret")
    n_hasan, n_hasin = nik(12, 3, 88, 1), nik(12, 3, 88, 2)
    land = data_root / "landing"
    write_xlsx(land / "submissions/lahat/tanjung-sakti-pumi/usulan_kembar.xlsx", HEADER, [
        proposal(1, n_hasin, "Hasan Basri", "12-03-1988"),
        proposal(2, n_hasin, "Hasin Basri", "12-03-1988"),
    ], title=False)
    write_xlsx(land / "submissions/lahat/lain/usulan_lain.xlsx", HEADER, [
        proposal(1, n_hasin, "HASAN BASRI", "12-03-1988", v=AWAY),
    ], title=False)
    (land / "membership/lahat").mkdir(parents=True)
    (land / "membership/lahat/kepesertaan.csv").write_text(
        "KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,KODE DESA PEMBAYAR\n"
        f"77777777777,{n_hasan},HASAN BASRI,12-03-1988,PU,\"JKK, JKM, JHT, JP\",01-01-2020,AKTIF,2025-05,PT C,\n")
    delivered(land, DELIVERED)
    ingest(data_paths(data_root), load_id="n1")
    standardise(data_paths(data_root), load_id="n1", today=SNAPSHOT)
    report = resolve(data_paths(data_root), load_id="n1", snapshot=SNAPSHOT)
    c = candidates(data_root)  # by file and Excel row: the data starts on row 2
    hasan, hasin = person_keys(pd.Series([n_hasan, n_hasin]), b"test-secret")
    assert c[("usulan_kembar.xlsx", 2)]["person_key"] == c[("usulan_lain.xlsx", 2)]["person_key"] == hasan
    assert c[("usulan_kembar.xlsx", 2)]["status"] == "already_covered"
    assert (c[("usulan_lain.xlsx", 2)]["status"], c[("usulan_lain.xlsx", 2)]["duplicate_of"]) == (
        "duplicate", c[("usulan_kembar.xlsx", 2)]["record_id"])
    # Hasin is his own person; a name a letter apart and the next serial could still be Hasan
    # mistyped twice over, so a person looks at the pair (nobody else's NIK explains it)
    assert c[("usulan_kembar.xlsx", 3)]["person_key"] == hasin
    assert (c[("usulan_kembar.xlsx", 3)]["status"], c[("usulan_kembar.xlsx", 3)]["reason"]) == (
        "needs_review", "possible_same_person")
    assert report["nik_conflicts"] == 1 and report["nik_conflicts_explained"] == 1 and report["review_pairs"] == 1
    queue = pd.read_parquet(data_root / "warehouse/silver/review_queue/review_queue.parquet")
    assert {queue.at[0, "name_a"], queue.at[0, "name_b"]} == {"Hasin Basri", "HASAN BASRI"}
