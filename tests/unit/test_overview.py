"""The coverage page's figures and its rendering, on a small published marts tree written here:
columns a mart may gain (a regency's completeness marks) show when present, and the page is
whole without them."""

from __future__ import annotations

import duckdb
import pytest

from rentan import overview
from rentan.core.settings import data_paths

SNAPSHOT = "2025-06-30"


def _mart(root, mart: str, sql: str) -> None:
    part = root / "warehouse" / "marts" / mart / f"snapshot_date={SNAPSHOT}"
    part.mkdir(parents=True)
    duckdb.sql(f"copy ({sql}) to '{part / 'part-0.parquet'}' (format parquet)")


@pytest.fixture(params=[False, True], ids=["without marks", "with completeness marks"])
def marts(data_root, request):
    marks = (", true as complete, null::varchar as incomplete_reason" if request.param else "")
    marks_pali = (", false as complete, 'membership of muara-enim did not load' as incomplete_reason"
                  if request.param else "")
    _mart(data_root, "coverage_regency", f"""
        select '16.04' as regency_code, 'lahat' as regency, 'Kabupaten Lahat' as regency_name, 'lahat' as branch,
               239799::bigint as working_population, 2024 as population_year, 51398::bigint as active_participants,
               21.43::double as coverage_pct, 360::bigint as villages, 300::bigint as villages_submitted,
               12::bigint as villages_quota_met, 36000::bigint as vulnerable_quota, 900::bigint as vulnerable_enrolled,
               850::bigint as vulnerable_active, null::date as submission_deadline {marks}
        union all
        select '16.12', 'pali', 'Kabupaten PALI', 'muara-enim', null, null, 1620, null, 65, 12, 0, 6500, 0, 0,
               DATE '2025-05-30' {marks_pali}""")
    _mart(data_root, "coverage_village", """
        select 'lahat' as regency, 'Desa A' as village_name, '16.04.01.2001' as village_code, false as submitted
        union all select 'pali', 'Desa B', '16.12.01.2001', false
        union all select 'pali', 'Desa C', '16.12.01.2002', true""")
    _mart(data_root, "budget_village", """
        select 2025 as fiscal_year, 'lahat' as regency, 100::bigint as contribution_required_idr,
               80::bigint as contribution_budget_idr, 10::bigint as realised_idr, 20::bigint as gap_idr""")
    _mart(data_root, "claims_monthly", """
        select DATE '2025-05-01' as month, 'lahat' as branch, '16.04' as regency_code, 'JKM' as claim_type,
               2::bigint as claims, 84000000::bigint as amount_idr""")
    return data_root, request.param


def test_the_figures_and_the_marks(marts):
    root, marked = marts
    d = overview.coverage(data_paths(root))
    assert d["snapshot"] == SNAPSHOT and d["has_completeness"] is marked
    lahat, pali = d["regencies"]
    assert (lahat["coverage_pct"], lahat["villages_missing"], lahat["missing_villages"]) == (21.43, 1, ["Desa A"])
    assert (lahat["gap_idr"], lahat["villages_short"]) == (20, 1)
    assert (pali["coverage_pct"], pali["villages_missing"], pali["gap_idr"]) == (None, 1, None)
    assert d["claims"] == [{"month": "2025-05-01", "regency": "lahat", "claim_type": "JKM", "claims": 2,
                            "amount_idr": 84000000}]
    if marked:
        assert (lahat["complete"], pali["complete"]) == (True, False)
        assert pali["incomplete_reason"] == "membership of muara-enim did not load"
    else:
        assert "complete" not in lahat


def test_the_page_shows_the_marks_only_when_the_marts_have_them(marts):
    from rentan.web import _templates

    root, marked = marts
    d = overview.coverage(data_paths(root))
    html = _templates().get_template("coverage.html").render(d=d, user="analyst", queue=0, timezone="Asia/Jakarta")
    assert 'data-field="coverage_pct" data-value="21.43"' in html and "21.43 %" in html
    assert ("<th" in html) and (">Complete</th>" in html) is marked
    assert ("membership of muara-enim did not load" in html) is marked
    assert "Rp20" in html and "Desa A" in html


def test_nothing_published_is_said_plainly(data_root):
    with pytest.raises(overview.NotPublished, match="no marts published"):
        overview.coverage(data_paths(data_root))
