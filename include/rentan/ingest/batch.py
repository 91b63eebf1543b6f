"""One batch of landed files through ingest: hashed and read side by side in the guarded readers,
checked against the ledger (a content already loaded is a duplicate delivery), then claimed in one
transaction and written to bronze."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from rentan.config import Config
from rentan.core.ledger import DUPLICATE, IGNORED, LOADED, UNREADABLE, IngestedFile, Ledger
from rentan.core.masking import mask_digits
from rentan.core.paths import DataPaths
from rentan.ingest.bronze import bronze_file, write_bronze
from rentan.ingest.errors import UnreadableFile
from rentan.ingest.fit import Misfiled, misfiled_many
from rentan.ingest.guard import Reader
from rentan.ingest.landing import Landed, unread, unread_key
from rentan.ingest.readers import Table

log = logging.getLogger("rentan.ingest")


@dataclass
class IngestReport:
    load_id: str
    files_seen: int = 0
    already_known: int = 0
    loaded: int = 0
    duplicates: int = 0
    unreadable: int = 0
    ignored: int = 0
    rows: Counter = field(default_factory=Counter)  # (source, area) -> rows loaded

    def as_dict(self) -> dict:
        return {
            "load_id": self.load_id,
            "files_seen": self.files_seen,
            "already_known": self.already_known,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "unreadable": self.unreadable,
            "ignored": self.ignored,
            "rows_loaded": sum(self.rows.values()),
            "rows": {f"{s}/{a}": n for (s, a), n in sorted(self.rows.items())},
        }


def _duplicate(entry: IngestedFile, of: str) -> None:
    entry.status = DUPLICATE
    entry.duplicate_of = of
    entry.reason_code = "same_content"
    entry.reason = f"Same content as {of}, already received; not loaded again."
    entry.alasan = f"Isi berkas sama dengan {of} yang sudah diterima; tidak dimuat ulang."


def _elsewhere(holder: str, item: Landed, config: Config) -> bool:
    """A content already held by a file of another regency's folder: this copy is read, so that
    a misfiled one is recorded as misfiled, whichever of the two was loaded first."""
    parts = holder.split("/")
    return (config.sources.get(item.source) == "regency" and len(parts) > 2 and parts[0] == item.source
            and parts[1] != item.area)


def _misfiled(item: Landed, wrong: Misfiled, config: Config) -> UnreadableFile:
    right = config.regencies[wrong.regency]
    here = config.regencies[item.area]
    return UnreadableFile(
        "misfiled_regency",
        f"{wrong.rows} of {wrong.of_rows} rows of this file belong to {right.name} (their NIKs, village codes "
        f"or names), but it lies in the folder of {here.name}; move it to landing/{item.source}/{right.slug}/.",
        f"{wrong.rows} dari {wrong.of_rows} baris berkas ini milik {right.name}, tetapi berkas diletakkan di "
        f"folder {here.name}; pindahkan ke landing/{item.source}/{right.slug}/.",
    )


BATCH_FILES = 512


BATCH_BYTES = 256 << 20


def batches(items):
    """The landed files in batches of at most BATCH_FILES files and BATCH_BYTES bytes (a large
    extract is a batch of its own): what is read side by side and recorded in one transaction."""
    batch, size = [], 0
    for item in items:
        n = item.stat.st_size if item.stat else 0
        if batch and (len(batch) >= BATCH_FILES or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


def ingest_batch(batch: list[Landed], reader: Reader, ledger: Ledger, known, first_by_content: dict[str, str],
                 report: IngestReport, paths: DataPaths, config: Config, load_id: str) -> None:
    """Landed paths into bronze, or into the ledger with the reason they are not. The per-file work
    (hash, read, write) runs side by side; the checks over the files' rows run once per folder of
    the batch; the ledger takes the batch's claims and its records in one transaction each."""
    report.files_seen += len(batch)
    sha_of = _content_keys(batch, reader)
    new = [i for i in batch if (i.rel, sha_of[i.rel]) not in known.by_path_and_content]
    report.already_known += len(batch) - len(new)

    def holder_of(item: Landed) -> str | None:
        """The file already holding this content, when that makes this copy a duplicate."""
        sha = sha_of[item.rel]
        holder = None if sha.startswith("unread-") else first_by_content.get(sha)
        return holder if holder is not None and holder != item.rel and not _elsewhere(holder, item, config) else None

    # one read per content: two copies in one batch are one file to read
    wanted: dict[str, Path] = {}
    for item in new:
        if item.problem is None and holder_of(item) is None:
            wanted.setdefault(sha_of[item.rel], item.path)
    tables = dict(zip(wanted, reader.map("read", list(wanted.values()))))
    wrong = _misfits(new, sha_of, tables, config)
    now = dt.datetime.now(dt.UTC)
    entries = [_entry(item, sha_of[item.rel], load_id, now) for item in new]
    claiming = []
    for item, entry in zip(new, entries):
        table = _judged(item, entry, holder_of(item), tables, wrong.get(item.rel), report, config)
        if table is not None:
            # this copy loads unless the ledger says a file loaded beside it took the content first;
            # a later copy in this batch is a duplicate of it
            first_by_content[entry.sha256] = item.rel
            claiming.append((item, entry, table))
    loading = _claimed(claiming, entries, ledger, load_id, first_by_content, report)
    write_bronze(loading, paths, load_id, now, reader.processes)
    for item, entry, table in loading:
        _loaded(item, entry, table, paths, report)
    ledger.record_all(entries)


def _judged(item: Landed, entry: IngestedFile, holder: str | None, tables: dict, misfit: Misfiled | None,
            report: IngestReport, config: Config) -> Table | None:
    """The file's table if it is to load; else its entry says why not (a duplicate, unreadable, misfiled)."""
    if holder is not None:
        _duplicate(entry, holder)
        report.duplicates += 1
        log.info("duplicate delivery %s (same content as %s)", mask_digits(item.rel), mask_digits(holder))
        return None
    problem, table = item.problem, None
    if problem is None:
        ok, value = tables[entry.sha256]
        problem, table = (None, value) if ok else (value, None)
        if problem is None and misfit is not None:
            problem = _misfiled(item, misfit, config)
    if problem is not None:
        _refused(entry, problem, report, item)
        return None
    return cast(Table, table)


def _claimed(claiming: list[tuple[Landed, IngestedFile, Table]], entries: list[IngestedFile], ledger: Ledger,
             load_id: str, first_by_content: dict[str, str], report: IngestReport) -> list:
    """What this task loads: the ledger, not this task's view of it, decides who loads a content."""
    holders = ledger.claim_all([(e.sha256, i.rel, i.source, i.area) for i, e, _ in claiming], load_id)
    lost: dict[str, str] = {}
    loading = []
    for item, entry, table in claiming:
        holder = holders[entry.sha256]
        if holder != item.rel:
            first_by_content[entry.sha256] = lost[item.rel] = holder
            _duplicate(entry, holder)
            report.duplicates += 1
            log.info("duplicate delivery %s (same content as %s, loaded beside it)", mask_digits(item.rel),
                     mask_digits(holder))
        else:
            loading.append((item, entry, table))
    for entry in entries:
        if entry.duplicate_of in lost:
            _duplicate(entry, lost[entry.duplicate_of])
    return loading


def _loaded(item: Landed, entry: IngestedFile, table: Table, paths: DataPaths, report: IngestReport) -> None:
    entry.status = LOADED
    entry.sheet, entry.header_row, entry.data_rows = table.sheet, table.header_row, table.n_rows
    entry.bronze_path = bronze_file(paths, item.source, item.area, entry.sha256).relative_to(paths.root).as_posix()
    if table.warnings:
        entry.warnings = "; ".join(table.warnings)
        log.info("file %s loaded with warnings: %s", mask_digits(item.rel), mask_digits(entry.warnings))
    report.loaded += 1
    report.rows[(item.source, item.area)] += table.n_rows


def _content_keys(batch: list[Landed], reader: Reader) -> dict[str, str]:
    """Each path's ledger key: its content's SHA-256, or for a path not read, one made from the path."""
    hashed = [i for i in batch if not unread(i)]
    shas = {}
    for item, (ok, value) in zip(hashed, reader.map("sha256", [i.path for i in hashed])):
        if ok:
            shas[item.rel] = value
        else:  # gone, forbidden or hanging since the folder was listed
            item.problem = value
    return {i.rel: shas[i.rel] if i.rel in shas else unread_key(i) for i in batch}


def _misfits(items: list[Landed], sha_of: dict[str, str], tables: dict, config: Config) -> dict[str, Misfiled | None]:
    """Whether each read file belongs to another regency than its folder's, one pass per folder."""
    by_folder: dict[tuple[str, str], list[Landed]] = {}
    for item in items:
        got = tables.get(sha_of[item.rel])
        if item.problem is None and got is not None and got[0]:
            by_folder.setdefault((item.source, item.area), []).append(item)
    out = {}
    for (source, area), group in by_folder.items():
        found = misfiled_many([tables[sha_of[i.rel]][1] for i in group], source, area, config)
        out.update({i.rel: w for i, w in zip(group, found)})
    return out


def _entry(item: Landed, sha: str, load_id: str, now: dt.datetime) -> IngestedFile:
    st = item.stat
    return IngestedFile(
        load_id=load_id, source=item.source, area=item.area, file=item.rel, sha256=sha,
        size_bytes=st.st_size if st else 0,
        received_at=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC) if st else now,
        ingested_at=now,
    )


def _refused(entry: IngestedFile, bad: UnreadableFile, report: IngestReport, item: Landed) -> None:
    entry.status = IGNORED if bad.code == "ignored" else UNREADABLE
    entry.reason_code, entry.reason, entry.alasan = bad.code, bad.reason, bad.alasan
    if entry.status == UNREADABLE:
        report.unreadable += 1
        log.warning("unreadable file %s: %s", mask_digits(item.rel), mask_digits(bad.reason))
    else:
        report.ignored += 1
