"""The command line as a person meets it: every error one line and a hint (the traceback only
with -v), ``rentan doctor`` saying what to fix, progress while it works, and ``make demo``'s
stage-by-stage account of a DAG log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS_ON_A_DATA_ROOT = [["ingest"], ["standardise"], ["identity"], ["review"], ["marts"], ["export"],
                           ["query", "select 1"], ["views"], ["summary"]]


def rentan(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rentan.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=300)


@pytest.mark.parametrize("command", COMMANDS_ON_A_DATA_ROOT, ids=lambda c: c[0])
def test_a_missing_data_root_is_one_line_and_a_hint(tmp_path, command):
    gone = tmp_path / "nowhere"
    done = rentan("--data", str(gone), *command)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0] == f"rentan {command[0]}: no data root at {gone} (from --data)"
    assert lines[1].startswith("  hint: point RENTAN_DATA (or --data) at the data root") and "-v" in lines[1]
    assert not gone.exists(), "nothing is created where the data root was expected"


def test_verbose_shows_the_traceback(tmp_path):
    done = rentan("-v", "--data", str(tmp_path / "nowhere"), "summary")
    assert done.returncode != 0 and "Traceback (most recent call last)" in done.stderr


@pytest.fixture
def marts_root(tmp_path) -> Path:
    """A data root with two small published marts."""
    from rentan_dev.bench_cli import _marts

    root = tmp_path / "data"
    _marts(root)
    return root


def test_a_mistyped_table_names_the_views(marts_root):
    done = rentan("--data", str(marts_root), "query", "select * from coverage_regenc")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert "coverage_regenc does not exist" in lines[0] and 'Did you mean "coverage_regency"' in lines[0]
    assert "villages_missing" in lines[1] and 'rentan query "from dictionary"' in lines[1]
    done = rentan("--data", str(marts_root), "query", "selec 1")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 2
    assert "syntax error" in done.stderr and "check the SQL" in done.stderr


def test_query_answers_and_lists_the_dictionary(marts_root):
    done = rentan("--data", str(marts_root), "query", "from coverage_regency", "--csv")
    assert done.returncode == 0 and done.stdout.splitlines() == ["regency,coverage_pct", "lahat,21.43"]
    done = rentan("--data", str(marts_root), "query",
                  "select description from dictionary where mart = 'coverage_regency' and \"column\" = 'coverage_pct'",
                  "--csv")
    assert done.stdout.splitlines()[1].startswith("\"100 x active_participants / working_population")


def test_no_marts_yet_says_what_to_run(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    done = rentan("--data", str(root), "query", "select 1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"rentan query: no marts at {root}/warehouse/marts: none have been published yet",
                                        "  hint: run the nightly DAG (make demo, or `rentan marts --snapshot YYYY-MM-DD`) "
                                        "first (rentan -v query ... shows the traceback)"]


def test_library_errors_keep_their_message(tmp_path):
    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    done = rentan("--data", str(root), "ingest", "--area", "atlantis")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith("rentan ingest: unknown area(s) ['atlantis']; configured: ")
    (root / "landing" / "mine.txt").write_text("not generated")
    done = rentan("--data", str(root), "sample", "--scale", "0.01")
    assert done.returncode == 2 and "was not written by the sample generator" in done.stderr
    assert "hint: choose another data root" in done.stderr


def test_doctor_says_what_to_fix(airflow_db, tmp_path):
    done = rentan("--data", str(tmp_path / "nowhere"), "doctor", env={"RENTAN_PERSON_KEY": "change-me-to-a-long"})
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL  data root" in out and "does not exist" in out and "fix: set RENTAN_DATA" in out
    assert "FAIL  secret" in out and "placeholder" in out
    assert "ok    configuration" in out and "ok    dags folder" in out and "ok    airflow database" in out
    assert "ok    nightly DAG" in out
    root = tmp_path / "data"
    (root / "landing" / "submissions" / "lahat").mkdir(parents=True)
    (root / "landing" / "submissions" / "lahat" / "usulan.csv").write_text("NO,NIK\n")
    done = rentan("--data", str(root), "doctor", env={"RENTAN_PERSON_KEY": "a-long-enough-random-secret-value"})
    assert done.returncode == 0, done.stdout
    assert "ok    data root" in done.stdout and "ok    ledger" in done.stdout and "ok    secret" in done.stdout
    assert done.stdout.rstrip().endswith("all set")


def test_long_work_logs_files_done_of_total(data_root, caplog):
    from rentan.core.settings import data_paths
    from rentan.ingest import ingest

    for i in range(24):
        f = data_root / "landing" / "submissions" / "lahat" / f"usulan_{i}.csv"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"NO,NIK,NAMA\n1,16040101028000{i:02d},Warga {i}\n")
    with caplog.at_level(logging.INFO, logger="rentan.core.progress"):
        ingest(data_paths(data_root), load_id="t", areas=["lahat"], sources=["submissions"])
    lines = [r.getMessage() for r in caplog.records if r.name == "rentan.core.progress"]
    assert lines == ["ingest submissions/lahat: 0 of 24 files", "ingest submissions/lahat: 6 of 24 files (25%)",
                     "ingest submissions/lahat: 12 of 24 files (50%)", "ingest submissions/lahat: 18 of 24 files (75%)",
                     "ingest submissions/lahat: 24 of 24 files (done)"]


def test_the_demo_follows_the_dag_log_stage_by_stage(tmp_path):
    import io

    from rentan.follow import follow

    log = tmp_path / "dag.log"
    log.write_text(
        "2025-07-01T00:00:00Z [info ] [DAG TEST] starting task_id=load_submissions map_index=0 [airflow.sdk] loc=x\n"
        "2025-07-01T00:00:01Z [info ] ingest submissions/lahat: 120 of 325 files (37%) [rentan.core.progress] loc=p.py:1\n"
        "2025-07-01T00:00:02Z [info ] Done. Returned value was: {'source': 'submissions', 'area': 'lahat', "
        "'rows_loaded': 2820, 'files_loaded': 325, 'blocked': []} [airflow.task.operators.python] loc=python.py:233\n"
        "2025-07-01T00:00:03Z [info ] [DAG TEST] end task task_id=load_submissions map_index=0 [airflow.sdk] loc=x\n")
    done = subprocess.run([sys.executable, "-c", "pass"])  # a process that has ended: follow reads to the end
    out = io.StringIO()
    follow(str(log), pid=_ended_pid(), out=out)
    lines = out.getvalue().splitlines()
    assert done.returncode == 0
    assert lines[0] == "  > load_submissions[0] ..."
    assert lines[1] == "      ingest submissions/lahat: 120 of 325 files (37%)"
    assert lines[2].startswith("  + load_submissions[0] done in ")
    assert lines[2].endswith(": source submissions, area lahat, files_loaded 325, rows_loaded 2820, 0 file(s) held back")


def _ended_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_locked_ledger_and_a_full_disk_are_one_line_each(tmp_path):
    import sqlite3

    from rentan.alerts import alert_record
    from rentan.core.settings import data_paths
    from rentan.faults import known_fault

    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    assert rentan("--data", str(root), "ingest").returncode == 0
    db = data_paths(root).ledger_url.removeprefix("sqlite:///")
    (root / "landing" / "submissions" / "lahat").mkdir(parents=True)
    (root / "landing" / "submissions" / "lahat" / "usulan.csv").write_text("NO,NIK,NAMA\n1,1604011708750001,Budi\n")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another night writing to the ledger
    try:
        done = rentan("--data", str(root), "ingest", env={"RENTAN_LEDGER_WAIT_SECONDS": "1"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0] == ("rentan ingest: the ingestion ledger is locked: another process (a night, a rentan "
                        "command) is writing to it")
    assert "RENTAN_LEDGER_URL" in lines[1]
    # a write to a full disk (the kernel's /dev/full, where there is one; as pyarrow words it
    # otherwise), and the alert a failed task would send
    import errno
    import stat

    if os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode):
        with pytest.raises(OSError) as full, open("/dev/full", "wb") as fh:
            fh.write(b"x" * 100_000)
            fh.flush()
        error = full.value
    else:
        error = OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    assert known_fault(error)[0] == "the disk is full"
    try:
        raise RuntimeError("marts could not be written") from error
    except RuntimeError as wrapped:
        rec = alert_record({"exception": wrapped, "run_id": "r"})
    assert rec["error"].startswith("the disk is full; free space on the data root's disk"), rec["error"]
