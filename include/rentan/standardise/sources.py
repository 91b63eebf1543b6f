"""Per-source standardisation: canonical text fields in, typed silver columns out.

Every function is vectorised over the whole frame. A value that cannot be standardised
becomes NA, and a ``<column>_reason`` column says why; whether that sends the row to
quarantine, only flags it, or is let through is for the Great Expectations suite to say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from rentan.config import Regency
from rentan.reference import regencies as reference_regencies
from rentan.standardise.dates import parse_dates
from rentan.standardise.names import normalise_name, parse_sex
from rentan.standardise.nik import standardise_nik
from rentan.standardise.payers import payers
from rentan.standardise.villages import VillageResolver, _code_form


@dataclass
class Context:
    """What standardising one area needs besides its rows."""

    today: dt.date
    regency: Regency | None = None          # for sources filed by regency
    resolver: VillageResolver | None = None
    # for sources filed by branch: one resolver per regency the branch serves (payer villages)
    branch_resolvers: list[VillageResolver] = field(default_factory=list)


def _regency_prefixes() -> set[str]:
    return set(reference_regencies()["code"])


def _text(s: pd.Series) -> pd.Series:
    """Trimmed text, single spaces, NA for blanks."""
    t = s.astype("string").str.replace(r"\s+", " ", regex=True).str.strip()
    return t.where(t != "")


def _reason_where(bad: pd.Series, code: str, index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string").mask(bad.fillna(False).astype(bool), code)


def _nik(rows: pd.DataFrame, numeric: pd.DataFrame | None, ctx: Context) -> pd.DataFrame:
    return standardise_nik(rows["nik"], numeric["nik"] if numeric is not None else None,
                           regency_prefixes=_regency_prefixes(), reference_year=ctx.today.year)


def _birth_dates(raw: pd.Series, ctx: Context) -> pd.DataFrame:
    d = parse_dates(raw, today=ctx.today, two_digit_min_age=14)
    return d.rename(columns={"date": "birth_date", "date_reason": "birth_date_reason"})


def parse_money(raw: pd.Series) -> pd.Series:
    """Whole rupiah from '20160000', 'Rp 20.160.000', 'Rp20.160.000,00', '20,160,000.00'; NA if not money."""
    t = raw.astype("string").str.upper().str.replace(r"RP\.?|IDR|\s", "", regex=True)
    dotted = t.str.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?").fillna(False)
    commaed = t.str.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?").fillna(False)
    plain = t.str.fullmatch(r"\d+(?:[\.,]\d{1,2})?").fillna(False)
    whole = t.copy()
    whole[dotted] = t[dotted].str.replace(r",\d+$", "", regex=True).str.replace(".", "", regex=False)
    whole[commaed] = t[commaed].str.replace(r"\.\d+$", "", regex=True).str.replace(",", "", regex=False)
    whole[plain] = t[plain].str.replace(r"[\.,]\d+$", "", regex=True)
    return pd.to_numeric(whole.where(dotted | commaed | plain), errors="coerce").astype("Int64")


def parse_month(raw: pd.Series, ctx: Context) -> pd.Series:
    """First day of a month written '2025-05', '05/2025', '05-2025' or 'Mei 2025'; NaT otherwise."""
    t = raw.astype("string").str.strip()
    iso = t.str.extract(r"^(\d{4})[\-/](\d{1,2})$")
    my = t.str.extract(r"^(\d{1,2})[\-/](\d{4})$")
    year = iso[0].fillna(my[1])
    month = iso[1].fillna(my[0])
    text = ("01-" + month.astype("string") + "-" + year.astype("string")).where(year.notna(), "01 " + t)
    return parse_dates(text, today=ctx.today, allow_future=True)["date"]


def submissions(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    nik = _nik(rows, numeric, ctx)
    birth = _birth_dates(rows["tanggal_lahir"], ctx)
    name = _text(rows["nama"])
    sex_given = parse_sex(rows["jenis_kelamin"])
    villages = ctx.resolver.resolve(rows["desa"], rows["kecamatan"])

    # rows whose village name is shared by several villages of the regency: the file is one
    # village's list, so its other rows say which one is meant
    file_village = (villages.assign(f=rows["source_file"]).dropna(subset=["village_code"])
                    .groupby("f")["village_code"].agg(lambda s: s.mode().iat[0]))
    fv = rows["source_file"].map(file_village)
    amb_rows = villages.index[(villages["village_match"] == "ambiguous").to_numpy() & fv.notna().to_numpy()]
    amb = [i for i in amb_rows if fv[i] in str(villages.at[i, "village_suggestions"]).split("; ")]
    villages.loc[amb, "village_code"] = fv[amb]
    villages.loc[amb, "village_match"] = "file"
    # a typo near the file's own village is that village, even when another name is as near
    # ("KOTA AAYA" in Kota Raya's list is Kota Raya, not Kota Jaya)
    typo = ((villages["village_match"] == "fuzzy") & fv.notna() & villages["village_code"].ne(fv).fillna(False)).to_numpy()
    if typo.any():
        own = ctx.resolver.near_own(rows.loc[typo, "desa"], fv[typo])
        villages.loc[own.index[own], "village_code"] = fv[own.index[own]]
        villages.loc[own.index[own], "village_match"] = "file"
    still_amb = villages["village_match"] == "ambiguous"
    if still_amb.any():
        villages.loc[still_amb, "village_suggestions"] = villages.loc[still_amb, "village_suggestions"].map(
            lambda s: ctx.resolver.describe(s.split("; ")))

    village_reason = pd.Series(pd.NA, index=idx, dtype="string")
    village_reason[villages["village_match"] == "missing"] = "village_missing"
    village_reason[villages["village_match"].isin(["unknown", "ambiguous"])] = "village_unknown"

    year = pd.to_numeric(_text(rows["tahun"]), errors="coerce").astype("Int64")
    return pd.DataFrame({
        "regency_code": ctx.regency.code,
        "nik": nik["nik"], "nik_reason": nik["nik_reason"], "nik_birth_date": nik["nik_birth_date"],
        "nik_sex": nik["nik_sex"], "nik_regency": nik["nik_regency"],
        "name": name, "name_norm": normalise_name(name),
        "birth_place": _text(rows["tempat_lahir"]),
        "birth_date": birth["birth_date"], "birth_date_reason": birth["birth_date_reason"],
        "birth_year": birth["birth_date"].dt.year.astype("Int64"),
        # the NIK encodes sex; a village that left the column empty still gives it
        "sex": sex_given.fillna(nik["nik_sex"]), "sex_given": sex_given,
        "occupation": _text(rows["pekerjaan"]).str.lower(),
        "address": _text(rows["alamat"]), "rt_rw": _text(rows["rt_rw"]),
        "phone": _text(rows["no_hp"]).str.replace(r"[^\d+]", "", regex=True),
        "village_given": _text(rows["desa"]), "district_given": _text(rows["kecamatan"]),
        "village_code": villages["village_code"], "village_match": villages["village_match"],
        "village_reason": village_reason, "village_suggestions": villages["village_suggestions"],
        "district_code": villages["village_code"].str[:8],
        "funding_source": _text(rows["sumber_dana"]).str.upper(),
        "year": year,
    }, index=idx)


SEGMENTS = {"PU": "PU", "PENERIMAUPAH": "PU", "BPU": "BPU", "BUKANPENERIMAUPAH": "BPU",
            "JAKON": "JAKON", "JASAKONSTRUKSI": "JAKON", "PMI": "PMI", "PEKERJAMIGRANINDONESIA": "PMI"}
STATUSES = {"AKTIF": "AKTIF", "NONAKTIF": "NON AKTIF", "TIDAKAKTIF": "NON AKTIF", "NA": "NON AKTIF"}
CLAIM_TYPES = {"JKK": "JKK", "JKM": "JKM", "BEASISWA": "BEASISWA", "BEASISWAPENDIDIKAN": "BEASISWA",
               "JHT": "JHT", "JP": "JP", "JKP": "JKP"}


def _vocab(raw: pd.Series, vocab: dict[str, str]) -> pd.Series:
    return raw.astype("string").str.upper().str.replace(r"[^A-Z]", "", regex=True).map(vocab).astype("string")


def _kpj(raw: pd.Series) -> pd.Series:
    k = raw.astype("string").str.strip().str.replace(r"[\s\.\-]", "", regex=True)
    return k.where(k.str.fullmatch(r"\d{11}").fillna(False))


def membership(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    nik = _nik(rows, numeric, ctx)
    birth = _birth_dates(rows["tanggal_lahir"], ctx)
    kpj = _kpj(rows["kpj"])
    segment = _vocab(rows["segmen"], SEGMENTS)
    status = _vocab(rows["status"], STATUSES)
    registered = parse_dates(rows["tanggal_kepesertaan"], today=ctx.today, allow_future=True)["date"]
    programmes = rows["program"].astype("string").str.upper().str.replace(r"[^A-Z,]", "", regex=True)
    return pd.DataFrame({
        "kpj": kpj, "kpj_reason": _reason_where(kpj.isna(), "kpj_invalid", idx),
        "nik": nik["nik"], "nik_reason": nik["nik_reason"],
        "name": _text(rows["nama"]), "name_norm": normalise_name(rows["nama"]),
        "birth_date": birth["birth_date"],
        "segment": segment, "segment_reason": _reason_where(segment.isna(), "segment_unknown", idx),
        "programmes": programmes,
        "registered_on": registered,
        "registered_reason": _reason_where(registered.isna(), "registration_date_invalid", idx),
        "status": status, "status_reason": _reason_where(status.isna(), "status_unknown", idx),
        "last_paid_month": parse_month(rows["bulan_terakhir_bayar"], ctx),
        "payer": _text(rows["pembayar"]),
        **payers(rows["pembayar"], rows["kode_desa_pembayar"], ctx.branch_resolvers),
    }, index=idx)


def claims(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    nik = _nik(rows, numeric, ctx)
    claim_type = _vocab(rows["jenis_klaim"], CLAIM_TYPES)
    incident = parse_dates(rows["tanggal_kejadian"], today=ctx.today)["date"]
    paid = parse_dates(rows["tanggal_bayar"], today=ctx.today)["date"]
    amount = parse_money(rows["nominal"])
    claim_no = _text(rows["no_klaim"])
    return pd.DataFrame({
        "claim_no": claim_no, "claim_no_reason": _reason_where(claim_no.isna(), "claim_number_missing", idx),
        "kpj": _kpj(rows["kpj"]), "nik": nik["nik"], "nik_reason": nik["nik_reason"],
        "claim_type": claim_type, "claim_type_reason": _reason_where(claim_type.isna(), "claim_type_unknown", idx),
        "incident_date": incident, "paid_date": paid,
        "paid_reason": _reason_where(paid.isna(), "claim_date_invalid", idx),
        "amount_idr": amount, "amount_reason": _reason_where(amount.isna() | (amount < 0), "amount_invalid", idx),
        "beneficiary": _text(rows["penerima"]),
    }, index=idx)


def budget(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    by_code = _code_form(rows["kode_desa"])
    known = by_code.isin(ctx.resolver.codes).fillna(False)
    by_name = ctx.resolver.resolve(rows["nama_desa"])
    code = by_code.where(known, by_name["village_code"])
    year = pd.to_numeric(_text(rows["tahun_anggaran"]), errors="coerce").astype("Int64")
    year = year.where(year.between(2000, ctx.today.year + 1).fillna(False))
    return pd.DataFrame({
        "regency_code": ctx.regency.code,
        "village_code": code.astype("string"),
        "village_reason": _reason_where(code.isna(), "village_unknown", idx),
        "village_suggestions": by_name["village_suggestions"],
        "village_given": _text(rows["nama_desa"]),
        "fiscal_year": year, "fiscal_year_reason": _reason_where(year.isna(), "budget_year_invalid", idx),
        "add_total_idr": parse_money(rows["pagu_add"]),
        "contribution_budget_idr": parse_money(rows["anggaran_iuran"]),
        "workers_budgeted": pd.to_numeric(_text(rows["jumlah_pekerja"]), errors="coerce").astype("Int64"),
        "realised_idr": parse_money(rows["realisasi"]),
    }, index=idx)


STANDARDISERS = {"submissions": submissions, "membership": membership, "claims": claims, "budget": budget}
