"""Policy numbers live in configuration and in one place each: the tests hold the places that
must agree, and show a changed number changing what the stage does."""

from __future__ import annotations

import pandas as pd
import pytest

from rentan.config import DEFAULT_CONFIG, load_config
from rentan.marts.names import AGE_BANDS
from rentan.quality.validation import suite_json
from rentan.standardise.villages import VillageResolver


@pytest.mark.parametrize("suite", ["dim_person.gold", "fact_enrolment.gold"])
def test_the_gold_suites_allow_exactly_the_age_bands(suite):
    rule = next(e for e in suite_json(suite)["expectations"]
                if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "age_band")
    assert rule["kwargs"]["value_set"] == [label for _, label in AGE_BANDS] + ["unknown"]


def test_the_programmes_numbers_come_from_the_configuration():
    p = load_config().programme
    assert (p.max_age_years, p.village_fuzzy_cutoff_in_district, p.village_fuzzy_cutoff_in_regency,
            p.identity_snapshot_days) == (65, 75, 85, 7)


def test_the_village_name_cut_off_decides_what_a_typo_matches():
    typed = pd.Series(["Kembang Ayn"], dtype="string")  # Kembang Ayun, one letter short
    district = pd.Series(["Tanjung Sakti Pumi"], dtype="string")
    lenient = VillageResolver("16.04", cutoffs=(75, 85)).resolve(typed, district)
    strict = VillageResolver("16.04", cutoffs=(99, 99)).resolve(typed, district)
    assert lenient["village_code"].tolist() == ["16.04.01.2001"]
    assert strict["village_code"].isna().all()


def test_a_changed_cut_off_is_a_new_rules_version(tmp_path, monkeypatch):
    from rentan.standardise import rules_version

    default = rules_version()
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    changed = tmp_path / "regencies.yaml"
    changed.write_text(text.replace("fuzzy_cutoff_in_district: 75", "fuzzy_cutoff_in_district: 80"), encoding="utf-8")
    monkeypatch.setenv("RENTAN_CONFIG", str(changed))
    assert load_config().programme.village_fuzzy_cutoff_in_district == 80
    assert rules_version() != default, "files standardised under the old cut-off are redone"
