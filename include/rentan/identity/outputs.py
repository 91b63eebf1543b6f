"""Identity's outputs: written under work, then moved into place whole."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rentan.core.files import replace_dir
from rentan.core.paths import IDENTITY_TABLES, DataPaths, safe_name


def _write_candidates(con: duckdb.DuckDBPyConnection, folder: Path, batch: int = 200_000) -> None:
    """One file per regency (``area=<slug>/candidates.parquet``), its proposals in record id order:
    the table read once, sorted by area and record number, and streamed in batches into one
    writer per area, so that neither a national night's table nor a scan per area is needed."""
    reader = con.sql("select * exclude (pos) from candidates order by area, pos").to_arrow_reader(batch)
    names = [n for n in reader.schema.names if n != "area"]
    schema = pa.schema([reader.schema.field(n) for n in names])
    writer: pq.ParquetWriter | None = None
    current = None
    try:
        for b in reader:
            areas = b.column("area").to_numpy(zero_copy_only=False)
            starts = [0, *(np.flatnonzero(areas[1:] != areas[:-1]) + 1).tolist()]
            for lo, hi in zip(starts, [*starts[1:], len(areas)]):
                if areas[lo] != current:
                    if writer is not None:
                        writer.close()
                    current = areas[lo]
                    (folder / f"area={current}").mkdir(parents=True)
                    writer = pq.ParquetWriter(folder / f"area={current}" / "candidates.parquet", schema,
                                              compression="zstd")
                cast(pq.ParquetWriter, writer).write_batch(b.slice(lo, hi - lo).select(names))
    finally:
        if writer is not None:
            writer.close()
    folder.mkdir(parents=True, exist_ok=True)


def file_name(load_id: str) -> str:
    return safe_name(load_id) + ".parquet"


def merge_ledger(con: duckdb.DuckDBPyConnection, paths: DataPaths, load_id: str, target: Path,
                  rules_version: str) -> int:
    """Writes this night's merge-ledger file: each record first seen, or whose person changed since
    the latest earlier night. A rerun of the same night compares with the nights before it, so it
    writes the same lines again rather than nothing."""
    folder = paths.warehouse / "silver" / "merge_ledger"
    own = folder / file_name(load_id)
    earlier = [p for p in sorted(folder.glob("*.parquet")) if p != own]
    if earlier:
        files = ", ".join(f"'{p.as_posix()}'" for p in earlier)
        con.execute(f"""create table current_link as
            select record_id, arg_max(person_key, linked_at) as person_key
            from read_parquet([{files}]) group by record_id""")
    else:
        con.execute("create table current_link (record_id varchar, person_key varchar)")
    now = dt.datetime.now(dt.UTC)
    con.execute(f"""
        copy (
            select k.record_id, k.person_key, k.matched_by as method,
                   case when c.record_id is null then 'first seen' else 'person changed' end as reason,
                   $load_id as load_id, $now::timestamptz as linked_at, $rules as rules_version
            from keyed k left join current_link c using (record_id)
            where c.person_key is distinct from k.person_key
            order by k.pos
        ) to '{target.as_posix()}' (format parquet, compression zstd)""",
                {"load_id": load_id, "now": now, "rules": rules_version})
    return con.execute(f"select count(*) from '{target.as_posix()}'").fetchall()[0][0]


def _forget_old_snapshots(current: Path, keep_days: int) -> None:
    """Snapshots written more than ``keep_days`` ago (the programme's ``retention``) are removed."""
    oldest = (dt.datetime.now() - dt.timedelta(days=keep_days)).timestamp()
    for d in current.parent.iterdir():
        if d.is_dir() and d != current and not d.name.startswith(".") and d.stat().st_mtime < oldest:
            shutil.rmtree(d, ignore_errors=True)


def _publish(tmp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


def clear(paths: DataPaths, snapshot: dt.date) -> None:
    """No outputs for a snapshot by which nothing had arrived, rather than a later night's."""
    for table in IDENTITY_TABLES:
        shutil.rmtree(paths.warehouse / "silver" / table, ignore_errors=True)
    shutil.rmtree(paths.identity_dir(snapshot), ignore_errors=True)


def write(con: duckdb.DuckDBPyConnection, paths: DataPaths, stage: Path, queue: pd.DataFrame, load_id: str,
          rules_version: str, lap: Callable[[str], None]) -> int:
    """Tonight's tables under ``stage`` (readers never see half a table); the merge-ledger lines."""
    stage.mkdir(parents=True)
    con.execute(f"""copy (select person_key, count(distinct nik) as niks,
                                 count(*) filter (where source = 'submission') as proposals,
                                 count(*) filter (where source = 'membership') as memberships,
                                 arg_min(birth_date, pos) filter (where birth_date is not null) as birth_date
                          from keyed group by person_key order by person_key)
                    to '{(stage / "persons.parquet").as_posix()}' (format parquet, compression zstd)""")
    lap("write_persons")
    _write_candidates(con, stage / "candidates")
    lap("write_candidates")
    # which person each record (proposal or membership) is tonight: what the marts join on
    # records are numbered in record id order (see records.load): sorting on the number is the same
    con.execute(f"""copy (select record_id, source, person_key, matched_by from keyed order by pos)
                    to '{(stage / "record_persons.parquet").as_posix()}' (format parquet, compression zstd)""")
    pq.write_table(pa.Table.from_pandas(queue, preserve_index=False), stage / "review_queue.parquet",
                   compression="zstd")
    lap("write_record_persons")
    lines = merge_ledger(con, paths, load_id, stage / "merge_ledger.parquet", rules_version)
    lap("write_merge_ledger")
    return lines


def publish(paths: DataPaths, stage: Path, snapshot: dt.date, load_id: str, keep_days: int) -> None:
    """Tonight's tables moved into place: the snapshot's own copy first (hard links: no data
    copied), swapped in whole, so a night's marts read its own night's persons even if another
    night (a backfill) has run since; then the latest night's tables under silver."""
    out = paths.warehouse / "silver"
    produced = sorted((stage / "candidates").glob("area=*"))
    version = stage.parent / "version"
    files = {"persons/persons.parquet": stage / "persons.parquet",
             "record_persons/record_persons.parquet": stage / "record_persons.parquet",
             "review_queue/review_queue.parquet": stage / "review_queue.parquet",
             **{f"enrolment_candidates/{p.name}/candidates.parquet": p / "candidates.parquet" for p in produced}}
    for rel, src in files.items():
        (version / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(src, version / rel)
    paths.identity_dir(snapshot).parent.mkdir(parents=True, exist_ok=True)
    replace_dir(version, paths.identity_dir(snapshot))
    _forget_old_snapshots(paths.identity_dir(snapshot), keep_days)
    _publish(stage / "persons.parquet", out / "persons" / "persons.parquet")
    for part in produced:
        _publish(part / "candidates.parquet", out / "enrolment_candidates" / part.name / "candidates.parquet")
    for stale in (out / "enrolment_candidates").glob("area=*"):
        if stale.name not in {p.name for p in produced}:
            shutil.rmtree(stale, ignore_errors=True)
    _publish(stage / "record_persons.parquet", out / "record_persons" / "record_persons.parquet")
    _publish(stage / "review_queue.parquet", out / "review_queue" / "review_queue.parquet")
    _publish(stage / "merge_ledger.parquet", out / "merge_ledger" / file_name(load_id))
