"""The standardise stage on real village files: each defect class of the domain brief in an
xlsx or csv as villages send them, through ingest, the real Great Expectations suites, and back
out of silver and quarantine Parquet with DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rentan.core.settings import data_paths
from rentan.quality.gate import BlockedBatches, gate
from rentan.standardise import standardise
from tests.builders import HEADER, layer, row, run, write_xlsx

TODAY = dt.date(2025, 6, 30)


@pytest.fixture
def village_file(data_root):
    land = data_root / "landing" / "submissions" / "lahat" / "tanjung-sakti-pumi"
    rows = [
        row(1, "1604011708750001"),                                   # clean
        row(2, 1604015508750000.0, name="Siti Aminah", sex="P"),      # numeric cell: 16th digit lost
        row(3, "1604011708750002.0"),                                 # passed through a number format
        row(4, "160401170875003"),                                    # 15 digits
        row(5, "1604011708750004", desa="Atlantis Raya"),             # no such village
        row(6, "1604011708750005", born="31-02-1980"),                # no such day
        row(7, "1604011708750006", born="-"),                         # empty birth date
        row(8, "1604011708750007", sex="P"),                          # NIK says male: a warning only
        row(9, "1604011708750008", desa="KEMBANGAYUN"),              # spelling variant: resolves
        row(10, "1604011708750009", desa="Gunung Meraksa"),           # another real desa of the district
        row(11, "9904011708750010"),                                  # no such province/regency
        row(12, "1604011708750011", born="17 Agustus 1975", name="H. Ahmad Djunaidi, S.Pd."),
        row(13, "1604011708750012", born=27623),                      # Excel serial number
    ] + [row(n, f"16040117087500{n}") for n in range(14, 19)]        # clean: keeps the file under the
    # blocking threshold of invalid rows
    write_xlsx(land / "usulan_kembang_ayun.xlsx", HEADER, rows)
    csv_rows = "\r\n".join([";".join(HEADER), "1;1,60401E+15;Ani;01-07-1980;P;Kembang Ayun;Tanjung Sakti Pumi;ADD",
                            "2;1604014107800002;Ani;01-07-1980;P;Kembang Ayun;Tanjung Sakti Pumi;ADD"]) + "\r\n"
    (land / "usulan_susulan.csv").write_bytes(csv_rows.encode("cp1252"))
    return data_root


def test_each_defect_class_goes_to_quarantine_with_its_reason(village_file):
    report = run(village_file)
    assert report["blocked"] == []
    q = {(Path(r["source_file"]).name, r["row_number"]): r for r in layer(village_file, "quarantine")}
    x = "usulan_kembang_ayun.xlsx"
    # title row 1, blank row 2, header row 3: data starts on Excel row 4
    expected = {
        (x, 5): "nik_numeric_cell", (x, 6): "nik_decimal", (x, 7): "nik_wrong_length",
        (x, 8): "village_unknown", (x, 9): "date_impossible", (x, 10): "date_missing",
        (x, 14): "nik_unknown_region", ("usulan_susulan.csv", 2): "nik_scientific",
    }
    assert {k: v["reason_code"] for k, v in q.items()} == expected
    unknown = q[(x, 8)]
    assert unknown["value"] == "Atlantis Raya" and unknown["sender_header"] == "DESA"
    assert unknown["suggestions"], "an unknown village comes with the nearest official names"
    assert unknown["village_code"] == "16.04.01.2001", "the file's village, for its fix-list"
    damaged = q[(x, 5)]
    assert damaged["value"] == "1604015508750000" and damaged["sender_header"] == "NIK"
    assert "Teks" in damaged["tindakan"] and damaged["alasan"] and damaged["reason"]


def test_clean_rows_reach_silver_typed_and_normalised(village_file):
    run(village_file)
    s = {(Path(r["source_file"]).name, r["row_number"]): r for r in layer(village_file, "silver")}
    x = "usulan_kembang_ayun.xlsx"
    assert set(s) == {(x, 4), (x, 11), (x, 12), (x, 13), (x, 15), (x, 16), (x, 17), (x, 18), (x, 19), (x, 20),
                      (x, 21), ("usulan_susulan.csv", 3)}
    assert s[(x, 4)]["nik"] == "1604011708750001"
    assert s[(x, 4)]["birth_date"] == dt.date(1975, 8, 17)
    assert s[(x, 12)]["village_code"] == "16.04.01.2001"           # KEMBANGAYUN
    assert s[(x, 13)]["village_code"] == "16.04.01.2002"           # Gunung Meraksa
    assert list(s[(x, 11)]["warnings"]) == ["sex_mismatch"]         # flagged, not rejected
    assert list(s[(x, 4)]["warnings"]) == []
    assert s[(x, 15)]["name_norm"] == "AHMAD JUNAIDI" and s[(x, 15)]["name"] == "H. Ahmad Djunaidi, S.Pd."
    assert s[(x, 16)]["birth_date"] == dt.date(1975, 8, 17)        # from the Excel serial
    assert s[("usulan_susulan.csv", 3)]["sex"] == "P"


def test_rows_are_conserved_and_a_rerun_changes_nothing(village_file):
    first = run(village_file)
    assert sum(first["rows_in"].values()) == 20
    assert sum(first["rows_silver"].values()) + sum(first["rows_quarantine"].values()) == 20
    before = (layer(village_file, "silver"), layer(village_file, "quarantine"))
    again = standardise(data_paths(village_file), load_id="t2", today=TODAY).as_dict()
    assert again["files"] == 0, "files already standardised under the same rules are not redone"
    assert (layer(village_file, "silver"), layer(village_file, "quarantine")) == before


def test_blocking_rules_hold_back_a_file_and_the_gate_names_it(data_root):
    land = data_root / "landing" / "submissions" / "lahat" / "tanjung-sakti-pumi"
    write_xlsx(land / "tanpa_nik.xlsx", ["NO", "NAMA", "TGL LAHIR", "DESA"],
               [[1, "Budi", "17-08-1975", "Kembang Ayun"], [2, "Ani", "01-07-1980", "Kembang Ayun"]])
    write_xlsx(land / "kolom_bergeser.xlsx", HEADER,
               [row(i, f"ABC{i}") for i in range(1, 5)] + [row(5, "1604011708750001")])  # 80% invalid
    write_xlsx(land / "baik.xlsx", HEADER, [row(1, "1604011708750001"), row(2, "1604011708750002")])
    report = run(data_root)

    held = {Path(m.split(":")[0]).name: m for m in report["blocked"]}
    assert set(held) == {"tanpa_nik.xlsx", "kolom_bergeser.xlsx"}
    assert "has_nik" in held["tanpa_nik.xlsx"] and "2 rows held back" in held["tanpa_nik.xlsx"]
    assert "4 of 5 rows invalid" in held["kolom_bergeser.xlsx"]

    silver_files = {Path(r["source_file"]).name for r in layer(data_root, "silver")}
    assert silver_files == {"baik.xlsx"}, "nothing of a held-back file reaches silver"
    q = layer(data_root, "quarantine")
    assert {(Path(r["source_file"]).name, r["reason_code"]) for r in q if r["blocked"]} == {
        ("tanpa_nik.xlsx", "missing_column"), ("kolom_bergeser.xlsx", "too_many_invalid")}
    assert len(q) == 7

    with pytest.raises(BlockedBatches, match=r"tanpa_nik\.xlsx.*missing_column"):
        gate(report)


def test_extracts_and_budgets_are_standardised(data_root):
    land = data_root / "landing"
    (land / "membership" / "lahat").mkdir(parents=True)
    (land / "membership" / "lahat" / "kepesertaan.csv").write_text(
        "KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,KODE DESA PEMBAYAR\n"
        "10000388353,1604075304840013,TINA,13-04-1984,PU,\"JKK, JKM, JHT, JP\",22-07-2017,AKTIF,2025-05,PT A,\n"
        "1000038835,1604075304840014,RINA,13-04-1984,BPU,\"JKK, JKM\",01-08-2024,NON AKTIF,2025-01,PEMERINTAH DESA X,1604012001\n"
        "10000388354,1604075304840015,DINA,13-04-1984,Bukan Penerima Upah,\"JKK, JKM\",01-08-2024,Aktif,05/2025,PEMERINTAH DESA X,16.04.01.2001\n"
        # more good rows: one bad row in three would be a share that holds the whole extract back
        + "".join(f"1000038836{i},160407530484002{i},X{i},13-04-1984,PU,JKK,01-01-2020,AKTIF,2025-05,PT A,\n" for i in range(5)))
    (land / "claims" / "lahat").mkdir(parents=True)
    (land / "claims" / "lahat" / "klaim.csv").write_text(
        "NO KLAIM,KPJ,NIK,JENIS KLAIM,TGL KEJADIAN,TGL BAYAR,NOMINAL,PENERIMA\n"
        "K1,24847545333,1604310611820006,JKM,04/01/2025,12/01/2025,Rp 42.000.000,X\n"
        "K2,24847545333,1604310611820006,SANTUNAN,04/01/2025,12/01/2025,100,X\n"
        + "".join(f"K3{i},24847545333,1604310611820006,JKK,04/01/2025,12/01/2025,1500000,X\n" for i in range(5)))
    (land / "budget" / "lahat").mkdir(parents=True)
    (land / "budget" / "lahat" / "apbdes.csv").write_text(
        "KODE DESA,NAMA DESA,TAHUN ANGGARAN,PAGU ADD,ANGGARAN IURAN BPJS TK,JUMLAH PEKERJA DIANGGARKAN,REALISASI\n"
        "1604012001,Kembang Ayun,2025,650000000,\"Rp 20.160.000\",100,10080000\n")
    report = run(data_root)
    assert report["rows_quarantine"] == {"budget/lahat": 0, "claims/lahat": 1, "membership/lahat": 1}
    m = {r["name"]: r for r in layer(data_root, "silver", "membership")}
    assert m["DINA"]["segment"] == "BPU" and m["DINA"]["status"] == "AKTIF"
    assert m["DINA"]["last_paid_month"] == dt.date(2025, 5, 1) and m["DINA"]["payer_village_code"] == "16.04.01.2001"
    assert [r["reason_code"] for r in layer(data_root, "quarantine", "membership")] == ["kpj_invalid"]
    c = layer(data_root, "silver", "claims")
    assert [(r["claim_type"], r["amount_idr"]) for r in c][:2] == [("JKM", 42_000_000), ("JKK", 1_500_000)]
    assert [r["reason_code"] for r in layer(data_root, "quarantine", "claims")] == ["claim_type_unknown"]
    b = layer(data_root, "silver", "budget")
    assert (b[0]["village_code"], b[0]["contribution_budget_idr"], b[0]["fiscal_year"]) == ("16.04.01.2001", 20_160_000, 2025)
    assert list((data_root / "gx" / "validations").rglob("*.json")), "validation results kept as JSON"


def test_row_conservation_names_a_file_whose_rows_do_not_add_up(tmp_path):
    """bronze = silver + quarantine for each file of tonight's batch, from the files' footers."""
    from types import SimpleNamespace

    import pyarrow as pa
    import pyarrow.parquet as pq

    from rentan.standardise import check_conservation

    paths = data_paths(tmp_path)
    entries = []
    for sha, (b, s, q) in {"a" * 64: (3, 2, 1), "b" * 64: (4, 2, 1), "c" * 64: (2, 0, 2)}.items():
        bronze = paths.layer("bronze", "submissions") / "area=lahat" / f"{sha[:32]}.parquet"
        for _layer, n, path in (("bronze", b, bronze),
                               ("silver", s, paths.layer("silver", "submissions") / "area=lahat" / f"{sha[:32]}.parquet"),
                               ("quarantine", q, paths.layer("quarantine", "submissions") / "area=lahat" / f"{sha[:32]}.parquet")):
            if n:
                path.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.table({"file_sha256": [sha] * n}), path)
        entries.append(SimpleNamespace(sha256=sha, bronze_path=bronze.relative_to(paths.root).as_posix()))
    assert check_conservation(paths, {("submissions", "lahat"): entries}) == [("b" * 64, 4, 2, 1)]
