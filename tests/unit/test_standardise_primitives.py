"""NIK, date, name and sex standardisation: examples of every damage class, and properties
(hypothesis) that the parsers never crash and never accept a malformed value."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rentan.reference import regencies
from rentan.standardise import nik as N  # noqa: N812 - N.valid(...) reads as the rule it tests
from rentan.standardise.dates import (
    DATE_IMPOSSIBLE,
    DATE_IN_FUTURE,
    DATE_MISSING,
    DATE_UNREADABLE,
    parse_dates,
)
from rentan.standardise.names import normalise_name, parse_sex

PREFIXES = set(regencies()["code"])
TODAY = dt.date(2025, 6, 30)


def _nik(values, numeric=None):
    raw = pd.Series(values, dtype="object")
    num = pd.Series(numeric, dtype=bool) if numeric is not None else None
    return N.standardise_nik(raw, num, regency_prefixes=PREFIXES, reference_year=2025)


@pytest.mark.parametrize(
    "value, numeric, reason",
    [
        ("1604015508750000", True, N.NIK_NUMERIC_CELL),  # 16 digits but it was a number in Excel
        ("1.60401E+15", False, N.NIK_SCIENTIFIC),
        ("1,60401E+15", False, N.NIK_SCIENTIFIC),  # Indonesian decimal comma
        ("1604011708750001.0", False, N.NIK_DECIMAL),
        ("1604011708750000", False, N.NIK_SERIAL_ZERO),
        ("160401170875000", False, N.NIK_WRONG_LENGTH),
        ("16040117087500011", False, N.NIK_WRONG_LENGTH),
        ("16040117O8750001", False, N.NIK_NOT_DIGITS),
        ("9904011708750001", False, N.NIK_UNKNOWN_REGION),
        ("1604013208750001", False, N.NIK_BAD_BIRTH_DATE),
        ("1604011713750001", False, N.NIK_BAD_BIRTH_DATE),
        ("", False, N.NIK_MISSING),
        (None, False, N.NIK_MISSING),
    ],
)
def test_each_nik_damage_has_its_reason(value, numeric, reason):
    out = _nik([value], [numeric])
    assert out["nik_reason"].iloc[0] == reason
    assert pd.isna(out["nik"].iloc[0]), "a damaged NIK must never come out as a NIK"


def test_valid_nik_is_decoded():
    out = _nik(["1604011708750001", "16 0401 5708 75 0002", "1604014102050003"])
    assert out["nik"].tolist() == ["1604011708750001", "1604015708750002", "1604014102050003"]
    assert out["nik_reason"].isna().all()
    assert out["nik_sex"].tolist() == ["L", "P", "P"]  # day + 40 for women
    assert [d.date() for d in out["nik_birth_date"]] == [dt.date(1975, 8, 17), dt.date(1975, 8, 17), dt.date(2005, 2, 1)]
    assert out["nik_regency"].tolist() == ["16.04"] * 3
    assert out["nik_region"].tolist() == ["160401"] * 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=25), st.integers().map(str),
                          st.floats(allow_nan=True).map(repr)), min_size=1, max_size=30))
def test_nik_parser_never_crashes_and_accepts_only_16_digit_structures(values):
    out = _nik(values)
    assert len(out) == len(values)
    ok = out["nik"].dropna()
    assert ok.str.fullmatch(r"\d{16}").all()
    assert (ok.str[:2] + "." + ok.str[2:4]).isin(PREFIXES).all()
    assert out.loc[ok.index, "nik_birth_date"].notna().all()
    assert (out["nik"].isna() == out["nik_reason"].notna()).all()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("17-08-1975", dt.date(1975, 8, 17)),
        ("17/08/75", dt.date(1975, 8, 17)),
        ("17.8.1975", dt.date(1975, 8, 17)),
        ("1975-08-17", dt.date(1975, 8, 17)),
        ("1975-08-17 00:00:00", dt.date(1975, 8, 17)),
        ("17 Agustus 1975", dt.date(1975, 8, 17)),
        ("17 AGT 1975", dt.date(1975, 8, 17)),
        ("17-Agu-75", dt.date(1975, 8, 17)),
        ("12 Nopember 1985", dt.date(1985, 11, 12)),
        ("27623", dt.date(1975, 8, 17)),  # Excel serial
        ("05/08/1975", dt.date(1975, 8, 5)),  # day first, always
        ("05/08/05", dt.date(2005, 8, 5)),
        ("05/08/30", dt.date(1930, 8, 5)),  # 2030 is in the future
    ],
)
def test_dates_in_every_form(text, expected):
    out = parse_dates(pd.Series([text]), today=TODAY, two_digit_min_age=14)
    assert out["date_reason"].isna().iloc[0], out["date_reason"].iloc[0]
    assert out["date"].iloc[0].date() == expected


@pytest.mark.parametrize(
    "text, reason",
    [("31-02-1980", DATE_IMPOSSIBLE), ("29-02-2001", DATE_IMPOSSIBLE), ("17-13-1980", DATE_IMPOSSIBLE),
     ("-", DATE_MISSING), ("??", DATE_MISSING), (None, DATE_MISSING), ("kemarin", DATE_UNREADABLE),
     ("17 Agustus 2030", DATE_IN_FUTURE)],
)
def test_bad_dates_have_reasons(text, reason):
    out = parse_dates(pd.Series([text], dtype="object"), today=TODAY)
    assert out["date_reason"].iloc[0] == reason
    assert pd.isna(out["date"].iloc[0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30),
                          st.dates().map(lambda d: d.strftime("%d-%m-%Y")),
                          st.integers(-10, 10**7).map(str)), min_size=1, max_size=30))
def test_date_parser_never_crashes_and_never_returns_future_or_invalid(values):
    out = parse_dates(pd.Series(values, dtype="object"), today=TODAY)
    assert len(out) == len(values)
    parsed = out["date"].dropna()
    assert (parsed <= pd.Timestamp(TODAY)).all()
    assert (out["date"].isna() == out["date_reason"].notna()).all()


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
def test_every_real_date_round_trips_in_each_village_form(d):
    forms = [d.strftime("%d-%m-%Y"), d.strftime("%d/%m/%Y"), d.isoformat(), str((d - dt.date(1899, 12, 30)).days)]
    out = parse_dates(pd.Series(forms), today=TODAY)
    assert [x.date() for x in out["date"]] == [d] * len(forms)


def test_names_normalise_for_matching():
    raw = pd.Series(["H. Ahmad Djunaidi, S.Pd.", "AHMAD JUNAIDI", "Hj. Siti Aminah binti Abdullah",
                     "Moh. Soekarno", "Muhammad Sukarno", "José Ñoer", "  ", "Hamdan"])
    out = normalise_name(raw).tolist()
    assert out[0] == out[1] == "AHMAD JUNAIDI"
    assert out[2] == "SITI AMINAH"
    assert out[3] == out[4]
    assert out[5] == "JOSE NUR"
    assert pd.isna(out[6])
    assert out[7] == "HAMDAN"  # a name starting with H is not a title


def test_sex_variants():
    raw = pd.Series(["L", "p", "Laki-laki", "PEREMPUAN", "Lk.", "Wanita", "x", None], dtype="object")
    assert parse_sex(raw).tolist()[:6] == ["L", "P", "L", "P", "L", "P"]
    assert parse_sex(raw).isna().tolist()[6:] == [True, True]


def test_every_header_spelling_villages_use_maps_to_its_field():
    from rentan.standardise.bronze import fields_of, header_index, header_key
    from rentan_dev.sample.templates import HEADER_TEMPLATES

    index, fields = header_index("submissions"), fields_of("submissions")
    for regency, templates in HEADER_TEMPLATES.items():
        for name, pairs in templates.items():
            for field, header in pairs:
                for variant in (header, header + " ", header.lower(), f" {header.title()} "):
                    assert fields[index[header_key(variant)]] == field, (regency, name, variant)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))  # headers are ASCII
def test_header_mapping_never_crashes_and_ignores_case_spacing_and_punctuation(text):
    from rentan.standardise.bronze import header_index, header_key

    key = header_key(text)
    assert key == "" or (key.isascii() and key.isalnum() and key == key.upper())
    for source in ("submissions", "membership", "claims", "budget"):
        index = header_index(source)
        # what a sender adds around a header (case, spaces, dots) never changes the field it maps to
        assert index.get(key) == index.get(header_key(f" {text.lower()}. ")) == index.get(header_key(text.upper()))


def test_a_long_column_of_repeated_dates_parses_as_each_value_alone():
    """Each distinct text is parsed once and broadcast; the result is what parsing every row gives."""
    import datetime as dt

    import numpy as np

    from rentan.standardise import dates

    forms = ["17-08-1975", "17/8/75", "1975-08-17", "17 Agustus 1975", "27623", "31-02-1980", "", None, "abc",
             "05.08.2099", "17-Agu-75", "2024-02-29 00:00:00", "-"]
    values = np.random.default_rng(3).choice(np.array(forms, dtype=object), 5000)
    raw = pd.Series(values, index=np.arange(5000) * 7)
    for kw in ({"allow_future": False, "two_digit_min_age": 0}, {"allow_future": True, "two_digit_min_age": 14}):
        got = dates.parse_dates(raw, today=dt.date(2025, 6, 30), **kw)
        one_by_one = pd.concat([dates._parse(raw.iloc[i:i + 1], today=dt.date(2025, 6, 30), **kw)
                                for i in range(0, 5000, 250)])
        pd.testing.assert_frame_equal(got.iloc[::250], one_by_one)
        assert got.index.equals(raw.index)
        assert got["date_reason"].isna().sum() > 1000 and got["date_reason"].notna().sum() > 1000
