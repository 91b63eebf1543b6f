"""Test set-up: a private Airflow home (SQLite) per test session, made before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# property tests check what a function returns, never how fast: a deadline on a shared 2-core
# machine only measures the neighbours
settings.register_profile("rentan", deadline=None)
settings.load_profile("rentan")

REPO = Path(__file__).resolve().parents[1]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="rentan-airflow-test-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # dag.test() waits out retry delays: a failing task must fail the test, not stall it
        "RENTAN_RETRY_DELAY_SECONDS": "1",
    }
)
# a test must never write into the developer's own data root
os.environ["RENTAN_DATA"] = str(_AIRFLOW_HOME / "no-data-root-set")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An Airflow metadata database, migrated once for the session."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True, text=True, env=os.environ.copy(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return _AIRFLOW_HOME


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A fresh, empty RENTAN_DATA for one test."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("RENTAN_DATA", str(root))
    return root


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


@pytest.fixture
def extracts_not_required(tmp_path, monkeypatch) -> Path:
    """The shipped configuration with no branch extract required for a complete night: for tests
    of figures on hand-made nights that hold only some branches' files (completeness has its own)."""
    import yaml

    from rentan.config import DEFAULT_CONFIG

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["programme"]["branch_extracts"] = {}
    path = tmp_path / "regencies-no-extracts.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("RENTAN_CONFIG", str(path))
    return path
