"""Every DAG file imports, and every DAG carries the habits operators rely on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rentan.flow import SOURCES

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, f"DAG import errors: {dagbag.import_errors}"


def test_dagbag_not_empty(dagbag):
    assert len(dagbag.dags) >= 1
    assert "rentan_nightly" in dagbag.dags


# tasks whose failure is a verdict on the data, not a passing fault: a retry would say the same
NO_RETRY_BY_DESIGN = {("rentan_nightly", "validation_gate")}


def test_every_dag_has_tags_owner_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and dag.doc_md.strip(), f"{dag_id} has no doc_md"
        assert dag.dagrun_timeout, f"{dag_id} has no run timeout: a stuck night would hold every later one"
        for t in dag.tasks:
            assert t.execution_timeout, f"{dag_id}.{t.task_id} has no execution timeout"
            if (dag_id, t.task_id) in NO_RETRY_BY_DESIGN:
                assert t.retries == 0
                continue
            assert t.retries and t.retries >= 1, f"{dag_id}.{t.task_id} has no retry policy"
            assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id} has no owner"




def test_nightly_reads_like_the_data_flow(dagbag):
    dag = dagbag.dags["rentan_nightly"]
    loads = {f"load_{s}" for s in SOURCES}
    assert loads | {"plan", "load_unfiled", "validation_gate", "identity", "marts", "export"} <= set(dag.task_ids)
    for load in loads:
        assert {"identity", "validation_gate"} <= dag.get_task(load).downstream_task_ids
        assert type(dag.get_task(load)).__name__.endswith("MappedOperator"), "one task per regency or branch"
    assert "marts" in dag.get_task("identity").downstream_task_ids
    assert "export" in dag.get_task("marts").downstream_task_ids
    # the gate reports held-back files but the night does not wait on it
    assert dag.get_task("validation_gate").upstream_task_ids == loads
    assert not dag.get_task("validation_gate").downstream_task_ids
    # one regency's failed load does not stop identity for the others
    assert dag.get_task("identity").trigger_rule == "all_done"
    assert set(dag.params) == {"snapshot_date", "areas", "dry_run"}


def test_stages_declare_their_assets(dagbag):
    dag = dagbag.dags["rentan_nightly"]
    uris = lambda objs: {o.uri for o in objs}  # noqa: E731
    for s in SOURCES:
        assert uris(dag.get_task(f"load_{s}").outlets) == {f"rentan://warehouse/bronze/{s}", f"rentan://warehouse/silver/{s}"}
    assert uris(dag.get_task("marts").outlets) == {"rentan://warehouse/marts"}
    assert "rentan://warehouse/marts" in uris(dag.get_task("export").inlets)


def test_every_task_alerts_on_failure(dagbag):
    for t in dagbag.dags["rentan_nightly"].tasks:
        assert t.on_failure_callback, t.task_id


# what a DAG file may call at the top level: building Assets and reading an environment variable
ALLOWED_CALLS = {"Asset", "os.environ.get"}


def _calls(node) -> set[str]:
    return {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_do_no_io_at_parse_time(path):
    """Top-level statements of a DAG file may import, define and call the DAG factory: nothing else
    (no reading configuration, listing folders or querying databases while the scheduler parses)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            continue  # a constant such as DOC
        if isinstance(node, ast.Assign) and _calls(node.value) <= ALLOWED_CALLS:
            continue  # constants, Assets, an environment setting
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not node.value.args:
            continue  # calling a @dag factory
        raise AssertionError(f"{path.name}:{node.lineno}: top-level statement that may run work at parse time")


def test_the_dag_edges_are_the_data_flow(dagbag):
    """Every edge of the nightly DAG, and no other: the plan hands the night to each stage, each
    source's areas feed its mapped load, the loads feed identity and the gate, identity the marts,
    the marts each branch's export."""
    dag = dagbag.dags["rentan_nightly"]
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    expected = {("plan", "branches_of"), ("plan", "identity"), ("plan", "marts"), ("load_unfiled", "identity"),
                ("identity", "marts"), ("marts", "export"), ("branches_of", "export")}
    for s in SOURCES:
        expected |= {("plan", f"areas_{s}"), ("plan", f"load_{s}"), (f"areas_{s}", f"load_{s}"),
                     (f"load_{s}", "validation_gate"), (f"load_{s}", "identity")}
    assert edges == expected, f"missing {sorted(expected - edges)}; unexpected {sorted(edges - expected)}"


def test_what_the_dag_file_imports_at_parse_time_is_light():
    """The DAG file imports rentan.flow at parse time: the sources and Assets, without the data
    libraries (pandas, pyarrow, DuckDB, Great Expectations) a parse must not pay for."""
    import subprocess
    import sys

    probe = ("import sys, rentan.flow; heavy = {'pandas', 'pyarrow', 'duckdb', 'great_expectations'} & set(sys.modules); "
             "print(sorted(heavy))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
