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

    def of_regency(self) -> tuple[Regency, VillageResolver]:
        """The regency and its villages, for a source filed by regency."""
        if self.regency is None or self.resolver is None:
            raise ValueError("a source filed by regency is standardised with its regency's villages")
        return self.regency, self.resolver


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


# Money is whole rupiah in at most 15 significant digits (< Rp 1,000 trillion): more than any
# village budget or BPJS payment, and far below int64's 9.2e18, so a parsed amount can never wrap
# and a sum of millions of them cannot overflow. Plausible ranges per field are the suites'
# (expectations/*.silver.json); this bound only makes overflow impossible by construction.
MONEY_MAX_DIGITS = 15
AMOUNT_INVALID = "amount_invalid"            # empty, or not a number ("nan", "abc")
AMOUNT_NEGATIVE = "amount_negative"
AMOUNT_OUT_OF_RANGE = "amount_out_of_range"  # more digits than any real amount, "inf", 1e30

_FORMAT_CHARS = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"  # zero-width and format characters


def money(raw: pd.Series) -> pd.DataFrame:
    """``value`` (Int64, whole rupiah) and ``reason`` (NA when the value is money) from '20160000',
    'Rp 20.160.000', 'Rp20.160.000,00', '20,160,000.00'. Digits are counted before any number is
    made: a value of more than 15 significant digits, an infinity or an overflowing exponent is
    out of range, never a wrapped integer."""
    idx = raw.index
    t = (raw.astype("string").str.upper().str.replace(_FORMAT_CHARS, "", regex=True)
         .str.replace(r"RP\.?|IDR|\s", "", regex=True))
    negative = t.str.fullmatch(r"[\-\u2212].+|\(.+\)").fillna(False)
    t = t.where(~negative, t.str.replace(r"^[\-\u2212]|^\(|\)$", "", regex=True))
    dotted = t.str.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?").fillna(False)
    commaed = t.str.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?").fillna(False)
    plain = t.str.fullmatch(r"\d+(?:[\.,]\d{1,2})?").fillna(False)
    whole = t.copy()
    whole[dotted] = t[dotted].str.replace(r",\d+$", "", regex=True).str.replace(".", "", regex=False)
    whole[commaed] = t[commaed].str.replace(r"\.\d+$", "", regex=True).str.replace(",", "", regex=False)
    whole[plain] = t[plain].str.replace(r"[\.,]\d+$", "", regex=True)
    is_money = dotted | commaed | plain
    digits = whole.where(is_money).str.lstrip("0").str.len()
    fits = is_money & (digits <= MONEY_MAX_DIGITS).fillna(False)
    # only strings of at most 15 digits become numbers: exact in int64 (and in float64, < 2**53)
    value = pd.to_numeric(whole.where(fits, "0"), errors="coerce").astype("int64").astype("Int64").where(fits)
    # a number Excel wrote in scientific notation, or an infinity: out of range when it is as big
    # as a 15-digit amount, otherwise not whole rupiah one can trust
    sci = t.str.fullmatch(r"(?:\d+[\.,]?\d*|[\.,]\d+)E[+\-]?\d+|INF|INFINITY|∞").fillna(False)
    huge = sci & (pd.to_numeric(t.where(sci).str.replace(",", ".", regex=False).str.replace("∞", "INF"),
                                errors="coerce") >= 10 ** MONEY_MAX_DIGITS).fillna(False)
    reason = pd.Series(AMOUNT_INVALID, index=idx, dtype="string")
    reason = reason.mask((is_money & ~fits) | huge, AMOUNT_OUT_OF_RANGE)
    reason = reason.mask(negative & (is_money | huge), AMOUNT_NEGATIVE)
    value = value.where(~negative)
    return pd.DataFrame({"value": value, "reason": reason.where(value.isna())}, index=idx)


def parse_money(raw: pd.Series) -> pd.Series:
    """Whole rupiah (Int64), NA when not money or out of range (see ``money`` for why)."""
    return money(raw)["value"]


def checked_int(raw: pd.Series, max_digits: int) -> pd.Series:
    """A whole number of at most ``max_digits`` digits (Int64), NA otherwise: never cast from a float."""
    t = _text(raw).str.replace(r"\.0+$", "", regex=True)
    ok = t.str.fullmatch(rf"\d{{1,{max_digits}}}").fillna(False)
    return pd.to_numeric(t.where(ok, "0"), errors="coerce").astype("int64").astype("Int64").where(ok)


def person_name(raw: pd.Series) -> pd.DataFrame:
    """``name`` (zero-width and format characters removed, single spaces) and ``reason``:
    ``name_missing`` when empty, ``name_no_letters`` when it holds no letter in any script
    ("-", "123", "...", a zero-width space), when the name is NA too."""
    given = _text(raw)
    name = _text(given.str.replace(_FORMAT_CHARS, "", regex=True))
    letters = name.str.contains(r"[^\W\d_]", regex=True).fillna(False)
    reason = pd.Series(pd.NA, index=raw.index, dtype="string")
    reason = reason.mask(given.isna(), "name_missing")
    reason = reason.mask(given.notna() & ~letters, "name_no_letters")
    return pd.DataFrame({"name": name.where(letters), "reason": reason}, index=raw.index)


def _date_reason(parsed: pd.DataFrame, invalid: str) -> pd.Series:
    """The field's reason from ``parse_dates``: out of range when in the future, else ``invalid``."""
    r = parsed["date_reason"]
    return r.mask(r.notna(), invalid).mask(r.eq("date_in_future").fillna(False), "date_out_of_range")


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
    name = person_name(rows["nama"])
    sex_given = parse_sex(rows["jenis_kelamin"])
    regency, resolver = ctx.of_regency()
    villages = resolver.resolve(rows["desa"], rows["kecamatan"])

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
        own = resolver.near_own(rows.loc[typo, "desa"], fv[typo])
        villages.loc[own.index[own], "village_code"] = fv[own.index[own]]
        villages.loc[own.index[own], "village_match"] = "file"
    still_amb = villages["village_match"] == "ambiguous"
    if still_amb.any():
        villages.loc[still_amb, "village_suggestions"] = villages.loc[still_amb, "village_suggestions"].map(
            lambda s: resolver.describe(s.split("; ")))

    village_reason = pd.Series(pd.NA, index=idx, dtype="string")
    village_reason[villages["village_match"] == "missing"] = "village_missing"
    village_reason[villages["village_match"].isin(["unknown", "ambiguous"])] = "village_unknown"

    year = checked_int(rows["tahun"], 4)
    return pd.DataFrame({
        "regency_code": regency.code,
        "nik": nik["nik"], "nik_reason": nik["nik_reason"], "nik_birth_date": nik["nik_birth_date"],
        "nik_sex": nik["nik_sex"], "nik_regency": nik["nik_regency"],
        "name": name["name"], "name_reason": name["reason"], "name_norm": normalise_name(name["name"]),
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
    # registered after the snapshot is out of range; before 1977 too (the suite's floor)
    registered = parse_dates(rows["tanggal_kepesertaan"], today=ctx.today)
    name = person_name(rows["nama"])
    programmes = rows["program"].astype("string").str.upper().str.replace(r"[^A-Z,]", "", regex=True)
    return pd.DataFrame({
        "kpj": kpj, "kpj_reason": _reason_where(kpj.isna(), "kpj_invalid", idx),
        "nik": nik["nik"], "nik_reason": nik["nik_reason"],
        "name": name["name"], "name_reason": name["reason"], "name_norm": normalise_name(name["name"]),
        "birth_date": birth["birth_date"],
        "segment": segment, "segment_reason": _reason_where(segment.isna(), "segment_unknown", idx),
        "programmes": programmes,
        "registered_on": registered["date"], "registered_year": registered["date"].dt.year.astype("Int64"),
        "registered_reason": _date_reason(registered, "registration_date_invalid"),
        "status": status, "status_reason": _reason_where(status.isna(), "status_unknown", idx),
        "last_paid_month": parse_month(rows["bulan_terakhir_bayar"], ctx),
        "payer": _text(rows["pembayar"]),
        **payers(rows["pembayar"], rows["kode_desa_pembayar"], ctx.branch_resolvers),
    }, index=idx)


def claims(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    nik = _nik(rows, numeric, ctx)
    claim_type = _vocab(rows["jenis_klaim"], CLAIM_TYPES)
    incident = parse_dates(rows["tanggal_kejadian"], today=ctx.today)
    paid = parse_dates(rows["tanggal_bayar"], today=ctx.today)
    amount = money(rows["nominal"])
    claim_no = _text(rows["no_klaim"])
    return pd.DataFrame({
        "claim_no": claim_no, "claim_no_reason": _reason_where(claim_no.isna(), "claim_number_missing", idx),
        "kpj": _kpj(rows["kpj"]), "nik": nik["nik"], "nik_reason": nik["nik_reason"],
        "claim_type": claim_type, "claim_type_reason": _reason_where(claim_type.isna(), "claim_type_unknown", idx),
        "incident_date": incident["date"], "incident_year": incident["date"].dt.year.astype("Int64"),
        # an incident date may be unknown; one after the snapshot is out of range
        "incident_reason": incident["date_reason"].eq("date_in_future").map({True: "date_out_of_range"}).astype("string"),
        "paid_date": paid["date"], "paid_year": paid["date"].dt.year.astype("Int64"),
        "paid_reason": _date_reason(paid, "claim_date_invalid"),
        "amount_idr": amount["value"], "amount_reason": amount["reason"],
        "beneficiary": _text(rows["penerima"]),
    }, index=idx)


def budget(rows: pd.DataFrame, numeric: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    idx = rows.index
    by_code = _code_form(rows["kode_desa"])
    regency, resolver = ctx.of_regency()
    known = by_code.isin(resolver.codes).fillna(False)
    by_name = resolver.resolve(rows["nama_desa"])
    code = by_code.where(known, by_name["village_code"])
    year = checked_int(rows["tahun_anggaran"], 4)
    year = year.where(year.between(2000, ctx.today.year + 1).fillna(False))
    return pd.DataFrame({
        "regency_code": regency.code,
        "village_code": code.astype("string"),
        "village_reason": _reason_where(code.isna(), "village_unknown", idx),
        "village_suggestions": by_name["village_suggestions"],
        "village_given": _text(rows["nama_desa"]),
        "fiscal_year": year, "fiscal_year_reason": _reason_where(year.isna(), "budget_year_invalid", idx),
        **_budget_money(rows, "pagu_add", "add_total"),
        **_budget_money(rows, "anggaran_iuran", "contribution_budget"),
        "workers_budgeted": checked_int(rows["jumlah_pekerja"], 9),
        **_budget_money(rows, "realisasi", "realised"),
    }, index=idx)


def _budget_money(rows: pd.DataFrame, field_name: str, column: str) -> dict:
    """A budget line and, when a value was given but is negative or out of range, its reason
    (an empty or unreadable line is only a warning: the budget row still names its village)."""
    m = money(rows[field_name])
    given_but_absurd = m["reason"].isin([AMOUNT_NEGATIVE, AMOUNT_OUT_OF_RANGE]).fillna(False)
    return {f"{column}_idr": m["value"], f"{column}_reason": m["reason"].where(given_but_absurd)}


STANDARDISERS = {"submissions": submissions, "membership": membership, "claims": claims, "budget": budget}
