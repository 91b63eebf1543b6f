"""The nightly DAG under Airflow's own services (api-server, scheduler, dag-processor) on loopback,
triggered through the REST API, once on SQLite and once on PostgreSQL as the metadata database.

Nothing here is faked: the services are started as an operator would, with a temporary
AIRFLOW_HOME, and stopped at the end. PostgreSQL is started from its own binaries into a
temporary directory (``.ci/run`` installs them when missing)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.packages import sheet_frame
from tests.services import AIRFLOW, Services, free_port, landing, until

pytestmark = pytest.mark.scheduler

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 600  # seconds for the whole run; a healthy one takes about a minute


def _postgres_bin() -> Path | None:
    """Debian keeps the server programs under /usr/lib/postgresql/<version>/bin."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for d in candidates:
        if all((d / p).exists() for p in ("initdb", "pg_ctl", "createdb")):
            return d
    return None


@pytest.fixture
def postgres_url():
    bindir = _postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found: .ci/run installs them (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed here")
    # PostgreSQL refuses to run as root: as root, run it as the postgres user, in a directory it can reach
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="rentan-pg-"))
    data, port = base / "pg", free_port()
    data.mkdir()
    if as_user:
        os.chmod(base, 0o755)
        shutil.chown(data, "postgres")
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
                    f"-p {port} -k {data} -h 127.0.0.1", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow",
                        "airflow"], check=True, capture_output=True)
        yield f"postgresql+psycopg://airflow@127.0.0.1:{port}/airflow"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _api(base: str, method: str, path: str, body: dict | None = None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def _compose_healthchecks_pass(env: dict, ports: dict[int, int], services: Services) -> None:
    """docker-compose.yaml's healthchecks, run against these services: its URLs (on our ports) answer
    200, and its `airflow jobs check` commands find the live DAG processor and triggerer."""
    import yaml
    from airflow.utils.net import get_hostname

    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"]
    for name in ("api-server", "scheduler"):
        test = compose[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "curl", "--fail"], name
        url = test[3]
        for inside, here in ports.items():
            url = url.replace(f"localhost:{inside}", f"127.0.0.1:{here}")
        until(lambda u=url: urllib.request.urlopen(u, timeout=10).status == 200, 60, services)
    for name in ("dag-processor", "triggerer"):
        test = compose[name]["healthcheck"]["test"]
        shell = test[1].replace("$$", "$").replace("airflow ", f"{sys.executable} -m airflow ", 1)
        check = {**env, "HOSTNAME": get_hostname()}
        until(lambda s=shell, e=check: subprocess.run(["bash", "-c", s], env=e, capture_output=True).returncode == 0,
               90, services)


@contextlib.contextmanager
def _airflow(tmp_path: Path, db_url: str | None):
    """Airflow's api-server, scheduler and dag-processor on loopback over a landing zone from
    ``_landing``; yields (REST API base URL, data root, services, people to enrol, the environment,
    the ports as docker-compose.yaml names them -> ours)."""
    home, root = tmp_path / "airflow", tmp_path / "data"
    home.mkdir()
    to_enrol = landing(root)
    port, health_port = free_port(), free_port()
    env = {**os.environ, "AIRFLOW_HOME": str(home), "RENTAN_DATA": str(root), "RENTAN_RETRY_DELAY_SECONDS": "1",
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
           # loopback only, a throwaway home: every request is an admin's
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5", "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           # as in docker-compose.yaml, so its healthchecks can be run against these services
           "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port)}
    if db_url:
        # psycopg 3 serves Airflow's async sessions too: no second driver (asyncpg) needed
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db_url
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = db_url
    migrated = subprocess.run([*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    services = Services(home, env)
    base = f"http://127.0.0.1:{port}/api/v2"
    try:
        for command in (["api-server"], ["scheduler"], ["dag-processor"], ["triggerer"]):
            services.start(*command)
        until(lambda: _api(base, "GET", "/dags/rentan_nightly"), 180, services)
        yield base, root, services, to_enrol, env, {8080: port, 8974: health_port}
    finally:
        services.stop()


def _trigger_and_wait(base: str, services: Services, while_running=lambda: None) -> tuple[str, list[dict]]:
    # the run to check is triggered first: unpausing also schedules the latest interval
    run_id = _api(base, "POST", "/dags/rentan_nightly/dagRuns",
                  {"logical_date": None, "conf": {"snapshot_date": "2025-06-30"}})["dag_run_id"]
    _api(base, "PATCH", "/dags/rentan_nightly", {"is_paused": False})

    def finished():
        while_running()
        s = _api(base, "GET", f"/dags/rentan_nightly/dagRuns/{run_id}")["state"]
        return s in ("success", "failed") and s

    state = until(finished, DEADLINE, services, pause=0.3)
    tis = _api(base, "GET", f"/dags/rentan_nightly/dagRuns/{run_id}/taskInstances")["task_instances"]
    return state, tis


def _run_nightly(tmp_path: Path, db_url: str | None) -> None:
    with _airflow(tmp_path, db_url) as (base, root, services, to_enrol, env, ports):
        state, tis = _trigger_and_wait(base, services)
        assert state == "success", (sorted((t["task_id"], t["map_index"], t["state"]) for t in tis), services.logs())
        assert {t["task_id"] for t in tis} >= {"load_submissions", "identity", "marts", "export"}
        _compose_healthchecks_pass(env, ports, services)
    sent = sheet_frame(root / "exports/bpjs/lahat/2025-06-30/daftar_pendaftaran_lahat_2025-06-30.xlsx")
    assert set(sent["NIK"]) == to_enrol
    assert (root / "warehouse" / "rentan.duckdb").exists()


def test_nightly_under_the_real_scheduler_on_sqlite(tmp_path):
    _run_nightly(tmp_path, None)


def test_nightly_under_the_real_scheduler_on_postgresql(tmp_path, postgres_url):
    _run_nightly(tmp_path, postgres_url)


def test_a_membership_load_killed_by_a_signal_gives_no_package(tmp_path):
    """Each try of Lahat's membership load is killed with SIGKILL mid-way (what the out-of-memory
    killer or a hard timeout does: no Python exception, no cleanup). The load stays unfinished in
    the ledger, so Lahat's branch gets no package and an alert saying so; the others get theirs."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    killed: set[int] = set()
    host = socket.gethostname()

    with _airflow(tmp_path, None) as (base, root, services, *_):
        ledger = create_engine(f"sqlite:///{root / 'ledger.sqlite'}")

        def kill_membership_loads():
            if not (root / "ledger.sqlite").exists():
                return
            try:
                with ledger.connect() as c:
                    rows = c.execute(text("select process from load_run where source = 'membership' "
                                          "and area = 'lahat' and state = 'started'")).fetchall()
            except OperationalError:
                return  # the plan task is making the ledger's tables at this moment: no load has started
            for (process,) in rows:
                where, pid = process.rsplit(":", 1)
                if where == host and int(pid) not in killed:
                    killed.add(int(pid))
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

        state, tis = _trigger_and_wait(base, services, kill_membership_loads)
        ledger.dispose()
    # a task killed before it ended never reported its rendered name: its index says (lahat is the first branch)
    states = {(t["task_id"], t["rendered_map_index"] or str(t["map_index"])): t["state"] for t in tis}
    assert killed, "a membership load was caught running"
    assert state == "failed", states
    assert states[("load_membership", "0")] == "failed", states
    assert states[("export", "lahat")] == "failed"
    assert states[("export", "muara-enim")] == states[("export", "lampung-tengah")] == "success"
    assert not (root / "exports/bpjs/lahat").exists()
    alerts = [json.loads(line) for line in (root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    said = [a["error"] for a in alerts if a["task_id"] == "export" and a["area"] == "lahat"]
    assert said and "the membership load of lahat started but never finished" in said[0]
