"""The marts: coverage, claims and budget for analysts, published whole or not at all.

``load(paths, load_id, snapshot)`` computes every mart of the snapshot in DuckDB
(:mod:`rentan.marts.build`), writes them to staging outside ``warehouse/marts``, audits them
with the gold Great Expectations suites (``expectations/<mart>.gold.json``), and only then
publishes them (:mod:`rentan.marts.publish`) and refreshes the analysts' database
``warehouse/rentan.duckdb`` (:mod:`rentan.marts.views`); the night's quality report
(:mod:`rentan.quality_report`) is written after them (``rentan.pipeline.marts_night``). An audit
failure publishes nothing and names the mart, rule and count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rentan.core.paths import DataPaths, safe_name
from rentan.core.settings import data_paths
from rentan.marts.names import MARTS

if TYPE_CHECKING:
    from rentan.config import Config

# the heavy imports (pandas, the identity stage) are made where they are used: importing
# rentan.marts.views for a quick `rentan query` must not pay for them
log = logging.getLogger(__name__)


class AuditFailed(RuntimeError):
    """The night's marts broke a gold rule: nothing was published."""


@dataclass
class Failure:
    mart: str
    rule: str
    description: str
    unexpected: int | None

    def __str__(self) -> str:
        n = f" ({self.unexpected:,} rows)" if self.unexpected else ""
        return f"{self.mart}: {self.rule}: {self.description}{n}"


def audit(staging, snapshot: dt.date, gx_root) -> list[Failure]:
    """Every gold rule each staged mart breaks (none: it may be published)."""
    import pandas as pd

    from rentan.quality.validation import Validator

    validator = Validator(gx_root)
    failures = []
    for mart in MARTS:
        frame = pd.read_parquet(staging / mart)
        failures += [Failure(mart, *f) for f in validator.check(f"{mart}.gold", snapshot.isoformat(), frame)]
    return failures


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _incomplete(staging) -> dict[str, str]:
    """Branch -> why its night is incomplete, for the branches whose night is."""
    import pandas as pd

    frame = pd.read_parquet(staging / "completeness")
    return {r.branch: r.incomplete_reason for r in frame.itertuples() if not r.complete}


KEPT = "AUDIT_FAILED"  # a staging folder kept for inspection says why


STALE_SECONDS = 24 * 3600  # longer than a night may run (its run timeout): no run can still own it


def _sweep(folder) -> None:
    """Remove the work folders of marts runs that were killed before they could clean up: this
    machine's whose process is gone, another machine's (a shared data root) once stale. A folder
    kept after a failed audit stays until its night publishes."""
    from rentan.core.files import process_alive

    if not folder.is_dir():
        return
    here, now = socket.gethostname(), time.time()
    for d in folder.iterdir():
        host, _, pid = d.name[len("YYYY-MM-DD-"):].rpartition("-")
        if not d.is_dir() or not pid.isdigit() or (d / KEPT).exists():
            continue
        gone = not process_alive(int(pid)) if host in ("", here) else now - d.stat().st_mtime > STALE_SECONDS
        if gone:
            log.info("removing the work folder of an interrupted marts run: %s", d.name)
            shutil.rmtree(d, ignore_errors=True)


def load(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date, config: Config | None = None,
         publish: bool = True, cutoff: dt.datetime | None = None) -> dict:
    """Build, audit and (unless ``publish`` is false: a dry run) publish the marts of ``snapshot``."""
    from rentan.config import load_config
    from rentan.core.db import connect
    from rentan.identity import secret
    from rentan.marts import build, views
    from rentan.marts import publish as publishing

    paths = paths or data_paths()
    config = config or load_config()
    build_id = safe_name(load_id)[:80]
    work = paths.work / "marts" / f"{snapshot.isoformat()}-{socket.gethostname()}-{os.getpid()}"
    _sweep(work.parent)
    shutil.rmtree(work, ignore_errors=True)
    staging = work / "staging"
    staging.mkdir(parents=True)
    con = connect(work)
    log.info("marts %s: building %d marts in DuckDB", snapshot, len(MARTS))
    try:
        build.build(con, paths, config, snapshot, secret(), cutoff, load_id=load_id)
        counts = build.write(con, staging)
    finally:
        con.close()
    log.info("marts %s: auditing them with the gold suites", snapshot)
    failures = audit(staging, snapshot, paths.root / "gx")
    if failures:
        (work / KEPT).write_text("\n".join(map(str, failures)) + "\n")
        raise AuditFailed(f"the marts of {snapshot} were not published; {len(failures)} gold rule(s) broken:\n  "
                          + "\n  ".join(map(str, failures)) + f"\nstaged files kept for inspection in {staging}")
    files = {f"{m}/{p.name}": {"rows": counts[m], "sha256": _sha256(p)}
             for m in MARTS for p in sorted((staging / m).glob("*.parquet"))}
    incomplete = _incomplete(staging)
    if incomplete:
        # the night still publishes (what is known is worth seeing), marked: the branch gets no package
        log.warning("marts %s: incomplete for %s", snapshot, "; ".join(f"{b}: {r}" for b, r in incomplete.items()))
    if not publish:
        shutil.rmtree(work, ignore_errors=True)
        log.info("marts %s built and audited, not published (dry run): %s", snapshot, counts)
        return {"load_id": load_id, "snapshot": snapshot.isoformat(), "published": False, "rows": counts,
                "incomplete": incomplete}
    log.info("marts %s: publishing", snapshot)
    version = publishing.publish(paths.warehouse, staging, snapshot, build_id, {"load_id": load_id, "files": files})
    db = views.refresh(paths.warehouse)
    shutil.rmtree(work, ignore_errors=True)
    for kept in work.parent.glob(f"{snapshot.isoformat()}-*"):  # failed audits of this night, now superseded
        shutil.rmtree(kept, ignore_errors=True)
    report = {"load_id": load_id, "snapshot": snapshot.isoformat(), "published": True,
              "version": version.name, "rows": counts, "database": str(db),
              "incomplete": incomplete}
    log.info("marts %s published: %s", snapshot, counts)
    return report
