"""The nightly load's stages as plain functions: what each DAG task calls.

Each returns a small JSON-able summary (it travels through XCom; data never does). Each works in
``storage.workspace``: on local disk the data root itself; on object storage a private checkout of
the prefixes the stage reads, whose changes go back to the store when the stage succeeds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from rentan.ingest import ingest
from rentan.settings import WIB, data_paths
from rentan.storage import workspace

log = logging.getLogger(__name__)


# what each stage reads and writes, as prefixes of the data root
LAYERS_LOADED = ("warehouse/bronze", "warehouse/silver", "warehouse/quarantine", "exports/desa", "gx")
SILVER = ("warehouse/silver",)
MARTS_READ = ("warehouse/silver", "warehouse/quarantine", "warehouse/_marts", "gx")
MARTS_WRITE = ("warehouse/_marts", "gx", "reports")


@contextlib.contextmanager
def _ledger():
    from rentan.ingest.ledger import Ledger

    ledger = Ledger(data_paths().ledger_url)
    try:
        yield ledger
    finally:
        ledger.dispose()


def plan(areas: list[str] | None = None) -> dict:
    """What tonight's mapped tasks run over: each source's areas and the branches, all from
    configuration (a new regency is a new entry there), limited to ``areas`` when given."""
    from rentan.config import load_config

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
    # the ledger's tables are made here, once, before the mapped loads open it side by side
    # (concurrent CREATE TABLE on PostgreSQL can fail)
    with _ledger():
        pass
    return {
        "sources": {s: [a for a in config.areas(s) if a in wanted] for s in config.sources},
        "branches": [b for b in config.branches if b in wanted],
    }


def run_load(load_id: str, source: str, area: str, snapshot: dt.date) -> dict:
    """Ingest then standardise one source of one regency or branch: what a mapped task does, so
    that one broken area fails alone."""
    from rentan.standardise import standardise

    with _ledger() as ledger:
        try:
            with workspace((f"landing/{source}/{area}", *LAYERS_LOADED), push=LAYERS_LOADED) as paths:
                ingested = ingest(paths, load_id=load_id, areas=[area], sources=[source]).as_dict()
                report = standardise(paths, load_id=load_id, today=snapshot, areas=[area], sources=[source]).as_dict()
        except Exception as e:
            # the exports of this night must know that this area did not load (see run_exports)
            ledger.load_failed(load_id, source, area, type(e).__name__)
            raise
        ledger.load_succeeded(load_id, source, area)
    return {"source": source, "area": area, "rows_loaded": ingested["rows_loaded"],
            "files_loaded": ingested["loaded"], "blocked": report["blocked"]}


def failed_loads(load_id: str) -> list[tuple[str, str]]:
    with _ledger() as ledger:
        return ledger.failed_loads(load_id)


def run_unfiled(load_id: str) -> dict:
    """Record the files left outside any source or area folder, each with its reason."""
    with workspace(("landing",), push=()) as paths:
        return ingest(paths, load_id=load_id, unfiled=True).as_dict()


def validation_gate_for(load_id: str) -> dict:
    """Fails, naming each file this run held back, its rule and counts; the rest has gone on."""
    from sqlalchemy import select

    from rentan.ingest.ledger import StandardisedFile
    from rentan.standardise import gate

    with _ledger() as ledger, ledger.session() as s:
        blocked = [r.block_reason for r in s.scalars(select(StandardisedFile).where(
            StandardisedFile.load_id == load_id, StandardisedFile.blocked.is_(True)).order_by(StandardisedFile.file))]
    gate({"blocked": blocked})
    return {"blocked": 0}


def snapshot_date(param: str | None, data_interval_end=None, logical_date=None) -> dt.date:
    """The day a run describes: the param if given, else the end of its data interval in WIB
    (a manual run in Airflow 3 may have neither interval nor logical date: then today)."""
    if param:
        return dt.date.fromisoformat(param)
    when = data_interval_end or logical_date
    if when is None:
        return dt.datetime.now(WIB).date()
    return when.astimezone(WIB).date()


def cutoff(param: str | None, data_interval_end=None, logical_date=None) -> dt.datetime:
    """What a run may see: the files received before this moment. A night given its date sees its
    whole day; a scheduled run sees what had arrived when it was due (its data interval's end), so
    rerunning it later, once more files have come in, gives the same night again."""
    from rentan.settings import snapshot_cutoff

    end_of_day = snapshot_cutoff(snapshot_date(param, data_interval_end, logical_date))
    when = None if param else (data_interval_end or logical_date)
    return min(end_of_day, when) if when is not None else end_of_day


def run_identity(load_id: str, snapshot: dt.date, as_of: dt.datetime | None = None) -> dict:
    from rentan.identity import resolve

    with workspace(SILVER) as paths:
        return resolve(paths, load_id=load_id, snapshot=snapshot, cutoff=as_of)


def run_marts(load_id: str, snapshot: dt.date, dry_run: bool = False, as_of: dt.datetime | None = None) -> dict:
    from rentan.marts import load

    with workspace(MARTS_READ, push=MARTS_WRITE) as paths:
        report = load(paths, load_id=load_id, snapshot=snapshot, publish=not dry_run, cutoff=as_of)
    return {**report, "cutoff": as_of.isoformat() if as_of else None}


def run_exports(load_id: str, published: dict, branch: str | None = None) -> dict:
    """The package of one branch (or all) for the snapshot the marts task published."""
    from rentan.exports.bpjs import export

    if not published.get("published", True):
        log.info("dry run: the marts were built and audited but not published; no export written")
        return {"branch": branch, "written": False}
    from rentan.config import load_config

    config = load_config()
    serves = {branch, *config.branches[branch].regencies} if branch else None
    broken = [(s, a) for s, a in failed_loads(load_id) if serves is None or a in serves]
    if broken:
        # an enrolment list built without tonight's membership extract could enrol people already
        # covered: hold the package back until the load is fixed and the night rerun
        raise RuntimeError("no package written: this run could not load " + ", ".join(
            f"{s} of {a}" for s, a in broken) + "; fix that load (see its task) and rerun the night")
    as_of = dt.datetime.fromisoformat(published["cutoff"]) if published.get("cutoff") else None
    snapshot = dt.date.fromisoformat(published["snapshot"])
    # only tonight's package of this branch: the earlier nights' stay on the store untouched
    package = f"exports/bpjs/{branch}/{snapshot.isoformat()}" if branch else "exports/bpjs"
    with workspace(("warehouse/silver", "warehouse/quarantine", "warehouse/_marts", package), push=(package,)) as paths:
        return export(paths, load_id=load_id, snapshot=snapshot, branches=[branch] if branch else None, cutoff=as_of)
