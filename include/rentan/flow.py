"""What the nightly DAG is made of, in one place: the sources it loads (one mapped task each) and
the Assets each stage produces, so that other DAGs (an analysts' refresh, a data-quality report)
can be scheduled on them and the lineage shows in Airflow's Assets view."""

from __future__ import annotations

from airflow.sdk import Asset

from rentan.core.paths import SOURCES

DAG_ID = "rentan_nightly"
BRONZE = {s: Asset(name=f"rentan_bronze_{s}", uri=f"rentan://warehouse/bronze/{s}", group="rentan") for s in SOURCES}
SILVER = {s: Asset(name=f"rentan_silver_{s}", uri=f"rentan://warehouse/silver/{s}", group="rentan") for s in SOURCES}
PERSONS = Asset(name="rentan_persons", uri="rentan://warehouse/silver/enrolment_candidates", group="rentan")
MARTS = Asset(name="rentan_marts", uri="rentan://warehouse/marts", group="rentan")
EXPORTS = Asset(name="rentan_branch_exports", uri="rentan://exports/bpjs", group="rentan")

__all__ = ["BRONZE", "DAG_ID", "EXPORTS", "MARTS", "PERSONS", "SILVER", "SOURCES"]
