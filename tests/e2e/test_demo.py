"""`make demo`, run exactly as the README gives it, on the default sample: what it prints is held
to the sample's ground truth, and to the figures the README shows.

Only the data root is set (to a temporary folder); the Airflow home, the night and everything else
are the Makefile's own. The night's figures come from the truth files the generator writes beside
the landing zone (``truth/``), computed here from the programme's rules, not from the pipeline.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from rentan.config import load_config
from rentan.identity.quality import EXPECTED_STATUS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NIGHT = "2025-06-30"
# identity's own measured error on the sample (tests/test_e2e_quality.py): a few proposals of
# the ~34,000 may take another status than the generator meant; every other figure is exact
IDENTITY_SLACK = 0.002


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("demo") / "data"
    # as a user's shell has it: none of the test session's Airflow or rentan settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RENTAN_", "PYTEST"))}
    env["RENTAN_DATA"] = str(root)
    done = subprocess.run(["make", "demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout, root


def _table(out: str, title: str) -> dict[str, list[str]]:
    """The rows of a printed table, by first column, from the line starting with ``title``."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = {}
    for line in lines[at + 2:]:
        if not line.startswith("  ") or line.startswith("  ("):
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def _n(cell: str) -> int:
    return int(cell.replace(",", ""))


def _truth(root: Path) -> dict:
    t = root / "truth"
    cfg = load_config()
    members = pd.read_parquet(t / "membership.parquet")
    rows = pd.read_parquet(t / "submissions.parquet")
    villages = pd.read_csv(t / "villages.csv", dtype=str)
    claims = pd.read_parquet(t / "claims.parquet")
    budget = pd.read_parquet(t / "budget.parquet")
    code_of = {slug: r.code for slug, r in cfg.regencies.items()}
    active = members[members["status"] == "AKTIF"]
    # BPU members a village pays (their payer village code), paid up to the month before the night's
    village_paid = active[(active["segment"] == "BPU") & (active["payer_village_code"] != "")]
    # the rows that reached identity: those of loaded files the standardise stage let through
    valid = pd.read_parquet(root / "warehouse" / "silver" / "submissions", columns=["source_file", "row_number"])
    valid = rows.merge(valid, left_on=["file", "row_number"], right_on=["source_file", "row_number"])
    valid = valid.assign(expected=valid["defect"].map(EXPECTED_STATUS).fillna("eligible"))
    eligible = valid[valid["expected"] == "eligible"].groupby("village_code").size()
    quota = villages.set_index("village_code")["quota"].astype(int)
    to_enrol = eligible.clip(upper=quota.reindex(eligible.index)).groupby(lambda c: c[:5]).sum()
    out = {}
    for slug, reg in cfg.regencies.items():
        code = code_of[slug]
        branch = reg.branch
        n_active = active[active["branch"] == branch]["person_id"].nunique()
        _, population = reg.population_for(2025)
        paid = village_paid[village_paid["payer_village_code"].str[:5] == code]
        year = budget[(budget["regency"] == slug) & (budget["year"] == 2025) & (budget["file"] != "")]
        enrolled_by_village = paid.groupby("payer_village_code")["person_id"].nunique()
        required = int(enrolled_by_village.reindex(year["village_code"]).fillna(0).sum()) * 16_800 * 12
        mine = valid[valid["regency"] == slug]
        out[slug] = {
            "active": n_active,
            "coverage": f"{100 * n_active / population:.2f}%" if population else "n/a",
            "enrolled": paid["person_id"].nunique(),
            "paid_up": paid[paid["last_paid"] >= "2025-05"]["person_id"].nunique(),
            "covered": int(mine["expected"].eq("already_covered").sum()),
            "renewal": int(mine["expected"].eq("already_enrolled").sum()),
            "65+": int(mine["expected"].eq("ineligible").sum()),
            "to_enrol": int(to_enrol.get(code, 0)),
            "budget": (len(year), int(year["anggaran_iuran"].sum()), required, int(year["realisasi"].sum())),
        }
        c = claims[claims["branch"] == branch]
        out[f"claims:{branch}"] = (len(c), int(c["amount"].sum()))
    return out


def _near(got: int, want: int) -> bool:
    return abs(got - want) <= max(2, IDENTITY_SLACK * want)


def test_make_demo_prints_the_nights_true_figures(demo):
    out, root = demo
    truth = _truth(root)
    assert f"The night of {NIGHT}" in out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"The night of {NIGHT}"))
    section = lines[at + 1:lines.index("", at)]
    nights = {line.split()[1]: line for line in section if line.startswith("  branch ")}
    assert set(nights) == set(load_config().branches) and all("complete" in v and "INCOMPLETE" not in v
                                                               for v in nights.values()), nights
    coverage = _table(out, "Coverage per regency")
    proposals = _table(out, "Proposals per regency")
    budget = _table(out, "Village budgets")
    claims = _table(out, "Claims paid")
    for slug in load_config().regencies:
        want, cov, prop = truth[slug], coverage[slug], proposals[slug]
        # workers, active, coverage, villages, submitted, quota, enrolled, paid up
        assert (_n(cov[1]), cov[2], _n(cov[6]), _n(cov[7])) == (
            want["active"], want["coverage"], want["enrolled"], want["paid_up"]), slug
        # proposed, valid, duplicate, covered, renewal, review, 65+, to enrol, over quota
        for col, key in ((3, "covered"), (4, "renewal"), (6, "65+"), (7, "to_enrol")):
            assert _near(_n(prop[col]), want[key]), (slug, key, prop[col], want[key])
        villages, budgeted, required, realised = want["budget"]
        assert [_n(c) for c in budget[slug][:4]] == [villages, budgeted, required, realised], slug
    for branch in load_config().branches:
        assert tuple(_n(c) for c in claims[branch][:2]) == truth[f"claims:{branch}"], branch
        # the package's enrolment list holds what the proposals table says is to enrol
        to_enrol = sum(_n(proposals[r][7]) for r in load_config().branches[branch].regencies)
        assert f"daftar_pendaftaran_{branch}_{NIGHT}.xlsx ({to_enrol:,} rows)" in out, branch


def test_the_readme_shows_what_make_demo_prints(demo):
    """The README's block of the demo's figures is the demo's own output, line for line."""
    out, _ = demo
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- demo figures -->\n```\n(.*?)```", readme, re.S)
    assert block, "the README shows the figures make demo prints"
    shown = [line for line in block.group(1).splitlines() if line.strip()]
    printed = out.splitlines()
    for line in shown:
        assert line in printed, f"the README says {line!r}, make demo does not print it"
