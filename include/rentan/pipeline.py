"""The nightly load's stages as plain functions: what each DAG task calls.

Each returns a small JSON-able summary (it travels through XCom; data never does). Each works in
``storage.workspace``: on local disk the data root itself; on object storage a private checkout of
the prefixes the stage reads, whose changes go back to the store when the stage succeeds.

The night a run describes is decided once, by ``plan`` (``rentan.core.night``), and handed to every
later task.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from rentan.core.ledger import Ledger
from rentan.core.masking import mask_digits
from rentan.core.night import Night, night_of
from rentan.core.paths import DataPaths
from rentan.core.settings import data_paths
from rentan.core.storage import workspace
from rentan.ingest import ingest

log = logging.getLogger(__name__)


# what each stage reads and writes, as prefixes of the data root
LAYERS_LOADED = ("warehouse/bronze", "warehouse/silver", "warehouse/quarantine", "exports/desa", "gx")
SILVER = ("warehouse/silver",)
MARTS_READ = ("warehouse/silver", "warehouse/quarantine", "warehouse/_marts", "gx")
MARTS_WRITE = ("warehouse/_marts", "gx", "reports")


def _ledger():
    return Ledger(data_paths().ledger_url)


def plan(areas: list[str] | None = None, *, load_id: str | None = None, snapshot_date: str | None = None,
         run_type: str | None = None, logical_date=None, run_after=None) -> dict:
    """The night this run describes, and what tonight's mapped tasks run over: each source's areas
    and the branches, all from configuration (a new regency is a new entry there), limited to
    ``areas`` when given, in groups (``tasks:`` in the configuration; one area a group unless
    there are more areas than tasks). The loads are recorded as planned: each must finish for its
    branch's night to be complete."""
    from rentan.config import groups, load_config

    night = night_of(snapshot_date, run_type, logical_date, run_after)
    config = load_config()
    known = {a for s in config.sources for a in config.areas(s)}
    unknown = sorted(set(areas or []) - known)
    if unknown:
        raise ValueError(f"unknown area(s) {unknown}; configured: {sorted(known)}")
    wanted = set(areas or known)
    # a regency's night needs its branch's extracts, and a branch's its regencies' submissions
    for b in config.branches.values():
        if b.slug in wanted or wanted & set(b.regencies):
            wanted |= {b.slug, *b.regencies}
    sources = {s: [a for a in config.areas(s) if a in wanted] for s in config.sources}
    # the ledger's tables are made here, once, before the mapped loads open it side by side
    # (concurrent CREATE TABLE on PostgreSQL can fail)
    with _ledger() as ledger:
        if load_id:
            ledger.plan_loads(load_id, [(s, a) for s, areas_ in sources.items() for a in areas_])
    log.info("this run describes %s", night)
    most = config.tasks.max_load_tasks_per_source
    return {"night": night.as_dict(), **{f"areas_{s}": groups(a, most) for s, a in sources.items()},
            "branches": groups([b for b in config.branches if b in wanted], config.tasks.max_export_tasks)}


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def standardise_night(paths: DataPaths, *, load_id: str, today: dt.date, areas: list[str] | None = None,
                      sources: list[str] | None = None):
    """Standardise what tonight's loads brought, then write the fix-lists of the regencies whose
    villages' submissions were among it."""
    from rentan.exports.desa import write_night_fix_lists
    from rentan.standardise import standardise

    report = standardise(paths, load_id=load_id, today=today, areas=areas, sources=sources)
    report.fix_lists = len(write_night_fix_lists(paths, snapshot=today, regencies=report.submitted))
    return report


def marts_night(paths: DataPaths, *, load_id: str, snapshot: dt.date, publish: bool = True) -> dict:
    """Build, audit and publish the marts, then write the night's data-quality report."""
    from rentan import quality_report
    from rentan.marts import load

    report = load(paths, load_id=load_id, snapshot=snapshot, publish=publish)
    if report.get("published"):
        report["quality_report"] = str(quality_report.write(paths, snapshot, load_id))
    return report


class LoadsFailed(RuntimeError):
    """Some areas of a group failed to load; the group's other areas loaded and are recorded."""


def run_loads(load_id: str, source: str, areas: list[str], night: dict) -> dict:
    """:func:`run_load` for each area of a group in turn: what a mapped task does. An area that
    fails is recorded as failed and the next goes on, so one broken regency fails alone; the
    group then fails naming it (a retry redoes only what did not load: loaded files are known)."""
    reports, failed = [], {}
    for area in areas:
        try:
            reports.append(run_load(load_id, source, area, night))
        except Exception as e:
            if len(areas) == 1:
                raise
            log.exception("load of %s for %s failed; the group's other areas go on", source, area)
            failed[area] = f"{type(e).__name__}: {mask_digits(str(e))[:300]}"
    if failed:
        raise LoadsFailed(f"{source}: {len(failed)} of {len(areas)} areas failed to load (the others loaded): "
                          + "; ".join(f"{a}: {why}" for a, why in failed.items()))
    return {"source": source, "areas": areas, "area": ",".join(areas),
            "rows_loaded": sum(r["rows_loaded"] for r in reports),
            "files_loaded": sum(r["files_loaded"] for r in reports),
            "blocked": [b for r in reports for b in r["blocked"]]}


def run_load(load_id: str, source: str, area: str, night: dict) -> dict:
    """Ingest then standardise one source of one regency or branch. The load is recorded as
    started before any work and as succeeded only at the end: a process killed in between leaves
    it unfinished."""
    snapshot = Night.from_dict(night).snapshot
    with _ledger() as ledger:
        ledger.load_started(load_id, source, area, _process())
        try:
            with workspace((f"landing/{source}/{area}", *LAYERS_LOADED), push=LAYERS_LOADED) as paths:
                ingested = ingest(paths, load_id=load_id, areas=[area], sources=[source]).as_dict()
                report = standardise_night(paths, load_id=load_id, today=snapshot, areas=[area],
                                           sources=[source]).as_dict()
        except Exception as e:
            # the marts and exports of this night must know that this area did not load
            ledger.load_failed(load_id, source, area, type(e).__name__)
            raise
        ledger.load_succeeded(load_id, source, area)
    return {"source": source, "area": area, "rows_loaded": ingested["rows_loaded"],
            "files_loaded": ingested["loaded"], "blocked": [mask_digits(b) for b in report["blocked"]]}


def run_unfiled(load_id: str) -> dict:
    """Record the files left outside any source or area folder, each with its reason."""
    with workspace(("landing",), push=()) as paths:
        return ingest(paths, load_id=load_id, unfiled=True).as_dict()


def validation_gate_for(load_id: str) -> dict:
    """Fails, naming each file this run held back, its rule and counts; the rest has gone on."""
    from sqlalchemy import select

    from rentan.core.ledger import StandardisedFile
    from rentan.quality.gate import gate

    with _ledger() as ledger, ledger.session() as s:
        blocked = [mask_digits(r.block_reason) for r in s.scalars(select(StandardisedFile).where(
            StandardisedFile.load_id == load_id, StandardisedFile.blocked.is_(True)).order_by(StandardisedFile.file))]
    gate({"blocked": blocked})
    return {"blocked": 0}


def run_identity(load_id: str, night: dict) -> dict:
    from rentan.identity import resolve

    with workspace(SILVER) as paths:
        return resolve(paths, load_id=load_id, snapshot=Night.from_dict(night).snapshot)


def run_marts(load_id: str, night: dict, dry_run: bool = False) -> dict:
    with workspace(MARTS_READ, push=MARTS_WRITE) as paths:
        return marts_night(paths, load_id=load_id, snapshot=Night.from_dict(night).snapshot, publish=not dry_run)


def run_exports(load_id: str, published: dict, branches: list[str] | str | None = None) -> dict:
    """The packages of some branches (or all) for the snapshot the marts task published. A branch
    whose night is incomplete gets none, and the call fails naming it once the others are written:
    an enrolment list built without its latest membership extract could enrol people already covered."""
    from rentan.exports.bpjs import export

    chosen = [branches] if isinstance(branches, str) else branches
    if not published.get("published", True):
        log.info("dry run: the marts were built and audited but not published; no export written")
        return {"branches": {}, "requested": chosen, "written": False}
    snapshot = dt.date.fromisoformat(published["snapshot"])
    # only tonight's packages of these branches: the earlier nights' stay on the store untouched
    packages = [f"exports/bpjs/{b}/{snapshot.isoformat()}" for b in chosen] if chosen else ["exports/bpjs"]
    sent = [f"warehouse/silver/sent/branch={b}" for b in chosen] if chosen else ["warehouse/silver/sent"]
    with workspace(("warehouse/silver", "warehouse/quarantine", "warehouse/_marts", *packages),
                   push=(*packages, *sent)) as paths:
        return export(paths, load_id=load_id, snapshot=snapshot, branches=chosen)
