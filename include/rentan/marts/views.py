"""The analysts' database: ``warehouse/rentan.duckdb``, views over the published marts.

For each mart ``<m>``: a view ``<m>`` of the latest published snapshot and ``<m>_history`` of all
of them; ``villages_missing`` lists the villages that had not submitted by their regency's
deadline (or at all, where there is none). The views read the Parquet files through the
``marts`` link at query time, so they always see the published state; the file is rebuilt
beside the old one and swapped in, so an analyst with it open keeps a working copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from rentan.marts.build import MARTS

DATABASE = "rentan.duckdb"


def _create_views(con: duckdb.DuckDBPyConnection, marts: Path) -> None:
    for m in MARTS:
        if not any((marts / m).glob("*/*.parquet")):
            continue
        # union_by_name: a snapshot published before a column was added reads it as empty
        src = f"read_parquet('{(marts / m).as_posix()}/*/*.parquet', hive_partitioning = true, union_by_name = true)"
        con.execute(f"create view {m}_history as select * from {src}")
        con.execute(f"create view {m} as select * exclude (snapshot_date) from {m}_history "
                    f"where snapshot_date = (select max(snapshot_date) from {m}_history)")
    con.execute("""create view villages_missing as
                   select regency, regency_name, district_name, village_code, village_name, village_word,
                          first_submitted_on
                   from coverage_village where not submitted order by village_code""")
    con.execute("""create view snapshots as
                   select distinct snapshot_date from coverage_regency_history order by 1""")


def refresh(warehouse: Path) -> Path:
    """Write ``rentan.duckdb`` for this machine: its views hold the marts' absolute path, so a
    data root seen at another path (a container's volume on the host) needs ``rentan views``."""
    target = warehouse / DATABASE
    tmp = warehouse / f".{DATABASE}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        _create_views(con, (warehouse / "marts").absolute())
    finally:
        con.close()
    os.replace(tmp, target)
    return target


def query(warehouse: Path, sql: str) -> duckdb.DuckDBPyRelation:
    """Run ``sql`` over the published marts. The views are made afresh in memory, so this works
    wherever the data root is mounted, whatever path ``rentan.duckdb`` was written with."""
    con = duckdb.connect()
    _create_views(con, (warehouse / "marts").absolute())
    return con.sql(sql)
