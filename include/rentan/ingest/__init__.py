"""Ingest: every received file in the landing zone, once, into bronze, with its lineage.

Bronze keeps each file's rows as received: every cell as text in a ``fields`` map keyed by
the sender's own header, with the file, sheet, row number, file checksum and load id beside
it. A file that cannot be read is recorded in the ledger with the reason and the run goes on.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rentan.config import Config, load_config
from rentan.core.ledger import Ledger
from rentan.core.paths import DataPaths
from rentan.core.progress import track
from rentan.core.settings import data_paths
from rentan.ingest.batch import IngestReport, batches, ingest_batch
from rentan.ingest.bronze import BRONZE_SCHEMA, bronze_file, to_bronze
from rentan.ingest.guard import Reader
from rentan.ingest.landing import MISFILED, Landed, discover
from rentan.ingest.readers import sha256_of as _sha256_of

log = logging.getLogger(__name__)

__all__ = ["BRONZE_SCHEMA", "IngestReport", "Landed", "bronze_file", "discover", "ingest", "sha256_of", "to_bronze"]


def sha256_of(path: Path) -> str:
    return _sha256_of(path)


def ingest(
    paths: DataPaths | None = None,
    *,
    load_id: str,
    config: Config | None = None,
    areas: list[str] | None = None,
    sources: list[str] | None = None,
    unfiled: bool = False,
) -> IngestReport:
    """Load every new file under landing/ into bronze and record each in the ledger.

    ``areas`` limits the run to those area slugs (regencies or branches) and ``sources`` to those
    sources; files elsewhere are left for a later run, not recorded. ``unfiled`` records only the
    files no such run would take: those outside any configured source or area folder.
    """
    paths = paths or data_paths()
    config = config or load_config()
    if areas:
        known_areas = {a for source in config.sources for a in config.areas(source)}
        unknown = sorted(set(areas) - known_areas)
        if unknown:
            raise ValueError(f"unknown area(s) {unknown}; configured: {sorted(known_areas)}")
    report = IngestReport(load_id=load_id)
    with Ledger(paths.ledger_url) as ledger:
        known = ledger.known()
        first_by_content = dict(known.first_file_by_content)
        def wanted(i: Landed) -> bool:
            outside = i.problem is not None and i.problem.code in MISFILED
            if unfiled:
                return outside
            return (not areas or i.area in areas) and (not sources or i.source in sources)

        landed = [i for i in discover(paths, config) if wanted(i)]
        what = "ingest unfiled files" if unfiled else "ingest " + (
            ", ".join(f"{s}/{a}" for s in sources or ["*"] for a in areas or ["*"]) if sources or areas else "landing")
        # oldest first, so that of two identical deliveries the earlier one is loaded
        order = sorted(landed, key=lambda i: (i.stat.st_mtime_ns if i.stat else 0, i.rel))
        with Reader() as reader:
            for batch in batches(track(order, what, "files")):
                ingest_batch(batch, reader, ledger, known, first_by_content, report, paths, config, load_id)
    log.info("ingest %s: %s", load_id, report.as_dict())
    return report
