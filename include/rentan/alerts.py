"""Alerts when a task fails: always to the task log and to ``<RENTAN_DATA>/alerts/alerts.jsonl``
(one JSON line per failure, for whoever watches the data root; on object storage one object per
alert under ``alerts/``); to a chat webhook when
``RENTAN_ALERT_WEBHOOK`` is set (off by default). E-mail goes through Airflow's own
``email_on_failure`` when ``RENTAN_ALERT_EMAIL`` is set (see the DAG's default arguments).

The text names the DAG, task, regency or branch of a mapped task, run and the error: the error
messages of this project name files, rows and rules, never a person's NIK or name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.request

from rentan.core.masking import mask_digits
from rentan.core.settings import data_paths

log = logging.getLogger(__name__)
WEBHOOK_ENV = "RENTAN_ALERT_WEBHOOK"


def _masked(text: str, limit: int = 2000) -> str:
    """A library error may quote a cell (a NIK, a KPJ): long digit runs are masked, and the text cut."""
    return mask_digits(text, limit)


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    from rentan.faults import known_fault

    fault = known_fault(error)
    if fault:  # a fault of the machine: the sentence and what to do, not the driver's text
        return _masked(f"{fault[0]}; {fault[1]}")
    return _masked(f"{type(error).__name__}: {error}")


def alert_record(context) -> dict:
    ti = context.get("task_instance") or context.get("ti")
    error = context.get("exception")
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        # the regency or branch of a mapped task (its map_index_template)
        "area": getattr(ti, "rendered_map_index", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": _error_text(error),
    }


def _to_store(rec: dict) -> None:
    """With the data root on object storage, the alerts file above is this machine's; each alert
    also goes to ``alerts/`` on the store (one object each: objects cannot be appended to)."""
    from rentan.core.paths import safe_name
    from rentan.core.storage import remote_root, remote_url

    url = remote_url()
    if url is None:
        return
    name = safe_name(f"{rec['at']}-{rec['dag_id']}-{rec['task_id']}-{rec['area'] or rec['map_index']}") + ".json"
    try:
        (remote_root(url) / "alerts" / name).write_text(json.dumps(rec, sort_keys=True) + "\n")
    except Exception as e:  # noqa: BLE001 - the store may be what failed
        log.error("could not write the alert to %s: %s", url, e)


def on_failure(context) -> None:
    rec = alert_record(context)
    where = f"{rec['dag_id']}.{rec['task_id']}" + (
        f"[{rec['area'] or rec['map_index']}]" if rec["map_index"] not in (-1, None) else "")
    text = f"rentan alert: {where} failed in run {rec['run_id']} (try {rec['try_number']}): {rec['error']}"
    log.error(text)
    try:
        folder = data_paths().root / "alerts"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "alerts.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    except OSError as e:  # an alert must never hide the failure it reports
        log.error("could not write the alert file: %s", e)
    _to_store(rec)
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        try:
            req = urllib.request.Request(url, data=json.dumps({"text": text, **rec}).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).close()
        except Exception as e:  # noqa: BLE001 - a dead chat hook must not fail the callback
            log.error("could not post the alert to %s: %s", WEBHOOK_ENV, e)
