"""What people see of a night, on one night run by Airflow (dag.test()) on a generated landing
zone: the asset events' figures, the analysts' database in the DuckDB command line, the offline
quality report, and the coverage and review pages served by Airflow's own api-server, logged in
to and looked at in a headless Chromium. Every figure shown is held to the marts as DuckDB reads
them back from Parquet."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest

from rentan.core.settings import data_paths
from rentan.marts.names import MARTS
from tests.nightly import run_checked

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = "2025-06-30"
NIK_A = "1604014507850031"          # a woman born 5 July 1985, first registered in Lahat
NIK_B = "1604014507850032"          # the next serial: a typo, or the next woman born that day there
USERS = {"analyst": ("viewer", "analyst-local-pw"), "reviewer": ("user", "reviewer-local-pw")}


def _review_pair(root: Path) -> None:
    """Two proposals of one name and birth date whose NIKs are the next serial: identity may not
    link them alone (namesakes born the same day in one district get consecutive serials), a
    reviewer must."""
    from rentan.reference import villages
    from tests.builders import HEADER, write_xlsx

    v = villages(["16.04"], desa_only=True).sort_values("code").iloc[0]
    f = root / "landing/submissions/lahat/pasangan/usulan_pasangan.xlsx"
    write_xlsx(f, HEADER, [[1, NIK_A, "Siti Rahmawati", "05-07-1985", "P", v["name"], v["district_name"], "ADD"],
                           [2, NIK_B, "Siti Rahmawati", "05-07-1985", "P", v["name"], v["district_name"], "ADD"]])
    t = dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC).timestamp()
    os.utime(f, (t, t))


@pytest.fixture(scope="module")
def night(dagbag, tmp_path_factory):
    from rentan_dev.sample import generate

    root = tmp_path_factory.mktemp("pages") / "data"
    generate(root, seed=5, scale=0.05)
    _review_pair(root)
    env = {"RENTAN_DATA": str(root), "RENTAN_PERSON_KEY": "pages-test-secret"}
    run_checked(dagbag, env, {"snapshot_date": SNAPSHOT})
    return root


def _marts(root: Path, mart: str, sql: str = "select *") -> list[dict]:
    part = root / "warehouse" / "marts" / mart / f"snapshot_date={SNAPSHOT}"
    rel = duckdb.sql(f"{sql} from read_parquet('{part}/*.parquet', hive_partitioning = false)")
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


def test_asset_events_carry_the_nights_figures(night, dagbag):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        run_id = s.scalars(select(AssetEvent.source_run_id).order_by(AssetEvent.id.desc()).limit(1)).one()
        events = [(uri, e.extra) for e, uri in s.execute(
            select(AssetEvent, AssetModel.uri).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == run_id)).all()]
    by = {}
    for uri, extra in events:
        by.setdefault(uri, []).append(extra)
    marts = by["rentan://warehouse/marts"][0]
    rows = {m: len(_marts(night, m)) for m in marts["rows_by_mart"]}
    assert marts["snapshot"] == SNAPSHOT and marts["published"] and marts["rows_by_mart"] == rows
    assert marts["rows"] == sum(rows.values()) and marts["files"] == len(rows) == len(MARTS)
    bronze = duckdb.sql(f"select count(*) from read_parquet('{night}/warehouse/bronze/submissions/*/*.parquet')").fetchall()[0][0]
    loads = by["rentan://warehouse/bronze/submissions"]
    assert {e["area"] for e in loads} == {"lahat", "pali", "lampung-barat"}
    assert sum(e["rows"] for e in loads) == bronze and all(e["snapshot"] == SNAPSHOT for e in loads)
    assert by["rentan://warehouse/silver/submissions"] == loads
    manifests = [json.loads(p.read_text()) for p in sorted(night.glob(f"exports/bpjs/*/{SNAPSHOT}/manifest.json"))]
    exports = sorted(by["rentan://exports/bpjs"], key=lambda e: e["branches"])
    assert [e["branches"] for e in exports] == [[m["branch"]] for m in manifests]
    assert [e["rows"] for e in exports] == [{k: f["rows"] for k, f in m["files"].items()} for m in manifests]
    persons = by["rentan://warehouse/silver/enrolment_candidates"][0]
    assert persons["review_pairs"] >= 1 and persons["proposals"] == len(_marts(night, "fact_enrolment"))


def test_the_duckdb_command_line_opens_the_analysts_database(night, tmp_path):
    cli = Path(sys.executable).parent / "duckdb"
    assert cli.exists(), "make install puts the DuckDB command line beside python"
    db = night / "warehouse" / "rentan.duckdb"
    got = subprocess.run([str(cli), str(db), "-csv", "-c", "select regency, coverage_pct, active_participants "
                          "from coverage_regency order by regency"], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    want = sorted((r["regency"], r["coverage_pct"], r["active_participants"]) for r in _marts(night, "coverage_regency"))
    lines = got.stdout.strip().splitlines()
    assert lines[0] == "regency,coverage_pct,active_participants"
    assert [tuple(x.split(",")) for x in lines[1:]] == [(r, "NULL" if p is None else f"{p:g}", str(a)) for r, p, a in want]
    # every column of every view carries its description from the data dictionary
    got = subprocess.run([str(cli), str(db), "-csv", "-noheader", "-c",
                          "select count(*), count(*) filter (where comment is null or comment = '') "
                          "from duckdb_columns() where database_name = 'rentan' and not internal"],
                         capture_output=True, text=True)
    total, without = map(int, got.stdout.strip().split(","))
    assert total > 150 and without == 0, got.stdout
    got = subprocess.run([str(cli), str(db), "-csv", "-noheader", "-c",
                          "select comment from duckdb_columns() where table_name = 'coverage_regency' "
                          "and column_name = 'coverage_pct'"], capture_output=True, text=True)
    assert got.stdout.strip().startswith('"100 x active_participants / working_population')
    # the README's commands, verbatim, from a checkout whose data root is ./data
    (tmp_path / "data").symlink_to(night)
    readme = [line.strip() for line in (REPO / "README.md").read_text().splitlines()
              if line.strip().startswith("duckdb data/warehouse/rentan.duckdb")]
    assert readme
    for line in readme:
        done = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{cli.parent}:{os.environ['PATH']}"})
        assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, (line, done.stdout, done.stderr)


REMOTE_ASSET = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//"""
                          r"""|@import\s+(url\()?\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//""", re.I)


def test_the_quality_report_works_offline(night):
    pages = sorted(night.rglob("*.html"))
    report = night / "reports" / "quality" / f"quality_{SNAPSHOT}.html"
    assert report in pages
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        assert not REMOTE_ASSET.search(text), f"{page} loads something from the network"
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html
    quarantined = duckdb.sql(f"select count(*) from read_parquet('{night}/warehouse/quarantine/**/*.parquet')").fetchall()[0][0]
    assert quarantined > 0 and f"<b>{quarantined:,}</b>rows in quarantine" in html
    for (code, n) in duckdb.sql(f"select reason_code, count(*) from read_parquet('{night}/warehouse/quarantine/**/*.parquet', "
                                "union_by_name = true) group by 1").fetchall():
        assert re.search(rf"<td>{code}</td><td class=\"n\">{n:,}</td>", html), code
    assert not (night / "gx" / "data_docs").exists()


def test_the_overview_shows_the_marts_figures(night):
    from rentan import overview

    d = overview.coverage(data_paths(night))
    assert d["snapshot"] == SNAPSHOT
    regs = {r["regency"]: r for r in _marts(night, "coverage_regency")}
    missing = dict(duckdb.sql(
        f"select regency, count(*) filter (where not submitted) from read_parquet("
        f"'{night}/warehouse/marts/coverage_village/snapshot_date={SNAPSHOT}/*.parquet') group by 1").fetchall())
    gap = dict(duckdb.sql(f"select regency, sum(gap_idr) from read_parquet('{night}/warehouse/marts/budget_village/"
                          f"snapshot_date={SNAPSHOT}/*.parquet') where fiscal_year = 2025 group by 1").fetchall())
    for r in d["regencies"]:
        m = regs[r["regency"]]
        for k in ("working_population", "active_participants", "coverage_pct", "villages_submitted",
                  "villages_quota_met", "vulnerable_quota", "vulnerable_enrolled", "vulnerable_active"):
            assert r[k] == m[k], (r["regency"], k)
        assert r["villages_missing"] == missing[r["regency"]] == len(r["missing_villages"])
        assert r["gap_idr"] == gap.get(r["regency"])
    claims = duckdb.sql(f"select claim_type, sum(claims)::bigint as n, sum(amount_idr)::bigint as amount from read_parquet("
                        f"'{night}/warehouse/marts/claims_monthly/snapshot_date={SNAPSHOT}/*.parquet') group by 1")
    claims = [dict(zip(claims.columns, r)) for r in claims.fetchall()]
    assert claims
    for c in claims:
        shown = [x for x in d["claims"] if x["claim_type"] == c["claim_type"]]
        assert sum(x["claims"] for x in shown) == c["n"] and sum(x["amount_idr"] for x in shown) == c["amount"]
    assert {p["branch"] for p in d["packages"]} == {"lahat", "muara-enim", "lampung-tengah"}
    assert d["quality_report"] == f"quality_{SNAPSHOT}.html"
    q = duckdb.sql(f"select count(*) from read_parquet('{night}/warehouse/quarantine/**/*.parquet')").fetchall()[0][0]
    assert d["night"]["quarantine"]["rows"] == q


# --- the pages under Airflow's own api-server, in a browser ------------------------------------------------


def _request(base: str, path: str, token: str | None = None, method: str = "GET", body: bytes | None = None,
             headers: dict | None = None):
    h = {**(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, method=method, data=body, headers=h)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _login(base: str, user: str) -> str:
    status, _, body = _request(base, "/auth/token", method="POST", headers={"Content-Type": "application/json"},
                               body=json.dumps({"username": user, "password": USERS[user][1]}).encode())
    assert status == 201, body
    return json.loads(body)["access_token"]


@pytest.fixture(scope="module")
def api_server(night, tmp_path_factory):
    """Airflow's api-server on loopback, with a temporary home and two local users whose
    passwords are set from a file, as `make ui` does."""
    from tests.services import AIRFLOW, Services, free_port, until

    home = tmp_path_factory.mktemp("pages-airflow")
    (home / "passwords.json").write_text(json.dumps({u: p for u, (_, p) in USERS.items()}))
    port = free_port()
    env = {**os.environ, "AIRFLOW_HOME": str(home), "RENTAN_DATA": str(night),
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__API__HOST": "127.0.0.1",
           "AIRFLOW__API__PORT": str(port), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, (r, _) in USERS.items()),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False", "RENTAN_UI_TIMEZONE": "Asia/Jakarta"}
    migrated = subprocess.run([*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    services = Services(home, env)
    base = f"http://127.0.0.1:{port}"
    try:
        services.start("api-server")
        until(lambda: _request(base, "/rentan/static/rentan.css")[0] == 200, 180, services)
        yield base, services
    finally:
        services.stop()


def test_the_coverage_page_needs_a_login_and_shows_the_marts(night, api_server):
    base, _ = api_server
    assert _request(base, "/rentan/api/coverage")[0] == 401
    status, headers, _ = _request(base, "/rentan/coverage", headers={"Accept": "text/html"})
    assert status == 303 and "/auth/login" in headers["Location"]
    token = _login(base, "analyst")
    status, _, body = _request(base, "/rentan/api/coverage", token)
    assert status == 200
    data = json.loads(body)
    regs = {r["regency"]: r for r in _marts(night, "coverage_regency")}
    assert {r["regency"]: (r["coverage_pct"], r["active_participants"], r["vulnerable_enrolled"])
            for r in data["regencies"]} == {k: (m["coverage_pct"], m["active_participants"], m["vulnerable_enrolled"])
                                            for k, m in regs.items()}
    status, _, page = _request(base, "/rentan/coverage", token, headers={"Accept": "text/html"})
    assert status == 200 and b'data-field="coverage_pct"' in page
    status, _, body = _request(base, "/api/v2/plugins", token)
    plugin = next(p for p in json.loads(body)["plugins"] if p["name"] == "rentan")
    assert {v["url_route"] for v in plugin["external_views"]} == {"rentan-coverage", "rentan-review"}
    # a viewer reads figures; the review queue and the packages (personal data) need an editor
    assert _request(base, f"/rentan/quality/quality_{SNAPSHOT}.html", token)[0] == 200
    assert _request(base, "/rentan/review", token)[0] == 403
    pair = json.loads(_request(base, "/rentan/api/review", _login(base, "reviewer"))[2])["pairs"][0]["pair_id"]
    assert _request(base, f"/rentan/review/{pair}", token, "POST", b"verdict=same",
                    {"Content-Type": "application/x-www-form-urlencoded"})[0] == 403
    assert _request(base, f"/rentan/packages/lahat/{SNAPSHOT}/manifest.json", token)[0] == 403
    status, _, body = _request(base, f"/rentan/packages/lahat/{SNAPSHOT}/manifest.json", _login(base, "reviewer"))
    assert status == 200 and json.loads(body)["branch"] == "lahat"


def _screens(tmp_path: Path) -> Path:
    """Where screenshots go: the test's folder, and a copy where RENTAN_SCREENSHOTS says."""
    return Path(os.environ.get("RENTAN_SCREENSHOTS") or tmp_path)


def test_the_pages_in_a_browser(night, api_server, tmp_path):
    from rentan.core.ledger import Ledger, ReviewDecision
    from tests.browser import Chromium

    base, _ = api_server
    token = _login(base, "reviewer")
    shots = _screens(tmp_path)
    regs = {r["regency"]: r for r in _marts(night, "coverage_regency")}
    browser = Chromium(width=1440, height=900)
    try:
        browser.set_cookie(base + "/", "_token", token)
        browser.open(base + "/rentan/coverage", "document.body && document.body.dataset.charts")
        assert browser.evaluate("document.body.dataset.charts") == "ready"
        assert browser.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 6
        # what the page shows is what the marts say, cell by cell and bar by bar
        cells = browser.evaluate("""Array.from(document.querySelectorAll('#regencies tr[data-regency] td[data-field]'))
            .map(td => [td.closest('tr').dataset.regency, td.dataset.field, td.dataset.value])""")
        assert len(cells) >= 3 * 10
        for regency, field, value in cells:
            if field in regs[regency]:
                want = regs[regency][field]
                assert value == ("" if want is None else str(want)), (regency, field)
        bars = browser.evaluate("(() => { const d = document.getElementById('chart-coverage').data[0];"
                                " return [d.x, d.y]; })()")
        assert dict(zip(*bars)) == {k: m["coverage_pct"] for k, m in regs.items()}
        shown = browser.evaluate("document.querySelector('[data-night=quarantine]').textContent")
        q = duckdb.sql(f"select count(*) from read_parquet('{night}/warehouse/quarantine/**/*.parquet')").fetchall()[0][0]
        assert shown.replace(",", "") == str(q)
        page = browser.screenshot(shots / "coverage.png")
        # the same page inside Airflow's UI, under its navigation, in WIB
        assert browser.evaluate("localStorage.getItem('timezone')") == '"Asia/Jakarta"'
        browser.open(base + "/plugin/rentan-coverage", "document.querySelector('iframe') !== null")
        browser.wait("(() => { const f = document.querySelector('iframe');"
                     " return f.contentDocument && f.contentDocument.body.dataset.charts === 'ready'; })()")
        browser.wait("document.body.innerText.includes('+07:00')")
        inside = browser.screenshot(shots / "coverage_in_airflow.png", full_page=False)
        # the review queue: the pair is shown, and deciding it records the verdict
        browser.open(base + "/rentan/review", "document.querySelector('[data-pair]') !== null")
        pair = browser.evaluate("document.querySelector('[data-pair]').dataset.pair")
        assert browser.evaluate("document.body.innerText.includes('Siti Rahmawati')")
        queue = browser.screenshot(shots / "review.png")
        browser.evaluate(f"""(() => {{ const s = document.querySelector('[data-pair="{pair}"]');
            s.querySelector('input[name=note]').value = 'same KTP, serial mistyped';
            s.querySelector('button.same').click(); }})()""")
        browser.wait("location.search.includes('done=')")
        browser.wait(f"document.querySelector('[data-pair=\"{pair}\"] .verdict') !== null")
        decided = browser.screenshot(shots / "review_decided.png")
    finally:
        browser.close()
    with Ledger(data_paths(night).ledger_url) as ledger, ledger.session() as s:
        rows = [(d.pair_id, d.same_person, d.decided_by, d.note) for d in s.query(ReviewDecision)]
    assert rows == [(pair, True, "reviewer", "same KTP, serial mistyped")]
    for png in (page, inside, queue, decided):
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(head[16:20], "big") >= 1000, png
    if shots != tmp_path:
        for png in (page, inside, queue, decided):
            shutil.copy(png, tmp_path / png.name)
