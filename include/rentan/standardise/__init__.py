"""Standardise and validate: bronze rows to typed silver, bad rows to quarantine with reasons.

For each source and area with files not yet standardised under the current rules:
headers mapped (``config/headers.yaml``), fields standardised (``sources.py``), the rows
validated with ``expectations/<source>.silver.json`` and a profile of each file with
``expectations/<source>.files.json``. A file breaking a blocking rule is held back whole;
every other row goes to silver or, with its reasons, to quarantine. Per file, rows in bronze
= rows in silver + rows in quarantine, checked on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import rentan
from rentan import lists as village_lists
from rentan.config import Config, load_config
from rentan.core.ledger import LOADED, Ledger, StandardisedFile, SubmissionList
from rentan.core.night import WIB
from rentan.core.paths import DataPaths
from rentan.core.settings import data_paths, side_by_side
from rentan.quality.validation import EXPECTATIONS_DIR, Validator
from rentan.standardise.bronze import HEADERS_FILE, LINEAGE, fields_of, flatten, read_bronze
from rentan.standardise.layers import (
    QUARANTINE_COLUMNS,
    Blocked,
    _by_row,
    held_back,
    quarantine_rows,
    silver_rows,
    write_layers,
)
from rentan.standardise.sources import STANDARDISERS, Context
from rentan.standardise.villages import VillageResolver

log = logging.getLogger(__name__)

# the stage's face, for the later stages
__all__ = ["QUARANTINE_COLUMNS", "Blocked", "ConservationError", "StandardiseReport", "check_conservation", "fields_of",
           "rules_version", "standardise"]


class ConservationError(RuntimeError):
    """Rows were lost or counted twice between bronze and silver + quarantine."""


def rules_version() -> str:
    """Changes when a suite, a header spelling, a village-name cut-off or the code changes: files
    are then redone."""
    p = load_config().programme
    h = hashlib.sha256(rentan.__version__.encode())
    h.update(f"{p.village_fuzzy_cutoff_in_district},{p.village_fuzzy_cutoff_in_regency}".encode())
    for f in [*sorted(EXPECTATIONS_DIR.glob("*.json")), HEADERS_FILE]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class StandardiseReport:
    load_id: str
    rules_version: str
    files: int = 0
    rows_in: dict = field(default_factory=lambda: defaultdict(int))
    rows_silver: dict = field(default_factory=lambda: defaultdict(int))
    rows_quarantine: dict = field(default_factory=lambda: defaultdict(int))
    reasons: dict = field(default_factory=lambda: defaultdict(int))
    blocked: list[Blocked] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    fix_lists: int = 0

    def as_dict(self) -> dict:
        key = lambda d: {f"{s}/{a}": n for (s, a), n in sorted(d.items())}  # noqa: E731
        return {
            "load_id": self.load_id, "rules_version": self.rules_version, "files": self.files,
            "rows_in": key(self.rows_in), "rows_silver": key(self.rows_silver),
            "rows_quarantine": key(self.rows_quarantine), "reasons": dict(sorted(self.reasons.items())),
            "blocked": [b.message() for b in self.blocked], "fix_lists": self.fix_lists,
        }


def _area_batch(source: str, area: str, entries: list, paths: DataPaths, ctx: Context, validator: Validator,
                load_id: str, report: StandardiseReport) -> tuple[list[StandardisedFile], list[SubmissionList]]:
    log.info("standardise %s/%s: reading %d files from bronze", source, area, len(entries))
    flat = flatten(read_bronze([paths.root / e.bronze_path for e in entries]), source)
    rows = flat.rows
    std = STANDARDISERS[source](rows, flat.numeric, ctx)
    frame = pd.concat([rows[["row_id", *LINEAGE]], std], axis=1)

    log.info("standardise %s/%s: validating %d rows with %s.silver", source, area, len(frame), source)
    checked = validator.validate(f"{source}.silver", area, frame)
    row_fail = _by_row(checked.of_level("row"), frame)
    warn = _by_row(checked.of_level("warning"), frame)
    blocked = held_back(source, area, flat, row_fail, validator)
    report.blocked.extend(blocked.values())

    # quarantine: every row of a held-back file, and the failing rows of the others
    failing = np.zeros(len(rows), dtype=bool)
    failing[row_fail.index.to_numpy(dtype=np.int64)] = True
    to_quarantine = rows["source_file"].isin(list(blocked)).to_numpy() | failing
    village_of_file = (frame.dropna(subset=["village_code"]).groupby("source_file")["village_code"]
                       .agg(lambda s: s.mode().iat[0])) if "village_code" in frame else pd.Series(dtype="string")
    q = quarantine_rows(source, ctx, flat, frame, row_fail, blocked, to_quarantine, village_of_file)
    silver = silver_rows(frame, to_quarantine, warn)
    for code, n in q["reason_code"].value_counts().items():
        report.reasons[code] += int(n)
    records = write_layers(paths, source, area, entries, silver, q, blocked, load_id, report.rules_version)
    report.rows_in[(source, area)] += len(rows)
    report.rows_silver[(source, area)] += len(silver)
    report.rows_quarantine[(source, area)] += len(q)
    report.files += len(entries)
    lists = _village_lists(entries, frame, village_of_file) if source == "submissions" else []
    return records, lists


def _village_lists(entries: list, frame: pd.DataFrame, village_of_file: pd.Series) -> list[SubmissionList]:
    """Whose list each submissions file is and for which year: the village most of its rows name
    (resolved to an official code), and the year most of its rows give in TAHUN, else the year
    (WIB) it was received. A later list of the same village and year supersedes it."""
    years = (frame.dropna(subset=["year"]).loc[lambda f: f["year"].between(2000, 2100)]
             .groupby("source_file")["year"].agg(lambda s: int(s.mode().iat[0])))
    out = []
    for e in entries:
        received = e.received_at if e.received_at.tzinfo else e.received_at.replace(tzinfo=dt.UTC)
        year = years.get(e.file)
        code = village_of_file.get(e.file)
        out.append(SubmissionList(
            sha256=e.sha256, file=e.file, area=e.area, village_code=None if pd.isna(code) else str(code),
            year=int(year) if year is not None else received.astimezone(WIB).year,
            year_from="rows" if year is not None else "received", rows=int(e.data_rows or 0), received_at=received))
    return out


def _rows_in(path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except FileNotFoundError:
        return 0


def check_conservation(paths: DataPaths, pending: dict[tuple[str, str], list]) -> list[tuple[str, int, int, int]]:
    """Files among ``pending`` ((source, area) -> ledger entries) whose bronze rows differ from
    their silver + quarantine rows. Each layer holds one file per received file, named by its
    content, so the counts come from those files' Parquet footers: only tonight's files are
    opened, however large the warehouse has grown."""
    jobs = [(e.sha256, paths.root / e.bronze_path,
             paths.layer("silver", source) / f"area={area}" / f"{e.sha256[:32]}.parquet",
             paths.layer("quarantine", source) / f"area={area}" / f"{e.sha256[:32]}.parquet")
            for (source, area), entries in pending.items() for e in entries]

    def count(job) -> tuple[str, int, int, int]:
        sha, *files = job
        return (sha, *(_rows_in(f) for f in files))

    with ThreadPoolExecutor(max_workers=side_by_side()) as pool:
        counts = list(pool.map(count, jobs))
    return [(sha, b, s, q) for sha, b, s, q in counts if b != s + q]


def standardise(
    paths: DataPaths | None = None,
    *,
    load_id: str,
    today: dt.date | None = None,
    config: Config | None = None,
    areas: list[str] | None = None,
    sources: list[str] | None = None,
) -> StandardiseReport:
    paths = paths or data_paths()
    config = config or load_config()
    today = today or dt.date.today()
    version = rules_version()
    report = StandardiseReport(load_id=load_id, rules_version=version)
    with Ledger(paths.ledger_url) as ledger:
        done = ledger.standardised(version)
        pending: dict[tuple[str, str], list] = defaultdict(list)
        for e in ledger.entries():
            if (e.status == LOADED and e.sha256 not in done and (not areas or e.area in areas)
                    and (not sources or e.source in sources)):
                pending[(e.source, e.area)].append(e)
        validator: Validator | None = None  # made with the first batch: GX takes seconds to import
        for (source, area), entries in sorted(pending.items()):
            regency = config.regencies.get(area) if config.sources[source] == "regency" else None
            branch = config.branches.get(area) if config.sources[source] == "branch" else None
            cutoffs = (config.programme.village_fuzzy_cutoff_in_district, config.programme.village_fuzzy_cutoff_in_regency)
            ctx = Context(today=today, regency=regency,
                          resolver=VillageResolver(regency.code, cutoffs) if regency else None,
                          branch_resolvers=[VillageResolver(config.regencies[r].code, cutoffs) for r in branch.regencies]
                          if branch and source == "membership" else [])
            validator = validator or Validator(paths.root / "gx")
            records, lists = _area_batch(source, area, entries, paths, ctx, validator, load_id, report)
            ledger.record_all(records)
            if lists:
                ledger.record_lists(lists)
                village_lists.record(paths, ledger, config.programme.revision_share)
            log.info("standardised %s/%s: %d files", source, area, len(entries))
        broken = check_conservation(paths, pending)
        if broken:
            raise ConservationError(
                "row conservation broken (bronze != silver + quarantine) for files with sha256 "
                + ", ".join(f"{sha[:12]} ({b} != {s} + {q})" for sha, b, s, q in broken))
        # the regencies whose villages get fix-lists tonight (rentan.exports.desa writes them)
        report.submitted = sorted({area for source, area in pending if source == "submissions"})
    log.info("standardise %s: %s", load_id, {k: v for k, v in report.as_dict().items() if k != "blocked"})
    return report
