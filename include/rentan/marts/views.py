"""The analysts' database: ``warehouse/rentan.duckdb``, views over the published marts.

For each mart ``<m>``: a view ``<m>`` of the latest published snapshot and ``<m>_history`` of all
of them; ``villages_missing`` lists the villages that had not submitted by their regency's
deadline (or at all, where there is none); ``snapshots`` the published nights; ``dictionary``
every column of every mart with its description from ``dictionary.yaml``, which is also each
view column's comment (``COMMENT ON COLUMN``: DuckDB shows comments in ``duckdb_columns()``,
not in ``describe``, hence the ``dictionary`` view). The views read the Parquet files through
the ``marts`` link at query time, so they always see the published state; the file is rebuilt
beside the old one and swapped in, so an analyst with it open keeps a working copy.

The file is written in DuckDB's storage format ``STORAGE_VERSION``, which the DuckDB command
line installed beside the library (``duckdb-cli`` in the lock, older than the library) reads:
a file in the library's own newer format would be refused by it. It holds only views and
comments, so nothing is lost.

This module stays light (no pandas): ``rentan query`` imports it and should answer at once.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import duckdb

from rentan.marts.names import MARTS

DATABASE = "rentan.duckdb"
DICTIONARY = Path(__file__).with_name("dictionary.yaml")
# the newest storage format the DuckDB CLI of the lock (duckdb-cli 1.5.6) reads
STORAGE_VERSION = "v1.5.0"


@lru_cache(maxsize=1)
def dictionary() -> dict[str, dict]:
    """The data dictionary: ``{mart: {"description": ..., "columns": {column: description}}}``."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(DICTIONARY.read_text(encoding="utf-8"), Loader=loader)




def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_views(con: duckdb.DuckDBPyConnection, marts: Path, schema: str = "main",
                  with_dictionary: bool = True) -> list[str]:
    made = []
    for m in MARTS:
        if not any((marts / m).glob("*/*.parquet")):
            continue
        # union_by_name: a snapshot published before a column was added reads it as empty
        src = f"read_parquet('{(marts / m).as_posix()}/*/*.parquet', hive_partitioning = true, union_by_name = true)"
        con.execute(f"create view {schema}.{m}_history as select * from {src}")
        con.execute(f"create view {schema}.{m} as select * exclude (snapshot_date) from {schema}.{m}_history "
                    f"where snapshot_date = (select max(snapshot_date) from {schema}.{m}_history)")
        made.append(m)
    if "coverage_village" in made:
        con.execute(f"""create view {schema}.villages_missing as
                       select regency, regency_name, district_name, village_code, village_name, village_word,
                              first_submitted_on
                       from {schema}.coverage_village where not submitted order by village_code""")
    if "coverage_regency" in made:
        con.execute(f"""create view {schema}.snapshots as
                       select distinct snapshot_date from {schema}.coverage_regency_history order by 1""")
    if not with_dictionary:
        return made
    rows = [(m, c, text) for m, spec in dictionary().items() for c, text in spec["columns"].items()]
    values = ", ".join(f"({_quote(m)}, {i}, {_quote(c)}, {_quote(t)})" for i, (m, c, t) in enumerate(rows))
    con.execute(f"""create view {schema}.dictionary as
                   select mart, "column", description from (values {values}) d(mart, pos, "column", description)
                   order by pos""")
    return made


def _comment(con: duckdb.DuckDBPyConnection, made: list[str], schema: str = "main") -> None:
    """Each view's and column's description from the dictionary, as DuckDB comments."""
    spec = dictionary()
    snap = "The night (snapshot) the row describes."
    for m in made:
        cols = spec[m]["columns"]
        have = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ?",
            [schema, f"{m}_history"]).fetchall()}
        for view, label in ((m, "latest snapshot"), (f"{m}_history", "every published snapshot")):
            con.execute(f"comment on view {schema}.{view} is {_quote(spec[m]['description'] + ' (' + label + ')')}")
            for c, text in cols.items():
                if c in have:
                    con.execute(f'comment on column {schema}.{view}."{c}" is {_quote(text)}')
        con.execute(f'comment on column {schema}.{m}_history."snapshot_date" is {_quote(snap)}')
    if "coverage_village" in made:
        con.execute(f"comment on view {schema}.villages_missing is "
                    f"{_quote('Villages that had not submitted by their regency deadline (or at all), latest snapshot.')}")
        for c in ("regency", "regency_name", "district_name", "village_code", "village_name", "village_word",
                  "first_submitted_on"):
            con.execute(f'comment on column {schema}.villages_missing."{c}" is {_quote(spec["coverage_village"]["columns"][c])}')
    if "coverage_regency" in made:
        con.execute(f"comment on view {schema}.snapshots is {_quote('The published nights.')}")
        con.execute(f'comment on column {schema}.snapshots."snapshot_date" is {_quote(snap)}')
    con.execute(f"comment on view {schema}.dictionary is {_quote('Every column of every mart, with its description.')}")
    for c, text in (("mart", "The mart (a view of that name shows its latest snapshot)."),
                    ("column", "A column of the mart."), ("description", "What the column holds.")):
        con.execute(f'comment on column {schema}.dictionary."{c}" is {_quote(text)}')


def refresh(warehouse: Path) -> Path:
    """Write ``rentan.duckdb`` for this machine: its views hold the marts' absolute path, so a
    data root seen at another path (a container's volume on the host) needs ``rentan views``."""
    target = warehouse / DATABASE
    tmp = warehouse / f".{DATABASE}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach '{tmp.as_posix()}' as analysts (storage_version '{STORAGE_VERSION}')")
        # unqualified names inside the views: the file is opened under its own name (rentan)
        con.execute("use analysts")
        made = _create_views(con, (warehouse / "marts").absolute())
        _comment(con, made)
        con.execute("use memory")
        con.execute("detach analysts")
    finally:
        con.close()
    os.replace(tmp, target)
    return target


def query(warehouse: Path, sql: str) -> duckdb.DuckDBPyRelation:
    """Run ``sql`` over the published marts. The views are made afresh in memory, so this works
    wherever the data root is mounted, whatever path ``rentan.duckdb`` was written with."""
    con = duckdb.connect()
    # the dictionary view needs the YAML file read: only when the query names it
    _create_views(con, (warehouse / "marts").absolute(), with_dictionary="dictionary" in sql.lower())
    return con.sql(sql)
