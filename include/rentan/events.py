"""What each stage's asset event says about the data: its ``extra``, shown in Airflow's Assets
view and readable by any DAG scheduled on the asset.

One function per stage, from the summary the stage returns: the snapshot, how many files and
rows, where the output is. Counts and names only: never a NIK, a name or a cell value.
"""

from __future__ import annotations

import datetime as dt


def _day(snapshot: dt.date | str | None) -> str | None:
    return snapshot.isoformat() if isinstance(snapshot, dt.date) else snapshot


def load(report: dict, snapshot: dt.date) -> dict:
    """A mapped load (one source of one regency or branch), for its bronze and silver assets."""
    return {"snapshot": _day(snapshot), "source": report["source"], "area": report["area"],
            "files": int(report["files_loaded"]), "rows": int(report["rows_loaded"]),
            "files_held_back": len(report.get("blocked") or [])}


def identity(report: dict) -> dict:
    """The persons and enrolment candidates of the night."""
    return {"snapshot": report.get("snapshot"), "records": int(report.get("records", 0)),
            "persons": int(report.get("persons", 0)), "proposals": int(report.get("proposals", 0)),
            "status": report.get("status", {}), "review_pairs": int(report.get("review_pairs", 0))}


def marts(report: dict) -> dict:
    """The published (or, in a dry run, only audited) marts."""
    rows = {k: int(v) for k, v in (report.get("rows") or {}).items()}
    return {"snapshot": report.get("snapshot"), "published": bool(report.get("published")),
            "version": report.get("version"), "files": len(rows), "rows": sum(rows.values()),
            "rows_by_mart": rows, "quality_report": report.get("quality_report"),
            # branch -> why its night is incomplete (no package for it)
            "incomplete": report.get("incomplete") or {}}


def export(report: dict) -> dict:
    """One branch's package (nothing when the night was a dry run)."""
    branches = report.get("branches") or {}
    files = {name: int(n) for b in branches.values() for name, n in b.items()}
    return {"snapshot": report.get("snapshot"), "branches": sorted(branches), "written": bool(branches),
            "files": len(files), "rows": files}
