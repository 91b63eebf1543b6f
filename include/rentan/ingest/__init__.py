"""Ingest: every received file in the landing zone, once, into bronze, with its lineage.

Bronze keeps each file's rows as received: every cell as text in a ``fields`` map keyed by
the sender's own header, with the file, sheet, row number, file checksum and load id beside
it. A file that cannot be read is recorded in the ledger with the reason and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import stat
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rentan.config import Config, load_config
from rentan.core.ledger import DUPLICATE, IGNORED, LOADED, UNREADABLE, IngestedFile, Ledger
from rentan.core.masking import mask_digits
from rentan.core.paths import DataPaths
from rentan.core.progress import track
from rentan.core.settings import data_paths
from rentan.ingest.errors import UnreadableFile
from rentan.ingest.fit import Misfiled, misfiled_many
from rentan.ingest.guard import Reader, os_error
from rentan.ingest.readers import Table
from rentan.ingest.readers import sha256_of as _sha256_of

log = logging.getLogger(__name__)

BRONZE_SCHEMA = pa.schema(
    [
        pa.field("load_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("sheet", pa.string(), nullable=False),
        pa.field("row_number", pa.int32(), nullable=False),
        pa.field("file_sha256", pa.string(), nullable=False),
        pa.field("fields", pa.map_(pa.string(), pa.string())),
        pa.field("numeric_fields", pa.list_(pa.string())),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass
class Landed:
    """A file found in the landing zone."""

    path: Path
    rel: str
    source: str
    area: str
    problem: UnreadableFile | None = None
    stat: os.stat_result | None = None


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


MISFILED = ("unknown_source", "no_area_folder", "unknown_area")  # what load_unfiled records
# paths never opened: their ledger key is made from the path and its status, not its content
UNREAD = ("ignored", "symlink_invalid", "symlink_outside", "not_regular_file", "vanished", "permission_denied",
          "read_failed")


def _folder_problem(item: Landed, config: Config) -> UnreadableFile | None:
    source, area = item.source, item.area
    if source not in config.sources:
        return UnreadableFile(
            "unknown_source",
            f"Folder landing/{source}/ is not a known source; expected one of {sorted(config.sources)}.",
            f"Folder landing/{source}/ bukan sumber data yang dikenal.",
        )
    if not area:
        return UnreadableFile(
            "no_area_folder",
            f"The file lies directly in landing/{source}/; put it in the folder of its "
            f"{config.sources[source]} (one of {config.areas(source)}).",
            f"Berkas harus diletakkan di folder wilayahnya di bawah landing/{source}/.",
        )
    if area not in config.areas(source):
        return UnreadableFile(
            "unknown_area",
            f"Folder {area!r} is not a configured {config.sources[source]} for {source}; "
            f"expected one of {config.areas(source)}.",
            f"Folder {area!r} bukan wilayah yang terdaftar untuk {source}.",
        )
    return None


def _boundary_problem(path: Path, root: Path, name: str) -> tuple[UnreadableFile | None, os.stat_result | None]:
    """Whether a path may be read: only regular files inside the landing zone are. The path's own
    status (lstat) is what decides, so a link is judged before anything follows it."""
    if name.startswith((".", "~$")):
        what = "an Excel lock file (~$...)" if name.startswith("~$") else "a hidden file (its name starts with a dot)"
        return UnreadableFile("ignored", f"Not read: {what}, left by an editor or the operating system.",
                              "Tidak dibaca: berkas tersembunyi atau berkas kunci Excel."), None
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                return UnreadableFile("symlink_invalid", "A link whose target does not exist (or links to "
                                      "itself); put the file itself in the folder.",
                                      "Tautan yang tujuannya tidak ada; letakkan berkasnya sendiri di folder."), st
            if not target.is_relative_to(root.resolve()):
                return UnreadableFile("symlink_outside", "A link to a file outside the landing zone; it is not "
                                      "followed. Copy the file itself into the folder.",
                                      "Tautan ke berkas di luar folder penerimaan tidak diikuti; salin berkasnya "
                                      "ke folder."), st
            st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return UnreadableFile("not_regular_file", "Not a regular file (a pipe, a device, a socket or a "
                                  "linked folder); only files are read.",
                                  "Bukan berkas biasa; hanya berkas yang dibaca."), st
        return None, st
    except OSError as exc:
        return os_error(exc), None


def discover(paths: DataPaths, config: Config) -> list[Landed]:
    """Every file under landing/, with the source and area its folder says, in a stable order.
    Links are not followed into folders; what may not be read carries its problem."""
    found: list[Landed] = []
    root = paths.landing
    if not root.exists():
        return found

    def walk_error(exc: OSError) -> None:  # a folder that cannot be listed is a delivery we cannot see
        if exc.filename:
            p = Path(exc.filename)
            rel = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name
            parts = rel.split("/")
            item = Landed(p, rel, parts[0], parts[1] if len(parts) > 2 else "")
            item.problem = _folder_problem(item, config) or os_error(exc)
            found.append(item)

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        # a linked folder shows as a folder here: it is recorded like a file, never entered
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in linked)
        for name in sorted(filenames + linked):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            parts = rel.split("/")
            source, area = ([*parts, "", ""])[:2]
            item = Landed(path, rel, source, area if len(parts) > 2 else "")
            folder = _folder_problem(item, config)
            boundary, item.stat = _boundary_problem(path, root, name)
            if folder is not None and boundary is not None:
                # outside any area, and not readable either: load_unfiled records it with both words
                folder = UnreadableFile(folder.code, f"{folder.reason} {boundary.reason}",
                                        f"{folder.alasan} {boundary.alasan}")
            item.problem = folder or boundary
            found.append(item)
    return found


def _unread_key(item: Landed) -> str:
    """The ledger's content key for a path that is not read (a link, a pipe, a dot-file): the same
    path in the same state is recorded once, not every night."""
    st = item.stat
    seed = f"{item.rel}\0{item.problem.code if item.problem else ''}\0{st.st_size if st else ''}\0{st.st_mtime_ns if st else ''}"
    return "unread-" + hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:57]


def sha256_of(path: Path) -> str:
    return _sha256_of(path)


def to_bronze(table: Table, *, load_id: str, rel: str, sha: str, ingested_at: dt.datetime) -> pa.Table:
    """Arrow table of a file's rows; cells keyed by the sender's header, in the sender's order."""
    n, k = table.n_rows, len(table.header)
    # row-major cells: row i holds header[0..k) -> columns[0..k)[i]
    values = np.empty((k, n), dtype=object)
    for j, col in enumerate(table.columns):
        values[j, :] = col
    keys = pa.array(np.tile(np.array(table.header, dtype=object), n), type=pa.string())
    items = pa.array(values.T.reshape(-1), type=pa.string())
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    fields = pa.MapArray.from_arrays(offsets, keys, items)

    if table.numeric:
        mask = np.array(table.numeric, dtype=bool).T  # rows x columns
        header = np.array(table.header, dtype=object)
        num_values = pa.array(np.tile(header, n)[mask.reshape(-1)], type=pa.string())
        num_offsets = pa.array(np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32))
        numeric = pa.ListArray.from_arrays(num_offsets, num_values)
    else:
        numeric = pa.array([[]] * n, type=pa.list_(pa.string()))

    return pa.Table.from_arrays(
        [
            pa.array([load_id] * n, pa.string()),
            pa.array([rel] * n, pa.string()),
            pa.array([table.sheet] * n, pa.string()),
            pa.array(table.row_numbers, pa.int32()),
            pa.array([sha] * n, pa.string()),
            fields,
            numeric,
            pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
        ],
        schema=BRONZE_SCHEMA,
    )


def bronze_file(paths: DataPaths, source: str, area: str, sha: str) -> Path:
    # named by content: a re-run after a crash rewrites the same file, never a second copy
    return paths.layer("bronze", source) / f"area={area}" / f"{sha[:32]}.parquet"


def _write_atomically(tbl: pa.Table, target: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"{target.stem}.{os.getpid()}.parquet"
    pq.write_table(tbl, tmp, compression="zstd")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


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
    ledger = Ledger(paths.ledger_url)
    report = IngestReport(load_id=load_id)
    try:
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
            for batch in _batches(track(order, what, "files")):
                _ingest_batch(batch, reader, ledger, known, first_by_content, report, paths, config, load_id)
    finally:
        ledger.dispose()
    log.info("ingest %s: %s", load_id, report.as_dict())
    return report


BATCH_FILES = 512
BATCH_BYTES = 256 << 20


def _batches(items):
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


def _unread(item: Landed) -> bool:
    return item.problem is not None and item.problem.code in UNREAD


def _ingest_batch(batch: list[Landed], reader: Reader, ledger: Ledger, known, first_by_content: dict[str, str],
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
    entries: list[IngestedFile] = []
    claiming: list[tuple[Landed, IngestedFile, Table]] = []
    for item in new:
        entry = _entry(item, sha_of[item.rel], load_id, now)
        entries.append(entry)
        holder = holder_of(item)
        if holder is not None:
            _duplicate(entry, holder)
            report.duplicates += 1
            log.info("duplicate delivery %s (same content as %s)", mask_digits(item.rel), mask_digits(holder))
            continue
        problem, table = item.problem, None
        if problem is None:
            ok, value = tables[entry.sha256]
            problem, table = (None, value) if ok else (value, None)
            misfit = wrong.get(item.rel)
            if problem is None and misfit is not None:
                problem = _misfiled(item, misfit, config)
        if problem is not None:
            _refused(entry, problem, report, item)
            continue
        # this copy loads unless the ledger says a file loaded beside it took the content first;
        # a later copy in this batch is a duplicate of it
        first_by_content[entry.sha256] = item.rel
        claiming.append((item, entry, cast(Table, table)))

    holders = ledger.claim_all([(e.sha256, i.rel, i.source, i.area) for i, e, _ in claiming], load_id)
    lost: dict[str, str] = {}
    loading = []
    for item, entry, table in claiming:
        holder = holders[entry.sha256]
        if holder != item.rel:
            # the ledger, not this task's view of it, decides who loads a content
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
    _write_bronze(loading, paths, load_id, now, reader.processes)
    for item, entry, table in loading:
        entry.status = LOADED
        entry.sheet, entry.header_row, entry.data_rows = table.sheet, table.header_row, table.n_rows
        entry.bronze_path = bronze_file(paths, item.source, item.area, entry.sha256).relative_to(paths.root).as_posix()
        if table.warnings:
            entry.warnings = "; ".join(table.warnings)
            log.info("file %s loaded with warnings: %s", mask_digits(item.rel), mask_digits(entry.warnings))
        report.loaded += 1
        report.rows[(item.source, item.area)] += table.n_rows
    ledger.record_all(entries)


def _content_keys(batch: list[Landed], reader: Reader) -> dict[str, str]:
    """Each path's ledger key: its content's SHA-256, or for a path not read, one made from the path."""
    hashed = [i for i in batch if not _unread(i)]
    shas = {}
    for item, (ok, value) in zip(hashed, reader.map("sha256", [i.path for i in hashed])):
        if ok:
            shas[item.rel] = value
        else:  # gone, forbidden or hanging since the folder was listed
            item.problem = value
    return {i.rel: shas[i.rel] if i.rel in shas else _unread_key(i) for i in batch}


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


def _write_bronze(loading: list, paths: DataPaths, load_id: str, now: dt.datetime, threads: int) -> None:
    """Each loaded file's rows to its bronze file; the writes (Arrow and zstd, outside Python's
    lock) run on several threads."""
    def write(job) -> None:
        item, entry, table = job
        tbl = to_bronze(table, load_id=load_id, rel=item.rel, sha=entry.sha256, ingested_at=now)
        _write_atomically(tbl, bronze_file(paths, item.source, item.area, entry.sha256), paths.work / "ingest")

    if threads <= 1 or len(loading) <= 1:
        for job in loading:
            write(job)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, loading))
