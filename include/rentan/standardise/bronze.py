"""Bronze rows to a frame of canonical fields, through the header spellings in
``config/headers.yaml``; vectorised over all files of a source and area at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rentan.config.headers import HEADERS_FILE, fields_of, header_index, header_key  # noqa: F401
from rentan.core.settings import side_by_side

LINEAGE = ["load_id", "source_file", "sheet", "row_number", "file_sha256"]


@dataclass
class Flat:
    """All rows of some bronze files, canonical fields as text."""

    rows: pd.DataFrame          # lineage + one string column per canonical field + row_id (0..n-1)
    numeric: pd.DataFrame       # bool per canonical field: the xlsx cell was a number
    headers: pd.DataFrame       # per file: which canonical fields it has, and the sender's header for each


def read_bronze(files: list[Path]) -> pa.Table:
    """The bronze files, in their order, read side by side (Parquet decoding runs outside
    Python's lock)."""
    if not files:
        return None
    with ThreadPoolExecutor(max_workers=side_by_side()) as pool:
        return pa.concat_tables(list(pool.map(pq.read_table, files)))


def _explode(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def flatten(tbl: pa.Table, source: str) -> Flat:
    fields = fields_of(source)
    index = header_index(source)
    n, k = tbl.num_rows, len(fields)

    mp = tbl.column("fields").combine_chunks()
    offsets = mp.offsets.to_numpy()
    keys = mp.keys.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]]
    items = mp.items.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]]
    row_of = _explode(offsets - offsets[0])

    uniq, inverse = np.unique(keys.astype(str), return_inverse=True)
    canon = np.array([index.get(header_key(u), -1) for u in uniq], dtype=np.int64)[inverse]
    mapped = np.nonzero(canon >= 0)[0]
    grid = np.full((n, k), None, dtype=object)
    sender_header = np.full((n, k), None, dtype=object)
    # reversed, so that when two headers of one file map to one field the first one wins
    grid[row_of[mapped[::-1]], canon[mapped[::-1]]] = items[mapped[::-1]]
    sender_header[row_of[mapped[::-1]], canon[mapped[::-1]]] = keys[mapped[::-1]]

    nums = tbl.column("numeric_fields").combine_chunks()
    noff = nums.offsets.to_numpy()
    nvals = nums.values.to_numpy(zero_copy_only=False)[noff[0]:noff[-1]].astype(str)
    nrow = _explode(noff - noff[0])
    numeric = np.zeros((n, k), dtype=bool)
    if len(nvals):
        ncanon = np.array([index.get(header_key(v), -1) for v in nvals])
        ok = ncanon >= 0
        numeric[nrow[ok], ncanon[ok]] = True

    rows = pd.DataFrame({c: tbl.column(c).to_pandas() for c in LINEAGE})
    for j, f in enumerate(fields):
        rows[f] = pd.array(grid[:, j], dtype="string")
    rows.insert(0, "row_id", np.arange(n))

    # per file: the sender's header for each field (first row of the file is enough: a file
    # has one header row), NA when the file lacks that field
    first = ~rows["source_file"].duplicated().to_numpy()
    headers = pd.DataFrame(sender_header[first], columns=fields)
    headers.insert(0, "source_file", rows["source_file"].to_numpy()[first])
    return Flat(rows=rows, numeric=pd.DataFrame(numeric, columns=fields), headers=headers)
