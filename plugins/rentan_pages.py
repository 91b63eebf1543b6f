"""The rentan pages inside Airflow's UI: coverage per regency and the review queue.

Thin on purpose: the pages are ``rentan.web`` (a FastAPI app behind Airflow's authentication),
their figures ``rentan.overview`` (read from the published marts, tested without Airflow).
The app is mounted at ``/rentan``; the two external views put it in the UI's Browse menu,
framed by Airflow's own navigation.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from rentan.web import EXTERNAL_VIEWS, create_app


class RentanPages(AirflowPlugin):
    name = "rentan"
    fastapi_apps = [  # noqa: RUF012 - the attribute Airflow's plugin manager reads
        {"app": create_app(), "url_prefix": "/rentan", "name": "rentan pages"}]
    external_views = EXTERNAL_VIEWS
