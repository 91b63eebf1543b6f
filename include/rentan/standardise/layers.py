"""What standardising a batch of one source and area writes: the files a blocking rule holds back
whole, the quarantine (each turned-away row with its reasons), silver, and the ledger's record of
each file."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from rentan.core.files import write_parquet
from rentan.core.ledger import StandardisedFile
from rentan.core.paths import DataPaths
from rentan.core.progress import track
from rentan.core.settings import side_by_side
from rentan.quality.reasons import REASONS
from rentan.quality.validation import Validator
from rentan.standardise.bronze import fields_of
from rentan.standardise.sources import Context

QUARANTINE_COLUMNS = [
    "source", "source_file", "sheet", "row_number", "file_sha256", "load_id", "village_code", "regency_code",
    "reason_code", "field", "sender_header", "value", "reason", "alasan", "tindakan", "suggestions",
    "reason_codes", "name_given", "nik_given", "blocked",
]


@dataclass
class Blocked:
    file: str
    rule: str
    reason_code: str
    field: str | None
    rows: int
    detail: str

    def message(self) -> str:
        return f"{self.file}: rule {self.rule} ({self.reason_code}) {self.detail}; {self.rows} rows held back"


def _resolve_codes(failures: pd.DataFrame, frame: pd.DataFrame) -> pd.Series:
    """Each failure's reason: the rule's code, or the row's own finer code where the rule names a column."""
    codes = failures["reason_code"].astype("string").to_numpy(dtype=object)
    for col in failures["reason_column"].dropna().unique():
        sel = (failures["reason_column"] == col).to_numpy()
        precise = frame[col].to_numpy(dtype=object)[failures["pos"].to_numpy()[sel]]
        codes[sel] = np.where(pd.isna(precise), codes[sel], precise)
    return pd.Series(codes, index=failures.index, dtype="string")


def _by_row(failures: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """One line per failing row: primary failure (first in suite order) and all codes."""
    if failures.empty:
        return pd.DataFrame(columns=["pos", "order", "code", "field", "codes"]).set_index("pos")
    f = failures.assign(code=_resolve_codes(failures, frame)).sort_values(["pos", "order"], kind="stable")
    grouped = f.drop_duplicates(["pos", "code"]).groupby("pos")["code"].agg(list)
    # plain lists of str: pandas would otherwise infer an Arrow list type that reindexing mangles
    codes = pd.Series([list(map(str, c)) for c in grouped.to_list()], index=grouped.index, dtype=object)
    primary = f.drop_duplicates("pos").set_index("pos")[["order", "code", "field"]]
    return primary.assign(codes=codes)


LIST_COLUMNS = {"warnings", "reason_codes"}


def arrow_schema(df: pd.DataFrame) -> pa.Schema:
    """One schema for every file of a layer, from the frame's types, never from the values of one
    file (a column empty in one village's file would otherwise become a null-typed column)."""
    out = []
    for c in df.columns:
        dtype = df[c].dtype
        if c in LIST_COLUMNS:
            t = pa.list_(pa.string())
        elif c == "row_number":
            t = pa.int32()
        elif c.endswith(("_date", "_on", "_month")):
            t = pa.date32()
        elif pd.api.types.is_bool_dtype(dtype):
            t = pa.bool_()
        elif pd.api.types.is_integer_dtype(dtype):
            t = pa.int64()
        elif pd.api.types.is_float_dtype(dtype):
            t = pa.float64()
        else:
            t = pa.string()
        out.append(pa.field(c, t))
    return pa.schema(out)


def _write_layer(paths: DataPaths, layer: str, source: str, area: str, sha: str, tbl: pa.Table | None) -> None:
    target = paths.layer(layer, source) / f"area={area}" / f"{sha[:32]}.parquet"
    if tbl is None or tbl.num_rows == 0:
        target.unlink(missing_ok=True)  # an earlier run under other rules may have left rows here
        return
    write_parquet(tbl, target, paths.work / "standardise", tag=f"{layer}-")


def _per_file(df: pd.DataFrame, schema: pa.Schema) -> dict[str, pa.Table]:
    """The frame's rows per file (SHA-256), as Arrow tables: one conversion for the whole batch,
    then zero-copy slices, since the conversion costs per call and a regency has hundreds of files."""
    if df.empty:
        return {}
    order = np.argsort(df["file_sha256"].to_numpy(dtype=object), kind="stable")
    tbl = pa.Table.from_pandas(df.iloc[order], schema=schema, preserve_index=False)
    shas = df["file_sha256"].to_numpy(dtype=object)[order]
    starts = np.flatnonzero(np.r_[True, shas[1:] != shas[:-1]])
    ends = np.r_[starts[1:], len(shas)]
    return {shas[a]: tbl.slice(a, b - a) for a, b in zip(starts, ends)}


def _silver_types(df: pd.DataFrame) -> pd.DataFrame:
    # calendar dates, not timestamps: a birth date has no time of day
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = df[c].dt.date.astype("object").where(df[c].notna(), None)
    return df


def held_back(source: str, area: str, flat, row_fail: pd.DataFrame, validator: Validator) -> dict[str, Blocked]:
    """The files a blocking rule holds back whole, from a profile of each file (which fields its
    headers have, how many of its rows fail): one validation of the batch's profiles."""
    rows = flat.rows
    per_file_rows = rows.groupby("source_file", sort=False).size()
    bad_rows = rows.loc[row_fail.index, "source_file"].value_counts() if len(row_fail) else pd.Series(dtype="int64")
    profile = flat.headers[["source_file"]].copy()
    for f in fields_of(source):
        profile[f"has_{f}"] = flat.headers[f].notna().to_numpy()
    profile["rows"] = profile["source_file"].map(per_file_rows).astype("int64")
    profile["invalid_rows"] = profile["source_file"].map(bad_rows).fillna(0).astype("int64")
    profile["invalid_share"] = profile["invalid_rows"] / profile["rows"]
    file_check = validator.validate(f"{source}.files", area, profile)
    blocked: dict[str, Blocked] = {}
    for fail in file_check.failures.sort_values("order").itertuples():  # one per failing file and rule
        p = profile.iloc[fail.pos]
        if p.source_file in blocked:
            continue
        if fail.reason_code == "missing_column":
            detail = f"no column for '{fail.field}' among the file's headers"
        else:
            detail = f"{p.invalid_rows} of {p.rows} rows invalid ({p.invalid_share:.0%})"
        blocked[p.source_file] = Blocked(p.source_file, (fail.field and f"has_{fail.field}") or "invalid_share",
                                         fail.reason_code, fail.field, int(p.rows), detail)
    return blocked


def quarantine_rows(source: str, ctx: Context, flat, frame: pd.DataFrame, row_fail: pd.DataFrame,
                    blocked: dict[str, Blocked], to_quarantine: np.ndarray, village_of_file: pd.Series) -> pd.DataFrame:
    """Quarantine: each turned-away row with its reason in English and Bahasa Indonesia, what to do,
    the sender's own header and value for the field at fault, and the village it is about."""
    rows = flat.rows
    is_blocked = rows["source_file"].isin(list(blocked)).to_numpy()
    q = rows.loc[to_quarantine, ["source_file", "sheet", "row_number", "file_sha256", "load_id"]].copy()
    qpos = q.index.to_numpy()
    q.insert(0, "source", source)
    q["village_code"] = (frame.loc[qpos, "village_code"].fillna(q["source_file"].map(village_of_file))
                         if source == "budget" else q["source_file"].map(village_of_file)).astype("string")
    q["regency_code"] = ctx.regency.code if ctx.regency else None
    prim = row_fail.reindex(qpos)
    q["reason_code"] = prim["code"].astype("string").to_numpy()
    q["field"] = prim["field"].astype("string").to_numpy()
    q["reason_codes"] = prim["codes"].to_numpy()
    q["blocked"] = is_blocked[qpos]
    if blocked:
        bq = q["blocked"].to_numpy()
        q.loc[bq, "reason_code"] = q.loc[bq, "source_file"].map(lambda f: blocked[f].reason_code)
        q.loc[bq, "field"] = q.loc[bq, "source_file"].map(lambda f: blocked[f].field)
        q.loc[bq, "reason_codes"] = pd.Series([[c] for c in q.loc[bq, "reason_code"]], index=q.index[bq])
    # the sender's own header and value for the field at fault
    hdr = flat.headers.set_index("source_file")
    q["sender_header"] = pd.Series(pd.NA, index=q.index, dtype="string")
    q["value"] = pd.Series(pd.NA, index=q.index, dtype="string")
    for fld in q["field"].dropna().unique():
        sel = (q["field"] == fld).to_numpy()
        q.loc[sel, "sender_header"] = q.loc[sel, "source_file"].map(hdr[fld]).to_numpy()
        q.loc[sel, "value"] = rows.loc[qpos[sel], fld].to_numpy()
    text = pd.DataFrame([(r.code, r.en, r.id, r.action) for r in REASONS.values()],
                        columns=["reason_code", "reason", "alasan", "tindakan"]).set_index("reason_code")
    for col in ("reason", "alasan", "tindakan"):
        q[col] = q["reason_code"].map(text[col]).astype("string")
    if blocked:
        bq = q["blocked"].to_numpy()
        q.loc[bq, "reason"] = q.loc[bq, "reason"] + " " + q.loc[bq, "source_file"].map(lambda f: blocked[f].detail) + "."
    q["suggestions"] = (frame.loc[qpos, "village_suggestions"].where(q["reason_code"].eq("village_unknown").to_numpy())
                        if "village_suggestions" in frame else None)
    q["name_given"] = rows.loc[qpos, "nama"] if "nama" in rows else None
    # the NIK as the sender typed it, whatever the row's fault: the branch and the village see it
    q["nik_given"] = rows.loc[qpos, "nik"] if "nik" in rows else None
    q = q[QUARANTINE_COLUMNS]
    return q


def silver_rows(frame: pd.DataFrame, to_quarantine: np.ndarray, warn: pd.DataFrame) -> pd.DataFrame:
    """Silver: the rows that passed, typed, with the warnings they carry on."""
    silver = frame.loc[~to_quarantine].drop(columns=[c for c in frame if c.endswith("_reason")] + ["row_id"])
    silver = silver.drop(columns=[c for c in ("village_suggestions",) if c in silver])
    silver["warnings"] = pd.Series([c if isinstance(c, list) else [] for c in warn["codes"].reindex(silver.index)],
                                   index=silver.index, dtype=object)
    silver = _silver_types(silver)
    return silver


def write_layers(paths: DataPaths, source: str, area: str, entries: list, silver: pd.DataFrame, q: pd.DataFrame,
                 blocked: dict[str, Blocked], load_id: str, rules_version: str) -> list[StandardisedFile]:
    """Each file's silver and quarantine rows written (side by side), and the ledger's record of it."""
    now = dt.datetime.now(dt.UTC)
    records = []
    s_groups, q_groups = _per_file(silver, arrow_schema(silver)), _per_file(q, arrow_schema(q))

    def write(e) -> None:
        _write_layer(paths, "silver", source, area, e.sha256, s_groups.get(e.sha256))
        _write_layer(paths, "quarantine", source, area, e.sha256, q_groups.get(e.sha256))

    # Parquet writes run outside Python's lock: side by side on the machine's cores
    with ThreadPoolExecutor(max_workers=side_by_side()) as pool:
        for _ in track(pool.map(write, entries), f"standardise {source}/{area}: writing silver and quarantine",
                       "files", total=len(entries)):
            pass
    for e in entries:
        s_t, q_t = s_groups.get(e.sha256), q_groups.get(e.sha256)
        n_s = 0 if s_t is None else s_t.num_rows
        n_q = 0 if q_t is None else q_t.num_rows
        b = blocked.get(e.file)
        records.append(StandardisedFile(
            load_id=load_id, source=source, area=area, file=e.file, sha256=e.sha256,
            rules_version=rules_version, rows_in=e.data_rows, rows_silver=n_s, rows_quarantine=n_q,
            blocked=b is not None, block_reason=b.message() if b else None, processed_at=now))
    return records
