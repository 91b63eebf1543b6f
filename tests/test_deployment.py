"""The deployment files, checked without Docker (CI has none): every mount exists, every Airflow
service runs a real Airflow 3 command, credentials come from .env, the image is Airflow 3."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
AIRFLOW_COMMANDS = {("db", "migrate"), ("api-server",), ("scheduler",), ("dag-processor",), ("triggerer",),
                    ("celery", "worker")}
SERVICES = COMPOSE["services"]


def test_airflow_3_services_are_all_there():
    commands = {tuple(s["command"][1:]) for s in SERVICES.values() if s.get("command", [""])[0] == "airflow"}
    assert commands == AIRFLOW_COMMANDS
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert "celery" in SERVICES["redis"]["profiles"] and "celery" in SERVICES["celery-worker"]["profiles"]


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("command", [""])[0] == "airflow"])
def test_each_airflow_service_runs_a_real_airflow_command(name):
    """Airflow's own CLI parser must accept the command (with --help, so nothing starts)."""
    cmd = SERVICES[name]["command"]
    done = subprocess.run([sys.executable, "-m", "airflow", *cmd[1:], "--help"], capture_output=True, text=True)
    if cmd[1] == "celery":
        # the Celery provider is in the official image, not in the local lock
        assert "celery" in done.stdout + done.stderr
        return
    assert done.returncode == 0, done.stderr[-1500:]


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("volumes")])
def test_every_mounted_path_exists(name):
    for v in SERVICES[name]["volumes"]:
        host = v.rsplit(":", 1)[0]
        if not host.startswith((".", "/", "$")):
            continue  # a named volume
        host = re.sub(r"\$\{RENTAN_DATA_HOST:-(.*)\}", r"\1", host)
        if host == "./data":
            continue  # the data root, made by the first run
        assert (REPO / host).exists(), f"{name} mounts {host}, which is not in the repository"
    mounted = {v.rsplit(":", 1)[1] for v in SERVICES[name]["volumes"] if ":" in v}
    if SERVICES[name].get("command", [""])[0] == "airflow":
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/rentan/include", "/opt/rentan/expectations",
                "/opt/rentan/data"} <= mounted


def test_no_credentials_in_the_compose_file():
    text = (REPO / "docker-compose.yaml").read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|SECRET|KEY)\s*[:=]\s*['\"]?[A-Za-z0-9]", line) and "${" not in line:
            pytest.fail(f"a credential written in docker-compose.yaml: {line.strip()}")
    assert all(s.get("env_file") == ".env" for s in SERVICES.values() if s.get("command", [""])[0] == "airflow" or
               s.get("image", "").startswith(("postgres", "redis")))


def test_image_is_official_airflow_3_with_the_lock():
    docker = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\d+)\.(\d+)\.(\d+)-python3\.11$", docker, re.M)
    assert base and base.group(1) == "3"
    pinned = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.lock").read_text(), re.M).group(1)
    assert pinned == ".".join(base.groups()), "the image and the lock carry the same Airflow"
    assert "--require-hashes -r /opt/rentan/requirements.lock" in docker
