"""``rentan doctor``: is this machine set up to run the night, and what to fix if not.

Each check prints ``ok``, ``warn`` or ``FAIL`` with what it saw, and for anything not ok the one
thing to do. The exit code is 1 when a check failed (warnings do not fail).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rentan.core.settings import REPO_ROOT


@dataclass
class Check:
    name: str
    status: str  # ok, warn, FAIL
    saw: str
    fix: str = ""


def _data_root(root_arg) -> tuple[list[Check], object | None]:
    from rentan.core.settings import data_paths
    from rentan.core.storage import remote_url

    url = remote_url(root_arg)
    if url is not None:
        try:
            from rentan.core.storage import remote_root

            remote_root(url).exists()
        except Exception as e:  # noqa: BLE001 - any failure to reach the store is the finding
            return [Check("data root", "FAIL", f"{url}: cannot be reached ({type(e).__name__}: {e})",
                          "check RENTAN_DATA_CONN_ID's connection and the store's fsspec package")], None
        ok = [Check("data root", "ok", f"{url} (object storage)")]
        if not os.environ.get("RENTAN_LEDGER_URL"):
            ok.append(Check("ledger", "FAIL", "RENTAN_LEDGER_URL is not set",
                            "on object storage the ledger must be a shared database: set RENTAN_LEDGER_URL"))
        return ok, None
    paths = data_paths(root_arg)
    source = "--data" if root_arg else ("RENTAN_DATA" if os.environ.get("RENTAN_DATA") else "default ./data")
    if not paths.root.is_dir():
        return [Check("data root", "FAIL", f"{paths.root} (from {source}) does not exist",
                      "set RENTAN_DATA to the data root, or make a sample one: rentan sample")], None
    if not os.access(paths.root, os.W_OK):
        return [Check("data root", "FAIL", f"{paths.root} is not writable by this user",
                      f"give this user write access to {paths.root}")], paths
    landed = sum(1 for _ in (paths.landing.rglob("*.*") if paths.landing.exists() else ()))
    checks = [Check("data root", "ok", f"{paths.root} (from {source}), {landed:,} files under landing/")]
    if landed == 0:
        checks[0] = Check("data root", "warn", f"{paths.root} (from {source}) has no landed files",
                          "files go under landing/<source>/<area>/ (see the README), or: rentan sample")
    return checks, paths


def _ledger(paths) -> Check:
    from rentan.core.ledger import Ledger

    url = paths.ledger_url
    shown = url.split("@")[-1] if "@" in url else url  # no password in the output
    try:
        with Ledger(url) as ledger:
            n = len(ledger.entries())
    except Exception as e:  # noqa: BLE001 - the finding is that it cannot be opened
        return Check("ledger", "FAIL", f"{shown}: {type(e).__name__}: {str(e).splitlines()[0]}",
                     "check RENTAN_LEDGER_URL (a SQLAlchemy URL) and that its database is reachable")
    return Check("ledger", "ok", f"{shown}: {n:,} files recorded")


def _configuration() -> list[Check]:
    from rentan.config import load_config
    from rentan.quality.validation import EXPECTATIONS_DIR, suite_json

    where = os.environ.get("RENTAN_CONFIG") or "include/rentan/config/regencies.yaml"
    try:
        cfg = load_config()
    except Exception as e:  # noqa: BLE001
        return [Check("configuration", "FAIL", f"{where}: {type(e).__name__}: {e}",
                      "fix the file (see the README, 'Add a regency') or unset RENTAN_CONFIG")]
    out = [Check("configuration", "ok", f"{where}: {len(cfg.regencies)} regencies "
                 f"({', '.join(cfg.regencies)}), {len(cfg.branches)} branches")]
    missing_pop = [r.slug for r in cfg.regencies.values() if not r.working_population]
    if missing_pop:
        out.append(Check("working population", "warn", f"none configured for {', '.join(missing_pop)}: "
                         "their coverage stays empty", "add the BPS figure under working_population"))
    bad = []
    for f in sorted(EXPECTATIONS_DIR.glob("*.json")):
        try:
            suite_json(f.stem)
        except Exception as e:  # noqa: BLE001
            bad.append(f"{f.name}: {e}")
    out.append(Check("expectations", "FAIL" if bad else "ok",
                     "; ".join(bad) if bad else f"{len(list(EXPECTATIONS_DIR.glob('*.json')))} suites in {EXPECTATIONS_DIR}",
                     "fix the suite (each rule needs meta.rule, meta.level, meta.reason_code)" if bad else ""))
    return out


def _secret() -> Check:
    value = os.environ.get("RENTAN_PERSON_KEY")
    if not value:
        return Check("secret", "warn", "RENTAN_PERSON_KEY is not set here (an Airflow Variable rentan_person_key "
                     "may hold it for the tasks); without either, person keys use the development key",
                     "set RENTAN_PERSON_KEY to a long random secret and keep it: it makes person keys stable")
    if value.startswith("change-me") or len(value) < 16:
        return Check("secret", "FAIL", "RENTAN_PERSON_KEY is a placeholder or shorter than 16 characters",
                     "set RENTAN_PERSON_KEY to a long random secret, e.g. python -c 'import secrets; "
                     "print(secrets.token_urlsafe(32))'")
    return Check("secret", "ok", f"RENTAN_PERSON_KEY is set ({len(value)} characters)")


def _airflow() -> list[Check]:
    out = []
    home = os.environ.get("AIRFLOW_HOME")
    dags = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or Path(home or "~/airflow").expanduser() / "dags")
    plugins = Path(os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER") or Path(home or "~/airflow").expanduser() / "plugins")
    out.append(Check("airflow home", "ok" if home else "warn", home or "AIRFLOW_HOME not set (~/airflow)",
                     "" if home else "the Makefile sets it to <data root>/airflow; export it to use that home"))
    dag_ok = (dags / "rentan_nightly.py").exists()
    out.append(Check("dags folder", "ok" if dag_ok else "FAIL", f"{dags}",
                     "" if dag_ok else f"set AIRFLOW__CORE__DAGS_FOLDER={REPO_ROOT / 'dags'}"))
    plug_ok = (plugins / "rentan_pages.py").exists()
    out.append(Check("plugins folder", "ok" if plug_ok else "warn", f"{plugins}",
                     "" if plug_ok else f"set AIRFLOW__CORE__PLUGINS_FOLDER={REPO_ROOT / 'plugins'} for the rentan pages"))
    try:
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "check-migrations", "-t", "5"],
                              capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] if done else ["timed out"]
        out.append(Check("airflow database", "FAIL", tail[0][:200] if tail else "not migrated",
                         "run: make airflow-db (or airflow db migrate)"))
    else:
        out.append(Check("airflow database", "ok", "migrated"))
    if dag_ok:
        done = subprocess.run([sys.executable, "-c", (
            "import sys; from airflow.dag_processing.dagbag import DagBag; "
            f"b = DagBag(dag_folder={str(dags)!r}); "
            "print(len(b.import_errors)); [print(k, v.splitlines()[-1]) for k, v in b.import_errors.items()]; "
            "sys.exit(0 if 'rentan_nightly' in b.dags else 1)")], capture_output=True, text=True, timeout=300, check=False)
        errors = done.stdout.strip().splitlines()[1:]
        out.append(Check("nightly DAG", "ok" if done.returncode == 0 else "FAIL",
                         "rentan_nightly parses" if done.returncode == 0 else "; ".join(errors)[:300] or done.stderr[-300:],
                         "" if done.returncode == 0 else "fix the import error above (airflow dags list-import-errors)"))
    return out


def _analysts(paths) -> list[Check]:
    out = []
    beside = Path(sys.executable).parent / "duckdb"
    found = shutil.which("duckdb")
    cli = beside if beside.exists() else (Path(found) if found else None)
    db = paths.warehouse / "rentan.duckdb"
    if cli is None:
        out.append(Check("duckdb cli", "warn", "no DuckDB command line found", "make install puts one in .venv/bin"))
    elif db.exists():
        done = subprocess.run([str(cli), str(db), "-c", "select count(*) from snapshots"], capture_output=True,
                              text=True, timeout=60, check=False)
        out.append(Check("analysts' database", "ok" if done.returncode == 0 else "FAIL", f"{db} opens in {cli}"
                         if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[0],
                         "" if done.returncode == 0 else "rewrite it for this machine: rentan views"))
    else:
        out.append(Check("analysts' database", "warn", f"{db} not written yet", "it is written when the marts publish"))
    return out


def run(root_arg=None, out=sys.stdout) -> int:
    checks, paths = _data_root(root_arg)
    if paths is not None:
        checks.append(_ledger(paths))
    checks += _configuration()
    checks.append(_secret())
    checks += _airflow()
    if paths is not None:
        checks += _analysts(paths)
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.status:<4}  {c.name:<{width}}  {c.saw}", file=out)
        if c.fix and c.status != "ok":
            print(f"{'':<4}  {'':<{width}}  fix: {c.fix}", file=out)
    failed = [c for c in checks if c.status == "FAIL"]
    print(f"\n{len(failed)} problem(s) to fix" if failed else "\nall set", file=out)
    return 1 if failed else 0
