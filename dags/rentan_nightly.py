"""The nightly load: landing files -> bronze -> silver -> persons -> marts -> branch exports.

Each task is one call into the ``rentan`` library, which runs and is tested without a
scheduler. Nothing here touches the data at parse time.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Param, dag, task

DOC = """
### rentan nightly load

Every night, for every configured regency and BPJS TK branch:

1. **ingest**: each new file under `landing/<source>/<area>/` is read as text and stored as
   received in `warehouse/bronze/<source>/`, with its lineage; the ingestion ledger records
   every file once (a copy under another name is a duplicate; an unreadable file keeps its reason).
2. **standardise**: bronze to typed silver; bad rows to quarantine with reasons in English and
   Bahasa Indonesia; Great Expectations suites from `expectations/`; a fix-list per village.
   **validation_gate** fails, naming file, rule and counts, when a file was held back whole.
3. **identity**: one person, one record (NIK, then fuzzy name + birth date for mistyped NIKs);
   each proposal eligible, duplicate, already covered, ineligible or needs review ("tidak double").
4. **marts**: coverage, claims and budget marts for analysts, written to staging, audited with the
   gold suites, then published with one atomic switch; `warehouse/rentan.duckdb` holds the views.
5. **exports**: the reconciled package for each BPJS branch, under
   `exports/bpjs/<branch>/<snapshot_date>/` with its manifest; a branch gets only its own regencies.

Data root: `RENTAN_DATA`. Run-time knobs: `snapshot_date` (the day the run describes; default
the end of its data interval), `areas` (limit the run to some regencies or branches; empty: all).
"""

@dag(
    dag_id="rentan_nightly",
    description="Nightly load of village submissions, BPJS TK extracts and village budgets",
    doc_md=DOC,
    schedule="0 1 * * *",  # 01:00 WIB, after the branches' evening extracts
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,  # nights build on each other's ledger; never two at once
    tags=["rentan", "bpjs-tk", "nightly"],
    default_args={
        "owner": "rentan-data",
        "retries": 2,
        # an environment setting, not I/O: test runs shorten it so a failure shows at once
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("RENTAN_RETRY_DELAY_SECONDS", "300"))),
        "retry_exponential_backoff": True,
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
            # checked against the configuration when the task runs, not at parse time
            description="Only ingest these regency or branch slugs (e.g. lahat, pali); empty means all.",
        ),
    },
)
def rentan_nightly():
    @task
    def ingest(params=None, run_id=None) -> dict:
        from rentan.pipeline import run_ingest

        return run_ingest(load_id=run_id, areas=params["areas"])

    @task
    def standardise(ingested: dict, params=None, run_id=None, data_interval_end=None, logical_date=None) -> dict:
        from rentan.pipeline import run_standardise, snapshot_date

        snapshot = snapshot_date(params["snapshot_date"], data_interval_end, logical_date)
        return run_standardise(load_id=run_id, snapshot=snapshot, areas=params["areas"])

    # a held-back file stays held back until the village resends it: retrying cannot help
    @task(retries=0)
    def validation_gate(standardised: dict) -> dict:
        from rentan.pipeline import validation_gate

        return validation_gate(standardised)

    @task
    def identity(standardised: dict, params=None, run_id=None, data_interval_end=None, logical_date=None) -> dict:
        from rentan.pipeline import run_identity, snapshot_date

        return run_identity(load_id=run_id, snapshot=snapshot_date(params["snapshot_date"], data_interval_end, logical_date))

    @task
    def marts(resolved: dict, params=None, run_id=None, data_interval_end=None, logical_date=None) -> dict:
        from rentan.pipeline import run_marts, snapshot_date

        return run_marts(load_id=run_id, snapshot=snapshot_date(params["snapshot_date"], data_interval_end, logical_date))

    @task
    def exports(published: dict, run_id=None) -> dict:
        from rentan.pipeline import run_exports

        return run_exports(load_id=run_id, published=published)

    standardised = standardise(ingest())
    # a held-back file fails the gate (and the run shows red) while the night goes on without it
    validation_gate(standardised)
    exports(marts(identity(standardised)))


rentan_nightly()
