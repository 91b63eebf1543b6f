"""Standardise and validate: bronze rows to typed silver, bad rows to quarantine with reasons.

For each source and area with files not yet standardised under the current rules:
headers mapped (``config/headers.yaml``), fields standardised (``sources.py``), the rows
validated with ``expectations/<source>.silver.json`` and a profile of each file with
``expectations/<source>.files.json``. A file breaking a blocking rule is held back whole;
every other row goes to silver or, with its reasons, to quarantine. Per file, rows in bronze
= rows in silver + rows in quarantine, checked on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import rentan
from rentan import lists as village_lists
from rentan.config import Config, load_config
from rentan.core.ledger import LOADED, Ledger, StandardisedFile, SubmissionList
from rentan.core.night import WIB
from rentan.core.paths import DataPaths
from rentan.core.progress import track
from rentan.core.settings import data_paths, side_by_side
from rentan.quality.reasons import REASONS
from rentan.quality.validation import EXPECTATIONS_DIR, Validator
from rentan.standardise.bronze import HEADERS_FILE, LINEAGE, fields_of, flatten, read_bronze
from rentan.standardise.sources import STANDARDISERS, Context
from rentan.standardise.villages import VillageResolver

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS = [
    "source", "source_file", "sheet", "row_number", "file_sha256", "load_id", "village_code", "regency_code",
    "reason_code", "field", "sender_header", "value", "reason", "alasan", "tindakan", "suggestions",
    "reason_codes", "name_given", "nik_given", "blocked",
]


class ConservationError(RuntimeError):
    """Rows were lost or counted twice between bronze and silver + quarantine."""


def rules_version() -> str:
    """Changes when a suite, a header spelling, a village-name cut-off or the code changes: files
    are then redone."""
    p = load_config().programme
    h = hashlib.sha256(rentan.__version__.encode())
    h.update(f"{p.village_fuzzy_cutoff_in_district},{p.village_fuzzy_cutoff_in_regency}".encode())
    for f in [*sorted(EXPECTATIONS_DIR.glob("*.json")), HEADERS_FILE]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


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


@dataclass
class StandardiseReport:
    load_id: str
    rules_version: str
    files: int = 0
    rows_in: dict = field(default_factory=lambda: defaultdict(int))
    rows_silver: dict = field(default_factory=lambda: defaultdict(int))
    rows_quarantine: dict = field(default_factory=lambda: defaultdict(int))
    reasons: dict = field(default_factory=lambda: defaultdict(int))
    blocked: list[Blocked] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    fix_lists: int = 0

    def as_dict(self) -> dict:
        key = lambda d: {f"{s}/{a}": n for (s, a), n in sorted(d.items())}  # noqa: E731
        return {
            "load_id": self.load_id, "rules_version": self.rules_version, "files": self.files,
            "rows_in": key(self.rows_in), "rows_silver": key(self.rows_silver),
            "rows_quarantine": key(self.rows_quarantine), "reasons": dict(sorted(self.reasons.items())),
            "blocked": [b.message() for b in self.blocked], "fix_lists": self.fix_lists,
        }



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
    work = paths.work / "standardise"
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"{layer}-{sha[:32]}.{os.getpid()}.parquet"
    pq.write_table(tbl, tmp, compression="zstd")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


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


def _area_batch(source: str, area: str, entries: list, paths: DataPaths, ctx: Context, validator: Validator,
                load_id: str, report: StandardiseReport) -> tuple[list[StandardisedFile], list[SubmissionList]]:
    log.info("standardise %s/%s: reading %d files from bronze", source, area, len(entries))
    flat = flatten(read_bronze([paths.root / e.bronze_path for e in entries]), source)
    rows = flat.rows
    std = STANDARDISERS[source](rows, flat.numeric, ctx)
    frame = pd.concat([rows[["row_id", *LINEAGE]], std], axis=1)

    log.info("standardise %s/%s: validating %d rows with %s.silver", source, area, len(frame), source)
    checked = validator.validate(f"{source}.silver", area, frame)
    row_fail = _by_row(checked.of_level("row"), frame)
    warn = _by_row(checked.of_level("warning"), frame)

    # the profile of each file, for the blocking rules
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
    report.blocked.extend(blocked.values())

    # quarantine: every row of a held-back file, and the failing rows of the others
    is_blocked = rows["source_file"].isin(list(blocked)).to_numpy()
    failing = np.zeros(len(rows), dtype=bool)
    failing[row_fail.index.to_numpy(dtype=np.int64)] = True
    to_quarantine = is_blocked | failing
    village_of_file = (frame.dropna(subset=["village_code"]).groupby("source_file")["village_code"]
                       .agg(lambda s: s.mode().iat[0])) if "village_code" in frame else pd.Series(dtype="string")

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

    silver = frame.loc[~to_quarantine].drop(columns=[c for c in frame if c.endswith("_reason")] + ["row_id"])
    silver = silver.drop(columns=[c for c in ("village_suggestions",) if c in silver])
    silver["warnings"] = pd.Series([c if isinstance(c, list) else [] for c in warn["codes"].reindex(silver.index)],
                                   index=silver.index, dtype=object)
    silver = _silver_types(silver)

    for code, n in q["reason_code"].value_counts().items():
        report.reasons[code] += int(n)
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
            rules_version=report.rules_version, rows_in=e.data_rows, rows_silver=n_s, rows_quarantine=n_q,
            blocked=b is not None, block_reason=b.message() if b else None, processed_at=now))
    report.rows_in[(source, area)] += len(rows)
    report.rows_silver[(source, area)] += len(silver)
    report.rows_quarantine[(source, area)] += len(q)
    report.files += len(entries)
    lists = _village_lists(entries, frame, village_of_file) if source == "submissions" else []
    return records, lists


def _village_lists(entries: list, frame: pd.DataFrame, village_of_file: pd.Series) -> list[SubmissionList]:
    """Whose list each submissions file is and for which year: the village most of its rows name
    (resolved to an official code), and the year most of its rows give in TAHUN, else the year
    (WIB) it was received. A later list of the same village and year supersedes it."""
    years = (frame.dropna(subset=["year"]).loc[lambda f: f["year"].between(2000, 2100)]
             .groupby("source_file")["year"].agg(lambda s: int(s.mode().iat[0])))
    out = []
    for e in entries:
        received = e.received_at if e.received_at.tzinfo else e.received_at.replace(tzinfo=dt.UTC)
        year = years.get(e.file)
        code = village_of_file.get(e.file)
        out.append(SubmissionList(
            sha256=e.sha256, file=e.file, area=e.area, village_code=None if pd.isna(code) else str(code),
            year=int(year) if year is not None else received.astimezone(WIB).year,
            year_from="rows" if year is not None else "received", rows=int(e.data_rows or 0), received_at=received))
    return out


def _rows_in(path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except FileNotFoundError:
        return 0


def check_conservation(paths: DataPaths, pending: dict[tuple[str, str], list]) -> list[tuple[str, int, int, int]]:
    """Files among ``pending`` ((source, area) -> ledger entries) whose bronze rows differ from
    their silver + quarantine rows. Each layer holds one file per received file, named by its
    content, so the counts come from those files' Parquet footers: only tonight's files are
    opened, however large the warehouse has grown."""
    jobs = [(e.sha256, paths.root / e.bronze_path,
             paths.layer("silver", source) / f"area={area}" / f"{e.sha256[:32]}.parquet",
             paths.layer("quarantine", source) / f"area={area}" / f"{e.sha256[:32]}.parquet")
            for (source, area), entries in pending.items() for e in entries]

    def count(job) -> tuple[str, int, int, int]:
        sha, *files = job
        return (sha, *(_rows_in(f) for f in files))

    with ThreadPoolExecutor(max_workers=side_by_side()) as pool:
        counts = list(pool.map(count, jobs))
    return [(sha, b, s, q) for sha, b, s, q in counts if b != s + q]


def standardise(
    paths: DataPaths | None = None,
    *,
    load_id: str,
    today: dt.date | None = None,
    config: Config | None = None,
    areas: list[str] | None = None,
    sources: list[str] | None = None,
) -> StandardiseReport:
    paths = paths or data_paths()
    config = config or load_config()
    today = today or dt.date.today()
    version = rules_version()
    report = StandardiseReport(load_id=load_id, rules_version=version)
    with Ledger(paths.ledger_url) as ledger:
        done = ledger.standardised(version)
        pending: dict[tuple[str, str], list] = defaultdict(list)
        for e in ledger.entries():
            if (e.status == LOADED and e.sha256 not in done and (not areas or e.area in areas)
                    and (not sources or e.source in sources)):
                pending[(e.source, e.area)].append(e)
        validator: Validator | None = None  # made with the first batch: GX takes seconds to import
        for (source, area), entries in sorted(pending.items()):
            regency = config.regencies.get(area) if config.sources[source] == "regency" else None
            branch = config.branches.get(area) if config.sources[source] == "branch" else None
            cutoffs = (config.programme.village_fuzzy_cutoff_in_district, config.programme.village_fuzzy_cutoff_in_regency)
            ctx = Context(today=today, regency=regency,
                          resolver=VillageResolver(regency.code, cutoffs) if regency else None,
                          branch_resolvers=[VillageResolver(config.regencies[r].code, cutoffs) for r in branch.regencies]
                          if branch and source == "membership" else [])
            validator = validator or Validator(paths.root / "gx")
            records, lists = _area_batch(source, area, entries, paths, ctx, validator, load_id, report)
            ledger.record_all(records)
            if lists:
                ledger.record_lists(lists)
                village_lists.record(paths, ledger, config.programme.revision_share)
            log.info("standardised %s/%s: %d files", source, area, len(entries))
        broken = check_conservation(paths, pending)
        if broken:
            raise ConservationError(
                "row conservation broken (bronze != silver + quarantine) for files with sha256 "
                + ", ".join(f"{sha[:12]} ({b} != {s} + {q})" for sha, b, s, q in broken))
        # the regencies whose villages get fix-lists tonight (rentan.exports.desa writes them)
        report.submitted = sorted({area for source, area in pending if source == "submissions"})
    log.info("standardise %s: %s", load_id, {k: v for k, v in report.as_dict().items() if k != "blocked"})
    return report
