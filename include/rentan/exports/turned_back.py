"""The rows the villages' fix-lists are made of (see desa.py): the submissions quarantine, each
row with its problems worded in Bahasa Indonesia, less the rows that are no longer the village's to
fix."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# reasons about the file as a whole; on a held-back file's rows they are said once, in the file's line
FILE_LEVEL = ("missing_column", "too_many_invalid", "batch_blocked")

# columns the quarantine may lack when written by an older standardise stage, and their stand-ins
_OPTIONAL = {
    "sheet": "''", "field": "NULL::VARCHAR", "sender_header": "NULL::VARCHAR", "value": "NULL::VARCHAR",
    "alasan": "NULL::VARCHAR", "tindakan": "NULL::VARCHAR", "suggestions": "NULL::VARCHAR",
    "name_given": "NULL::VARCHAR", "blocked": "false", "reason_codes": "[reason_code]",
    "regency_code": "NULL::VARCHAR", "village_code": "NULL::VARCHAR", "area": "NULL::VARCHAR",
    "file_sha256": "NULL::VARCHAR",
}
_REQUIRED = ("source_file", "row_number", "reason_code")


def _wording() -> pd.DataFrame:
    """Indonesian wording per reason code; empty if the reasons module cannot be imported."""
    try:
        from rentan.quality.reasons import REASONS
    except ImportError:  # the quarantine still carries alasan/tindakan of the primary reason
        REASONS = {}  # noqa: N806 - the same name as the import it stands in for
    return pd.DataFrame({
        "code": pd.Series([r.code for r in REASONS.values()], dtype="string"),
        "w_alasan": pd.Series([r.id for r in REASONS.values()], dtype="string"),
        "w_tindakan": pd.Series([r.action for r in REASONS.values()], dtype="string"),
    })


def read(quarantine: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The quarantined rows, and (row id, reason code) for every reason of every row."""
    con = duckdb.connect()
    try:
        raw = con.read_parquet(str(quarantine / "**" / "*.parquet"), hive_partitioning=True, union_by_name=True)
        have = set(raw.columns)
        missing = [c for c in _REQUIRED if c not in have]
        if missing:
            raise ValueError(f"quarantine at {quarantine} lacks columns {missing}")
        raw.create_view("raw")
        cols = ", ".join(f'"{c}"' if c in have else f'{expr} AS "{c}"' for c, expr in _OPTIONAL.items())
        con.register("wording", _wording())
        con.execute(f"""
            CREATE TEMP TABLE q AS
            SELECT row_number() OVER () AS rid, "source_file", "row_number", "reason_code", {cols}
            FROM raw
        """)
        con.execute("""
            CREATE TEMP TABLE codes AS
            SELECT rid, code, min(pos) AS pos FROM (
                SELECT rid, reason_code AS code, -1 AS pos FROM q
                UNION ALL
                SELECT rid, unnest(reason_codes) AS code, unnest(range(len(reason_codes))) AS pos FROM q
            ) WHERE code IS NOT NULL GROUP BY rid, code
        """)
        file_level = ", ".join(f"'{c}'" for c in FILE_LEVEL)
        rows = con.execute(f"""
            WITH other AS (
                SELECT c.rid, string_agg(coalesce(w.w_alasan, c.code), chr(10) ORDER BY c.pos) AS masalah_lain
                FROM codes c JOIN q ON q.rid = c.rid LEFT JOIN wording w ON w.code = c.code
                WHERE c.code <> q.reason_code AND NOT (coalesce(q.blocked, false) AND c.code IN ({file_level}))
                GROUP BY c.rid
            )
            SELECT q.* EXCLUDE (reason_codes), coalesce(q.blocked, false) AS held,
                   coalesce(nullif(trim(q.alasan), ''), w.w_alasan, q.reason_code) AS masalah,
                   coalesce(nullif(trim(q.tindakan), ''), w.w_tindakan) AS tindakan_,
                   other.masalah_lain
            FROM q LEFT JOIN wording w ON w.code = q.reason_code LEFT JOIN other ON other.rid = q.rid
        """).df()
        reasons = con.execute("""
            SELECT c.rid, c.code, coalesce(w.w_alasan, c.code) AS masalah, w.w_tindakan AS tindakan
            FROM codes c LEFT JOIN wording w ON w.code = c.code
        """).df()
    finally:
        con.close()
    return rows, reasons


def quarantined(quarantine: Path, files: set[str] | None = None,
                replaced: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`read`, or nothing if there is no quarantine yet. With ``files`` (SHA-256), the rows
    of other files go; with ``replaced`` (file_sha256, row_number), those rows go."""
    if quarantine.is_dir() and any(quarantine.rglob("*.parquet")):
        rows, reasons = read(quarantine)
        if files is not None or replaced is not None:
            keep = rows["file_sha256"].isna() | rows["file_sha256"].isin(files if files is not None else rows["file_sha256"])
            if replaced is not None and len(replaced):
                gone = pd.MultiIndex.from_frame(replaced[["file_sha256", "row_number"]].astype({"row_number": "int64"}))
                here = pd.MultiIndex.from_arrays([rows["file_sha256"].astype("string"), rows["row_number"].astype("int64")])
                keep &= ~here.isin(gone)
            rows, reasons = rows[keep].copy(), reasons[reasons["rid"].isin(rows.loc[keep, "rid"])]
    else:
        rows, reasons = pd.DataFrame(columns=["rid", "area", "regency_code"]), pd.DataFrame(columns=["rid"])
    return rows, reasons
