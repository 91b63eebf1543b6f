"""The records identity works on: tonight's proposals and members, one table in DuckDB."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from rentan import lists as village_lists
from rentan.config import Config
from rentan.core.ledger import Ledger
from rentan.core.paths import DataPaths

SUB_COLUMNS = ("area", "source_file", "row_number", "file_sha256", "nik", "name", "name_norm", "birth_date",
               "sex", "village_code", "district_code", "regency_code", "funding_source")


MEM_COLUMNS = ("area", "kpj", "nik", "name", "name_norm", "birth_date", "segment", "status", "payer_village_code",
               "payer_kind")


def load(con: duckdb.DuckDBPyConnection, paths: DataPaths, ledger: Ledger, cutoff: dt.datetime,
         config: Config) -> int:
    """Table ``records``: proposals and members from files received by the end of the snapshot's
    day (less the village-list rows a later list replaced), numbered by (source, record id)."""
    subs = paths.parquet_glob("silver", "submissions")
    if subs is None:
        return 0
    now = village_lists.current(paths, ledger, cutoff, config.programme.revision_share)
    received = pa.table({"file_sha256": pa.array(list(now.files), pa.string()),
                         "received_at": pa.array(list(now.files.values()), pa.timestamp("us", "UTC"))})
    con.register("received", received)
    con.register("replaced", now.replaced)
    sub_cols = ", ".join(f"s.{c}" for c in SUB_COLUMNS if c != "file_sha256")
    parts = [f"""
        select 'submission' as source, 'usulan:' || left(s.file_sha256, 16) || ':' || s.row_number as record_id,
               {sub_cols}, r.received_at
        from read_parquet('{subs}', hive_partitioning = true, union_by_name = true) s
        join received r using (file_sha256)
        anti join replaced x on x.file_sha256 = s.file_sha256 and x.row_number = s.row_number
        where s.nik is not null"""]
    mem = paths.parquet_glob("silver", "membership")
    if mem is not None:  # a night before any branch extract arrived still has proposals to decide on
        # extracts arrive again every month and overlap: a member is their latest row. Chosen on
        # the keys alone (a national extract has tens of millions of rows: sorting every column
        # of them would not fit), then joined back to the row's other columns.
        con.execute(f"""
            create temp table latest_member as
            select kpj, arg_max({{'f': m.file_sha256, 'r': m.row_number}}, (r.received_at, m.file_sha256, m.row_number))
                          as at
            from read_parquet('{mem}', hive_partitioning = true, union_by_name = true) m
            join received r using (file_sha256)
            where m.nik is not null and m.kpj is not null
            group by kpj""")
        # an extract standardised by an earlier version may lack a later column: it reads as null
        have = {r[0] for r in con.execute(
            f"describe select * from read_parquet('{mem}', hive_partitioning = true, union_by_name = true)"
        ).fetchall()}
        mem_cols = ", ".join(f"m.{c}" if c in have else f"null::varchar as {c}" for c in MEM_COLUMNS)
        parts.append(f"""
        select 'membership' as source, 'kpj:' || m.kpj as record_id, {mem_cols}
        from read_parquet('{mem}', hive_partitioning = true, union_by_name = true) m
        join latest_member l on l.at.f = m.file_sha256 and l.at.r = m.row_number""")
    con.execute(f"create temp table unnumbered as {' union all by name '.join(parts)}")
    # numbered in a stable order, the sort on the keys alone
    con.execute("""
        create table records as
        select o.pos, u.* from unnumbered u
        join (select source, record_id, (row_number() over (order by source, record_id) - 1)::bigint as pos
              from unnumbered) o using (source, record_id)""")
    con.execute("drop table unnumbered")
    for c in ("kpj", "segment", "status", "payer_village_code", "payer_kind"):
        if c not in [r[0] for r in con.execute("describe records").fetchall()]:
            con.execute(f"alter table records add column {c} varchar")
    # an extract standardised before payers were classified: a village code is a village, else unknown
    con.execute("""update records set payer_kind = case when payer_village_code is not null then 'village'
                                                       else 'unknown' end
                   where source = 'membership' and payer_kind is null""")
    return con.execute("select count(*) from records").fetchall()[0][0]
