"""The nightly load: landing files -> bronze -> silver -> persons -> marts -> branch exports.

Each task is one call into the ``rentan`` library, which runs and is tested without a
scheduler. Nothing here touches the data at parse time: which regencies and branches the mapped
tasks run over is read from configuration by the ``plan`` task, at run time.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Param, dag, task

# the sources and the stages' Assets live in one module of the library (light: no data, no I/O)
from rentan.flow import BRONZE, DAG_ID, EXPORTS, MARTS, PERSONS, SILVER, SOURCES

DOC = """
### rentan nightly load

Every night, for every configured regency and BPJS TK branch:

1. **plan**: the night this run describes (its snapshot day, and the cut-off: 00:00 WIB after it),
   and the regencies and branches of `include/rentan/config/regencies.yaml` (limited by the
   `areas` parameter): adding a regency there adds its mapped tasks, with no code change.
2. **load_&lt;source&gt;** (mapped, one task per regency or branch; with more areas than
   `tasks.max_load_tasks_per_source`, one per group of them): new files under
   `landing/<source>/<area>/` are stored as received in bronze with their lineage, then
   standardised to silver; bad rows go to quarantine with their reasons; a fix-list per village.
   A slow or broken regency fails alone (in a group, the others load and the task fails naming
   it); **load_unfiled** records files in no known folder.
   **validation_gate** fails, naming file, rule and counts, when a file was held back whole.
3. **identity**: one person, one record (NIK, then fuzzy name + birth date for mistyped NIKs);
   each proposal eligible, duplicate, already covered, ineligible or needs review ("tidak double").
   It runs on whatever loaded, even when one regency's load failed.
4. **marts**: coverage, claims and budget marts, staged, audited with the gold suites, published
   with one atomic switch; `warehouse/rentan.duckdb` holds the analysts' views.
5. **export** (mapped, one per branch or group of branches): `exports/bpjs/<branch>/<snapshot_date>/` with its manifest,
   only for a branch whose night is complete (its membership and claims extracts present, loaded
   and not held back, and its loads finished); otherwise it fails, saying what is missing.

Which night: the scheduled 01:00 WIB run (and a backfill, which replays it) describes the day
before it; a manual run or `airflow dags test rentan_nightly D` describes the WIB day of its
logical date. A snapshot sees only the files received by the end of its day (WIB), so a rerun or
backfill of a past night gives that night's figures.

Run parameters: `snapshot_date` (the day the run describes, instead of the above), `areas` (some
regencies or branches only), `dry_run` (everything up to the audited marts; nothing published,
no export written).
Failures are alerted to the log and `<RENTAN_DATA>/alerts/alerts.jsonl` (and a webhook if set).
"""


def _alert(context) -> None:
    from rentan.alerts import on_failure

    on_failure(context)


_ALERT_EMAIL = os.environ.get("RENTAN_ALERT_EMAIL")  # an environment setting, not I/O


@dag(
    dag_id=DAG_ID,
    description="Nightly load of village submissions, BPJS TK extracts and village budgets",
    doc_md=DOC,
    schedule="0 1 * * *",  # 01:00 WIB, after the branches' evening extracts
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,  # nights build on each other's ledger; a backfill runs its dates one by one
    # a night that has not ended by the next evening's extracts is stopped, so it cannot hold
    # every later night behind it (one active run)
    dagrun_timeout=dt.timedelta(hours=20),
    tags=["rentan", "bpjs-tk", "nightly"],
    default_args={
        "owner": "rentan-data",
        "retries": 2,
        # the default sample's whole night takes minutes; a task still running after hours is stuck
        # on something (a stalled mount, a lock), and a timed-out load counts as not loaded
        "execution_timeout": dt.timedelta(hours=float(os.environ.get("RENTAN_TASK_TIMEOUT_HOURS", "4"))),
        # an environment setting, not I/O: test runs shorten it so a failure shows at once
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("RENTAN_RETRY_DELAY_SECONDS", "300"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(hours=1),
        "on_failure_callback": _alert,
        "email": [a.strip() for a in _ALERT_EMAIL.split(",")] if _ALERT_EMAIL else None,
        "email_on_failure": bool(_ALERT_EMAIL),
        "email_on_retry": False,
    },
    params={
        "snapshot_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="The day the run describes (YYYY-MM-DD); empty: the end of the run's data interval.",
        ),
        "areas": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[a-z0-9-]+$"},
            # checked against the configuration when the plan task runs, not at parse time
            description="Only these regency or branch slugs (e.g. lahat, pali); empty means all.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Build and audit the marts but publish nothing and write no export.",
        ),
    },
)
def rentan_nightly():
    # the night (its snapshot day and cut-off) is decided here once and handed to every task
    @task(multiple_outputs=True)
    def plan(params=None, run_id=None, dag_run=None) -> dict:
        from rentan.pipeline import plan

        return plan(params["areas"], load_id=run_id, snapshot_date=params["snapshot_date"],
                    run_type=dag_run.run_type, logical_date=dag_run.logical_date, run_after=dag_run.run_after)

    # Airflow maps only over a task's whole return value, not one key of it (a mapped task's
    # length is recorded for return values alone): these hand each list of the plan on
    @task
    def areas_of(planned: dict, source: str) -> list[list[str]]:
        return planned[f"areas_{source}"]

    @task
    def branches_of(planned: dict) -> list[list[str]]:
        return planned["branches"]

    # one source of a group of regencies or branches (one area, unless there are more areas than
    # tasks); the areas name the mapped task in the UI and in alerts
    @task(map_index_template="{{ task.op_kwargs['areas'] | join(',') | truncate(200) }}")
    def load(source: str, areas: list[str], night: dict, run_id=None, outlet_events=None) -> dict:
        from rentan import events
        from rentan.pipeline import run_loads

        report = run_loads(load_id=run_id, source=source, areas=areas, night=night)
        for asset in (BRONZE[source], SILVER[source]):
            outlet_events[asset].extra = events.load(report, night["snapshot"])
        return report

    @task
    def load_unfiled(run_id=None) -> dict:
        from rentan.pipeline import run_unfiled

        return run_unfiled(load_id=run_id)

    # a held-back file stays held back until the village resends it: retrying cannot help
    @task(retries=0, trigger_rule="all_done")
    def validation_gate(run_id=None) -> dict:
        from rentan.pipeline import validation_gate_for

        return validation_gate_for(run_id)

    # one regency's failed load must not hold back the others: identity runs on what loaded
    @task(trigger_rule="all_done", inlets=list(SILVER.values()), outlets=[PERSONS])
    def identity(night: dict, run_id=None, outlet_events=None) -> dict:
        from rentan import events
        from rentan.pipeline import run_identity

        report = run_identity(load_id=run_id, night=night)
        outlet_events[PERSONS].extra = events.identity(report)
        return report

    @task(inlets=[PERSONS, *SILVER.values()], outlets=[MARTS])
    def marts(night: dict, resolved: dict, params=None, run_id=None, outlet_events=None) -> dict:
        from rentan import events
        from rentan.pipeline import run_marts

        report = run_marts(load_id=run_id, night=night, dry_run=params["dry_run"])
        outlet_events[MARTS].extra = events.marts(report)
        return report

    @task(inlets=[MARTS], outlets=[EXPORTS],
          map_index_template="{{ task.op_kwargs['branches'] | join(',') | truncate(200) }}")
    def export(branches: list[str], published: dict, run_id=None, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from rentan import events
        from rentan.pipeline import run_exports
        from rentan.quality.completeness import IncompleteNight

        try:
            report = run_exports(load_id=run_id, published=published, branches=branches)
        except IncompleteNight as e:
            # the night's inputs decide, not a passing fault: a retry would say the same
            raise AirflowFailException(str(e)) from e
        outlet_events[EXPORTS].extra = events.export(report)
        return report

    planned = plan()
    night = planned["night"]
    loads = [load.override(task_id=f"load_{s}", outlets=[BRONZE[s], SILVER[s]])
             .partial(source=s, night=night)
             .expand(areas=areas_of.override(task_id=f"areas_{s}")(planned, s)) for s in SOURCES]
    loads >> validation_gate()
    resolved = identity(night)
    [*loads, load_unfiled()] >> resolved
    export.partial(published=marts(night, resolved)).expand(branches=branches_of(planned))


rentan_nightly()
