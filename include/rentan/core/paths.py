"""Where rentan keeps its data, as set by the environment.

Everything lives below one data root, ``RENTAN_DATA`` (default ``<repo>/data``):

- ``landing/<source>/<area>/...``   received files, as they came (never modified)
- ``warehouse/<layer>/<table>/``     Parquet: bronze, silver, quarantine, marts
- ``exports/``                       packages for villages and BPJS branches
- ``reports/quality/``               the night's data-quality report (HTML, offline)
- ``truth/``                         the sample generator's ground truth (never read by the pipeline)
- ``work/``                          work in progress; moved into place only when complete
- ``ledger.sqlite``                  the ingestion ledger (``RENTAN_LEDGER_URL`` for any SQLAlchemy URL)

``RENTAN_DATA`` may also be an object-storage URL (``s3://bucket/rentan``): see ``rentan.core.storage``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

# what arrives, each in its own folder of the landing zone (landing/<source>/<area>/); the
# configuration says which are filed by regency and which by branch
SOURCES = ("submissions", "membership", "claims", "budget")
LAYERS = ("bronze", "silver", "quarantine", "marts")
# identity's outputs, kept per snapshot under silver/identity/<date>/ (and the last night run's
# also at silver/<table>/): a night's marts and exports read their own night's
IDENTITY_TABLES = ("persons", "record_persons", "enrolment_candidates", "review_queue")


@dataclass(frozen=True)
class DataPaths:
    root: Path
    # the object-storage URL this is a local checkout of, if any
    remote: str | None = None

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def layer(self, layer: str, table: str) -> Path:
        if layer not in LAYERS:
            raise ValueError(f"unknown warehouse layer {layer!r}; expected one of {LAYERS}")
        return self.warehouse / layer / table

    def parquet_glob(self, layer: str, table: str) -> str | None:
        """A glob over every Parquet file of a warehouse table, or None while it has none."""
        base = self.layer(layer, table)
        return (base / "**" / "*.parquet").as_posix() if base.exists() and any(base.rglob("*.parquet")) else None

    def identity_dir(self, snapshot: dt.date) -> Path:
        return self.warehouse / "silver" / "identity" / snapshot.isoformat()

    def identity_glob(self, table: str, snapshot: dt.date) -> str | None:
        """A glob over identity's ``table`` as resolved for ``snapshot``, or None if it has none."""
        base = self.identity_dir(snapshot) / table
        return (base / "**" / "*.parquet").as_posix() if base.exists() and any(base.rglob("*.parquet")) else None

    @property
    def quality_reports(self) -> Path:
        return self.root / "reports" / "quality"

    def quality_report(self, snapshot: dt.date) -> Path:
        """The night's data-quality report (HTML, offline)."""
        return self.quality_reports / f"quality_{snapshot.isoformat()}.html"

    @property
    def ledger_url(self) -> str:
        url = os.environ.get("RENTAN_LEDGER_URL")
        if url:
            return url
        if self.remote:
            # a SQLite file in one task's checkout would be a different ledger for every task
            raise RuntimeError(f"RENTAN_DATA is on object storage ({self.remote}): the ingestion ledger must be "
                               "a database every worker reaches; set RENTAN_LEDGER_URL "
                               "(e.g. postgresql+psycopg://user:password@host/rentan)")
        return f"sqlite:///{self.root / 'ledger.sqlite'}"


def safe_name(text: str) -> str:
    """A run id (``scheduled__2025-06-30T18:00:00+00:00``) as a file or folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)
