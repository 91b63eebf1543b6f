"""Bronze: each received file's rows as received, every cell as text keyed by the sender's header,
with the file's lineage beside it; one Parquet file per content, written whole or not at all."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from rentan.core.files import write_parquet
from rentan.core.paths import DataPaths
from rentan.ingest.readers import Table

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


def write_bronze(loading: list, paths: DataPaths, load_id: str, now: dt.datetime, threads: int) -> None:
    """Each loaded file's rows to its bronze file; the writes (Arrow and zstd, outside Python's
    lock) run on several threads."""
    def write(job) -> None:
        item, entry, table = job
        tbl = to_bronze(table, load_id=load_id, rel=item.rel, sha=entry.sha256, ingested_at=now)
        write_parquet(tbl, bronze_file(paths, item.source, item.area, entry.sha256), paths.work / "ingest")

    if threads <= 1 or len(loading) <= 1:
        for job in loading:
            write(job)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, loading))
