"""The deployment files, checked without Docker (CI has none), against the layout of Airflow 3's own
compose file: one x-airflow-common block; an init service the others wait for until it completed;
a healthcheck on each long-running service; one set of secrets from .env; AIRFLOW_UID owning what
the services write; logs and config volumes; an image with the runtime lock only. Every command a
service or a healthcheck runs goes through Airflow's own CLI parser."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (REPO / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)  # PyYAML resolves the << merge keys as compose does
SERVICES = COMPOSE["services"]
COMMON = COMPOSE["x-airflow-common"]
ENV_EXAMPLE = (REPO / ".env.example").read_text()
INIT = "airflow-init"
LONG_RUNNING = ["api-server", "scheduler", "dag-processor", "triggerer", "celery-worker"]
AIRFLOW_SERVICES = [INIT, *LONG_RUNNING]
SECRETS = ["AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"]
UID_USER = "${AIRFLOW_UID:-50000}:0"


def _init_script() -> str:
    s = SERVICES[INIT]
    assert s["entrypoint"] == "/bin/bash" and s["command"][0] == "-c"
    return s["command"][1]


def _init_airflow_commands() -> list[list[str]]:
    """The Airflow commands the init script runs (through the image's entrypoint)."""
    return [shlex.split(line.split(">")[0])[2:] for line in _init_script().splitlines()
            if line.strip().startswith("/entrypoint airflow ")]


def _service_commands() -> dict[str, list[str]]:
    out = {n: s["command"][1:] for n, s in SERVICES.items() if isinstance(s.get("command"), list)
           and s["command"][0] == "airflow"}
    for i, cmd in enumerate(_init_airflow_commands()):
        out[f"{INIT}[{i}]"] = cmd
    return out


def _env_example() -> dict[str, tuple[str, bool]]:
    """.env.example's variables: name -> (value, set (not commented out))."""
    out = {}
    for line in ENV_EXAMPLE.splitlines():
        m = re.match(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            out[m.group(2)] = (m.group(3), not m.group(1))
    return out


def test_airflow_3_services_are_all_there():
    commands = {tuple(c) for c in _service_commands().values()}
    assert commands == {("api-server",), ("scheduler",), ("dag-processor",), ("triggerer",), ("celery", "worker"),
                        ("version",), ("config", "list"), ("db", "migrate")}
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert "celery" in SERVICES["redis"]["profiles"] and "celery" in SERVICES["celery-worker"]["profiles"]


@pytest.mark.parametrize("name", sorted(_service_commands()))
def test_each_airflow_service_runs_a_real_airflow_command(name):
    """Airflow's own CLI parser must accept the command (with --help, so nothing starts)."""
    cmd = _service_commands()[name]
    done = subprocess.run([sys.executable, "-m", "airflow", *cmd, "--help"], capture_output=True, text=True)
    if cmd[0] == "celery":
        # the Celery provider is in the official image, not in the local lock
        assert "celery" in done.stdout + done.stderr
        return
    assert done.returncode == 0, done.stderr[-1500:]


def test_airflow_services_share_one_common_block():
    assert re.search(r"^x-airflow-common:\n  &airflow-common$", COMPOSE_TEXT, re.M)
    assert "&airflow-common-env" in COMPOSE_TEXT and "&airflow-common-depends-on" in COMPOSE_TEXT
    for name in AIRFLOW_SERVICES:
        s = SERVICES[name]
        assert f"  {name}:\n    <<: *airflow-common\n" in COMPOSE_TEXT, name
        assert (s["image"], s["build"], s["env_file"]) == (COMMON["image"], COMMON["build"], ".env"), name
        assert s["volumes"] == COMMON["volumes"], name
        # a service may add to the common environment, never change it
        assert {k: s["environment"][k] for k in COMMON["environment"]} == COMMON["environment"], name
    assert all(SERVICES[n]["user"] == UID_USER for n in LONG_RUNNING)


def test_services_wait_for_the_init_to_complete():
    init = SERVICES[INIT]
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert init["restart"] == "no"
    for name in LONG_RUNNING:
        deps = SERVICES[name]["depends_on"]
        assert deps[INIT] == {"condition": "service_completed_successfully"}, name
        assert deps["postgres"] == {"condition": "service_healthy"}, name
        assert SERVICES[name]["restart"] == "always", name
    worker = SERVICES["celery-worker"]["depends_on"]
    assert worker["redis"] == {"condition": "service_healthy"} and worker["api-server"] == {"condition": "service_healthy"}
    # the init migrates the metadata database before anything else starts
    assert ["db", "migrate"] in _init_airflow_commands()


def test_every_long_running_service_has_a_healthcheck():
    for name in [*LONG_RUNNING, "postgres", "redis"]:
        check = SERVICES[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "retries"} <= set(check), name
    test = {n: SERVICES[n]["healthcheck"]["test"] for n in LONG_RUNNING}
    assert test["api-server"] == ["CMD", "curl", "--fail", "http://localhost:8080/api/v2/version"]
    assert SERVICES["api-server"]["ports"] == ["8080:8080"]
    assert test["scheduler"] == ["CMD", "curl", "--fail", "http://localhost:8974/health"]
    assert COMMON["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert test["dag-processor"] == ["CMD-SHELL", 'airflow jobs check --job-type DagProcessorJob --hostname "$${HOSTNAME}"']
    assert test["triggerer"] == ["CMD-SHELL", 'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"']
    assert test["celery-worker"][0] == "CMD-SHELL" and re.search(
        r"celery --app airflow\.providers\.celery\.executors\.celery_executor\.app inspect ping -d \"celery@\$\$\{HOSTNAME\}\"",
        test["celery-worker"][1])


@pytest.mark.parametrize("name", ["dag-processor", "triggerer"])
def test_job_healthchecks_are_commands_airflow_runs(name, airflow_db):
    """Run the healthcheck as the container would (compose turns $$ into $): with no such job
    alive here it must say so and exit 1; a wrong job type or option would exit 2 (argparse)."""
    shell = SERVICES[name]["healthcheck"]["test"][1].replace("$$", "$")
    done = subprocess.run(["bash", "-c", shell.replace("airflow ", f"{shlex.quote(sys.executable)} -m airflow ", 1)],
                          capture_output=True, text=True, env={**os.environ, "HOSTNAME": "no-such-host"})
    assert done.returncode == 1, done.stdout[-1500:] + done.stderr[-1500:]
    assert "No alive jobs found" in done.stdout + done.stderr


def test_one_set_of_secrets_from_env_for_every_service():
    env = _env_example()
    for key in SECRETS:
        # required: compose refuses to start without it, rather than each service inventing one
        assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", COMMON["environment"][key]), key
        assert env[key][1], f"{key} is set in .env.example"
        for name in AIRFLOW_SERVICES:
            assert SERVICES[name]["environment"][key] == COMMON["environment"][key], name
    assert "secrets.token_urlsafe" in ENV_EXAMPLE and "Fernet.generate_key" in ENV_EXAMPLE


def test_airflow_uid_owns_what_the_services_write():
    assert COMMON["user"] == UID_USER
    assert SERVICES[INIT]["user"] == "0:0", "the init runs as root to hand the folders over"
    script = _init_script()
    for folder in ("/opt/airflow/logs", "/opt/airflow/config", "/opt/rentan/data"):
        assert re.search(rf"mkdir -p [^\n]*{folder}", script), folder
        assert re.search(rf'chown [^\n]*"\$\{{AIRFLOW_UID:-50000\}}:0"[^\n]*{folder}|{folder}[^\n]*chown "\$\{{AIRFLOW_UID',
                         script), folder
    assert _env_example()["AIRFLOW_UID"][1]


def test_logs_and_config_volumes():
    mounts = dict(v.rsplit(":", 1)[::-1] for v in COMMON["volumes"])
    assert mounts["/opt/airflow/logs"] == "./logs" and mounts["/opt/airflow/config"] == "./config"
    assert COMMON["environment"]["AIRFLOW_CONFIG"].startswith("/opt/airflow/config/")
    assert COMMON["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/config/")
    ignored = (REPO / ".gitignore").read_text().split()
    assert {"/logs/", "/config/", "/data/", "/.env"} <= set(ignored)


def test_env_example_names_every_variable_the_compose_file_reads():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_TEXT))
    env = _env_example()
    missing = sorted(used - set(env))
    assert not missing, f".env.example lacks {missing}"
    assert "RENTAN_DATA_HOST" in used and env["RENTAN_DATA_HOST"] == ("./data", True)
    # what compose cannot default is set in the example
    required = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?![:-])\}", COMPOSE_TEXT)) | set(
        re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*):\?", COMPOSE_TEXT))
    assert all(env[k][1] for k in required), sorted(k for k in required if not env[k][1])


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("volumes")])
def test_every_mounted_path_exists(name):
    made_by_first_run = {"./data", "./logs", "./config"}
    for v in SERVICES[name]["volumes"]:
        host = v.rsplit(":", 1)[0]
        if not host.startswith((".", "/", "$")):
            continue  # a named volume
        host = re.sub(r"\$\{RENTAN_DATA_HOST:-(.*)\}", r"\1", host)
        if host in made_by_first_run:
            continue
        assert (REPO / host).exists(), f"{name} mounts {host}, which is not in the repository"
    mounted = {v.rsplit(":", 1)[1] for v in SERVICES[name]["volumes"] if ":" in v}
    if name in AIRFLOW_SERVICES:
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/logs", "/opt/airflow/config",
                "/opt/rentan/include", "/opt/rentan/data"} <= mounted
        # the suites travel in the package: expectations/ is a link into include/
        assert (REPO / "expectations").resolve() == (REPO / "include/rentan/quality/suites").resolve()


def test_no_credentials_in_the_compose_file():
    for line in COMPOSE_TEXT.splitlines():
        if re.search(r"(PASSWORD|SECRET|KEY)\s*[:=]\s*['\"]?[A-Za-z0-9]", line) and "${" not in line:
            pytest.fail(f"a credential written in docker-compose.yaml: {line.strip()}")
    assert all(s.get("env_file") == ".env" for n, s in SERVICES.items() if n in AIRFLOW_SERVICES or
               s.get("image", "").startswith(("postgres", "redis")))


def _pins(lock: str) -> dict[str, str]:
    text = (REPO / lock).read_text()
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", text, re.M)}


def test_image_is_official_airflow_3_with_the_runtime_lock_only():
    docker = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\d+)\.(\d+)\.(\d+)-python3\.11$", docker, re.M)
    assert base and base.group(1) == "3"
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert runtime["apache-airflow"] == ".".join(base.groups()), "the image and the lock carry the same Airflow"
    steps = "\n".join(line for line in docker.splitlines() if not line.startswith("#"))
    assert "--require-hashes -r /opt/rentan/requirements.lock" in steps and "requirements-dev" not in steps
    tools = {"pytest", "pytest-xdist", "hypothesis"}
    assert not tools & set(runtime), "no test tools in what the image installs"
    assert tools <= set(dev)
    # one version of a package whichever lock names it
    assert {p: (runtime[p], dev[p]) for p in set(runtime) & set(dev) if runtime[p] != dev[p]} == {}
    assert not tools & {re.split(r"[<>=\[ ]", line)[0].lower() for line in (REPO / "requirements.in").read_text().splitlines()
                        if line and not line.startswith("#")}
    assert "-c requirements.lock" in (REPO / "requirements-dev.in").read_text().splitlines()


def test_the_makefile_installs_both_locks_and_makes_both():
    make = (REPO / "Makefile").read_text()
    install = re.search(r"^\$\(VENV\)/\.installed:.*?(?=^\S)", make, re.M | re.S).group(0)
    assert "requirements.lock requirements-dev.lock" in install.splitlines()[0]
    assert "--require-hashes -r requirements.lock -r requirements-dev.lock" in install
    lock = re.search(r"^lock:.*?(?=^\S|\Z)", make, re.M | re.S).group(0)
    assert "compile requirements.in" in lock and "-o requirements.lock" in lock
    assert "compile requirements-dev.in" in lock and "-o requirements-dev.lock" in lock
