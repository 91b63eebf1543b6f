"""Plausible ranges: absurd amounts, dates and names go to quarantine with their own reason, an
amount never wraps, and the claims mart cannot overflow at the largest amounts allowed."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from rentan.marts.build import CLAIMS_MONTHLY
from rentan.quality.reasons import REASONS
from rentan.quality.validation import EXPECTATIONS_DIR
from rentan.standardise.sources import money, person_name
from tests.builders import HEADER, layer, row, run, write_xlsx

INT64_MIN = -(2 ** 63)


@pytest.mark.parametrize("raw, reason", [
    ("99999999999999999999", "amount_out_of_range"), ("inf", "amount_out_of_range"), ("-inf", "amount_negative"),
    ("1e30", "amount_out_of_range"), ("1E+30", "amount_out_of_range"), ("-5", "amount_negative"),
    ("Rp -5.000", "amount_negative"), ("nan", "amount_invalid"), ("abc", "amount_invalid"), ("", "amount_invalid"),
    ("1234567890123456", "amount_out_of_range"),
])
def test_absurd_money_is_null_with_its_reason_never_a_wrapped_number(raw, reason):
    m = money(pd.Series([raw, "Rp 20.160.000"], dtype="string"))
    assert pd.isna(m["value"].iat[0]) and m["reason"].iat[0] == reason
    assert m["value"].iat[1] == 20_160_000 and pd.isna(m["reason"].iat[1])
    assert m["value"].dtype == "Int64" and not (m["value"].dropna() < 0).any()


def test_fifteen_digits_are_exact():
    m = money(pd.Series(["999.999.999.999.999", "000123"]))
    assert m["value"].tolist() == [999_999_999_999_999, 123]


@pytest.mark.parametrize("raw", ["\u200b", "-", "123", " . ", "\ufeff\u2060", "\u200c\u200d"])
def test_a_name_without_letters_is_invalid(raw):
    n = person_name(pd.Series([raw, "Siti\u200b Aminah"]))
    assert pd.isna(n["name"].iat[0]) and n["reason"].iat[0] == "name_no_letters"
    assert n["name"].iat[1] == "Siti Aminah" and pd.isna(n["reason"].iat[1])


def test_every_new_reason_is_worded():
    for code in ("amount_out_of_range", "amount_negative", "date_out_of_range", "paid_before_incident",
                 "name_no_letters"):
        r = REASONS[code]
        assert r.en and r.id and r.action


def _quarantined(root, source):
    return {r["value"] if r["field"] != "nama" else r["name_given"]: r for r in layer(root, "quarantine", source)}


def test_claims_out_of_range_go_to_quarantine_with_reasons(data_root):
    land = data_root / "landing" / "claims" / "lahat"
    land.mkdir(parents=True)
    head = "NO KLAIM,KPJ,NIK,JENIS KLAIM,TGL KEJADIAN,TGL BAYAR,NOMINAL,PENERIMA\n"

    def claim(no, amount="1500000", incident="04/01/2025", paid="12/01/2025"):
        return f"{no},24847545333,1604310611820006,JKK,{incident},{paid},{amount},X\n"

    bad = [claim("A1", "99999999999999999999"), claim("A2", "inf"), claim("A3", "1e30"), claim("A4", "-5"),
           claim("A5", "6000000000"), claim("D1", paid="01/01/1800"), claim("D2", incident="10/01/2025", paid="05/01/2025"),
           claim("D3", incident="01/01/1800", paid="05/01/2025"), claim("D4", paid="01/01/2099")]
    good = [claim("OK", "Rp 5.000.000.000")] + [claim(f"G{i}") for i in range(40)]
    (land / "klaim.csv").write_text(head + "".join(bad + good))
    report = run(data_root)
    assert not report["blocked"]
    q = {r["value"] if r["field"] == "nominal" else (r["field"], r["value"]): r["reason_code"]
         for r in layer(data_root, "quarantine", "claims")}
    assert q == {
        "99999999999999999999": "amount_out_of_range", "inf": "amount_out_of_range", "1e30": "amount_out_of_range",
        "-5": "amount_negative", "6000000000": "amount_out_of_range",
        ("tanggal_bayar", "01/01/1800"): "date_out_of_range", ("tanggal_bayar", "05/01/2025"): "paid_before_incident",
        ("tanggal_kejadian", "01/01/1800"): "date_out_of_range", ("tanggal_bayar", "01/01/2099"): "date_out_of_range",
    }
    reasons = {r["reason_code"]: (r["reason"], r["alasan"]) for r in layer(data_root, "quarantine", "claims")}
    assert all(en and id_ for en, id_ in reasons.values())
    silver = layer(data_root, "silver", "claims")
    assert len(silver) == 41 and min(r["amount_idr"] for r in silver) > 0
    assert {r["claim_no"]: r["amount_idr"] for r in silver}["OK"] == 5_000_000_000


def test_membership_registered_in_2099_or_1800_goes_to_quarantine(data_root):
    land = data_root / "landing" / "membership" / "lahat"
    land.mkdir(parents=True)
    head = ("KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,"
            "KODE DESA PEMBAYAR\n")

    def member(i, registered):
        return f"100003883{i:02d},16040753048400{i:02d},TINA {i},13-04-1984,PU,JKK,{registered},AKTIF,2025-05,PT A,\n"

    rows = [member(1, "01-01-2099"), member(2, "01-01-1800"), member(3, "01-01-1977")] + [
        member(i, "22-07-2017") for i in range(4, 20)]
    (land / "kepesertaan.csv").write_text(head + "".join(rows))
    report = run(data_root)
    assert not report["blocked"]
    q = {r["value"]: r["reason_code"] for r in layer(data_root, "quarantine", "membership")}
    assert q == {"01-01-2099": "date_out_of_range", "01-01-1800": "date_out_of_range"}
    assert len(layer(data_root, "silver", "membership")) == 17


def test_budget_amount_out_of_range_goes_to_quarantine(data_root):
    land = data_root / "landing" / "budget" / "lahat"
    land.mkdir(parents=True)
    rows = ["KODE DESA,NAMA DESA,TAHUN ANGGARAN,PAGU ADD,ANGGARAN IURAN BPJS TK,JUMLAH PEKERJA DIANGGARKAN,REALISASI\n",
            "1604012001,Kembang Ayun,2020,99999999999999999999,20160000,100,10080000\n",
            "1604012001,Kembang Ayun,2021,650000000,1e30,100,10080000\n",
            "1604012001,Kembang Ayun,2022,650000000,20160000,100,-5\n"]
    rows += [f"1604012001,Kembang Ayun,{y},650000000,20160000,100,10080000\n" for y in range(2023, 2026)]
    (land / "apbdes.csv").write_text("".join(rows))
    report = run(data_root)
    assert not report["blocked"]
    q = {(r["field"], r["value"]): r["reason_code"] for r in layer(data_root, "quarantine", "budget")}
    assert q == {("pagu_add", "99999999999999999999"): "amount_out_of_range",
                 ("anggaran_iuran", "1e30"): "amount_out_of_range", ("realisasi", "-5"): "amount_negative"}
    assert [r["fiscal_year"] for r in layer(data_root, "silver", "budget")] == [2023, 2024, 2025]


def test_names_without_letters_go_to_quarantine(data_root):
    land = data_root / "landing" / "submissions" / "lahat" / "tanjung-sakti-pumi"
    rows = [row(1, "1604011708750001", name="\u200b"), row(2, "1604011708750002", name="-"),
            row(3, "1604011708750003", name="123")] + [row(n, f"16040117087500{n}") for n in range(10, 20)]
    write_xlsx(land / "usulan_kembang_ayun.xlsx", HEADER, rows)
    report = run(data_root)
    assert not report["blocked"]
    q = {r["row_number"]: r["reason_code"] for r in layer(data_root, "quarantine")}
    assert set(q.values()) == {"name_no_letters"} and len(q) == 3
    assert len(layer(data_root, "silver")) == 10


def _claim_cap() -> int:
    suite = json.loads((EXPECTATIONS_DIR / "claims.silver.json").read_text(encoding="utf-8"))
    return next(e["kwargs"]["max_value"] for e in suite["expectations"] if e["meta"]["rule"] == "amount_range")


def test_claims_mart_sums_many_maximum_claims_without_overflow():
    """Ten million claims, all at the largest amount the suite lets through, in one month's group:
    the BIGINT sum holds (it would not if the cap were the 15-digit parse bound)."""
    cap, n = _claim_cap(), 10_000_000
    con = duckdb.connect()
    con.execute(f"""create table claims as select DATE '2025-01-15' as paid_date, 'lahat' as branch,
                    '16.04' as regency_code, 'JKK' as claim_type, {cap}::bigint as amount_idr,
                    'X' || (i % 10) as beneficiary from range({n}) t(i)""")
    con.execute(CLAIMS_MONTHLY)
    (amount,) = con.execute("select amount_idr from claims_monthly").fetchone()
    assert amount == cap * n and amount > 0
    assert con.execute("select typeof(amount_idr) from claims_monthly").fetchone() == ("BIGINT",)
    con.close()
