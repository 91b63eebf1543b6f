"""DuckDB sessions for heavy set work."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

MEMORY_ENV = "RENTAN_DUCKDB_MEMORY"


def connect(work: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB session for heavy set work: bounded memory (``RENTAN_DUCKDB_MEMORY``, default
    4GB), spilling under ``work``."""
    spill = work / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": os.environ.get(MEMORY_ENV, "4GB"),
                                 "temp_directory": spill.as_posix()})
    # every output is written in an explicit order: tables need not keep their rows' order, which
    # lets DuckDB spill large builds instead of holding them
    con.execute("set enable_progress_bar = false; set preserve_insertion_order = false")
    return con
