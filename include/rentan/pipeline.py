"""The nightly load's stages as plain functions: what each DAG task calls.

Each returns a small JSON-able summary (it travels through XCom; data never does).
"""

from __future__ import annotations

import logging

import datetime as dt

from rentan.ingest import ingest
from rentan.settings import data_paths

log = logging.getLogger(__name__)


def run_ingest(load_id: str, areas: list[str] | None = None) -> dict:
    return ingest(data_paths(), load_id=load_id, areas=areas or None).as_dict()


def snapshot_date(param: str | None, data_interval_end=None, logical_date=None) -> dt.date:
    """The day a run describes: the param if given, else the end of its data interval in WIB
    (a manual run in Airflow 3 may have neither interval nor logical date: then today)."""
    if param:
        return dt.date.fromisoformat(param)
    when = data_interval_end or logical_date
    if when is None:
        return dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    return when.astimezone(dt.timezone(dt.timedelta(hours=7))).date()


def run_standardise(load_id: str, snapshot: dt.date, areas: list[str] | None = None) -> dict:
    from rentan.standardise import standardise

    return standardise(data_paths(), load_id=load_id, today=snapshot, areas=areas or None).as_dict()


def validation_gate(report: dict) -> dict:
    """Fails the task, naming each held-back file, rule and count; the rest has gone on."""
    from rentan.standardise import gate

    gate(report)
    return {"blocked": 0}


def run_identity(load_id: str, snapshot: dt.date) -> dict:
    from rentan.identity import resolve

    return resolve(data_paths(), load_id=load_id, snapshot=snapshot)


def run_marts(load_id: str, snapshot: dt.date) -> dict:
    from rentan.marts import load

    return load(data_paths(), load_id=load_id, snapshot=snapshot)


def run_exports(load_id: str, published: dict) -> dict:
    """The branch packages of the snapshot the marts task published."""
    from rentan.exports.bpjs import export

    return export(data_paths(), load_id=load_id, snapshot=dt.date.fromisoformat(published["snapshot"]))
