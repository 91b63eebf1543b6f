"""What the coverage and review pages show, read from the published marts (and the ledger).

Plain functions returning JSON-able dicts: the Airflow plugin (``plugins/rentan_pages.py``)
renders them, the tests call them directly. Every figure here is read from a mart as published
(``warehouse/marts``), never recomputed; the night's file counts come from the ingestion ledger,
the quarantine counts from the quarantine layer (the files received by the snapshot's cut-off),
and the branch packages from their manifests.

The marts may gain columns (a regency's ``complete`` / ``incomplete_reason`` marks): they are
shown when present and left out when not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb

from rentan.core.night import end_of_day as snapshot_cutoff
from rentan.core.paths import DataPaths
from rentan.marts.views import dictionary

# a snapshot, a branch slug, a package file name: what a URL may name
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLUG = re.compile(r"^[a-z0-9-]+$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.(xlsx|csv|json)$")


class NotPublished(LookupError):
    """No marts have been published (or not that snapshot)."""


def _marts(paths: DataPaths) -> Path:
    marts = paths.warehouse / "marts"
    if not any((marts / "coverage_regency").glob("snapshot_date=*/*.parquet")):
        raise NotPublished(f"no marts published under {marts} yet: run the nightly DAG (or `rentan marts`)")
    return marts


def snapshots(paths: DataPaths) -> list[str]:
    """The published nights, newest first."""
    marts = _marts(paths)
    return sorted((p.name.split("=", 1)[1] for p in (marts / "coverage_regency").glob("snapshot_date=*")
                   if any(p.glob("*.parquet"))), reverse=True)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, (_plain(v) for v in r))) for r in rel.fetchall()]


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def _table(marts: Path, mart: str, snapshot: str) -> str:
    part = marts / mart / f"snapshot_date={snapshot}"
    if not any(part.glob("*.parquet")):
        return (f"(select * from read_parquet('{(marts / mart).as_posix()}/*/*.parquet', hive_partitioning = true) "
                "where false)")
    return f"read_parquet('{part.as_posix()}/*.parquet')"


def published_version(paths: DataPaths) -> dict:
    """The current marts version's record: which run published it, when, of which night."""
    f = paths.warehouse / "marts" / "_version.json"
    if not f.exists():
        return {}
    v = json.loads(f.read_text(encoding="utf-8"))
    return {k: v.get(k) for k in ("published_at", "load_id", "snapshot_date", "build_id")}


def coverage(paths: DataPaths, snapshot: str | None = None) -> dict:
    """Everything the coverage page shows for one published night (default: the latest)."""
    nights = snapshots(paths)
    snapshot = snapshot or nights[0]
    if snapshot not in nights:
        raise NotPublished(f"no marts published for {snapshot}; published: {', '.join(nights)}")
    marts = _marts(paths)
    con = duckdb.connect()
    try:
        reg = _table(marts, "coverage_regency", snapshot)
        vil = _table(marts, "coverage_village", snapshot)
        bud = _table(marts, "budget_village", snapshot)
        clm = _table(marts, "claims_monthly", snapshot)
        regencies = _rows(con, f"select * from {reg} order by regency_code")
        missing = _rows(con, f"""
            select regency, count(*) as villages_missing,
                   list(village_name order by village_code) as names
            from {vil} where not submitted group by all""")
        budget = _rows(con, f"""
            select regency, count(*) as villages_budgeted,
                   sum(contribution_required_idr)::bigint as contribution_required_idr,
                   sum(contribution_budget_idr)::bigint as contribution_budget_idr,
                   sum(realised_idr)::bigint as realised_idr, sum(gap_idr)::bigint as gap_idr,
                   count(*) filter (where gap_idr > 0) as villages_short
            from {bud} where fiscal_year = {int(snapshot[:4])} group by all""")
        claims = _rows(con, f"""
            select c.month, r.regency, c.claim_type, sum(c.claims)::bigint as claims,
                   sum(c.amount_idr)::bigint as amount_idr
            from {clm} c left join {reg} r using (regency_code)
            group by all order by 1, 2, 3""")
    finally:
        con.close()
    by = {r["regency"]: r for r in missing}
    money = {r["regency"]: r for r in budget}
    for r in regencies:
        m = by.get(r["regency"], {})
        r["villages_missing"] = m.get("villages_missing", 0)
        r["missing_villages"] = m.get("names", [])
        b = money.get(r["regency"], {})
        for k in ("villages_budgeted", "contribution_required_idr", "contribution_budget_idr", "realised_idr",
                  "gap_idr", "villages_short"):
            r[k] = b.get(k)
    version = published_version(paths)
    night_load = version.get("load_id") if version.get("snapshot_date") == snapshot else None
    return {
        "snapshot": snapshot,
        "snapshots": nights,
        "published": version if night_load else {},
        "columns": dictionary()["coverage_regency"]["columns"],
        "has_completeness": any("complete" in r for r in regencies),
        "regencies": regencies,
        "claims": claims,
        "night": night(paths, dt.date.fromisoformat(snapshot), night_load),
        "packages": packages(paths, snapshot),
        "quality_report": quality_report_name(paths, snapshot),
    }


def night(paths: DataPaths, snapshot: dt.date, load_id: str | None = None) -> dict:
    """How complete the night's inputs were: the files received by its cut-off, loaded or not;
    the loads that failed and the files held back in the run that published it; the rows in
    quarantine, by reason and regency."""
    from sqlalchemy import select

    from rentan.core.ledger import LOADED, Ledger, StandardisedFile

    cutoff = snapshot_cutoff(snapshot)
    with Ledger(paths.ledger_url) as ledger:
        entries = ledger.entries()
        failed, blocked = [], []
        if load_id:
            # a load that failed, was killed or never started: still unfinished in the ledger
            failed = [{"source": f.source, "area": f.area, "error": f.error or f"{f.state}, never finished"}
                      for f in ledger.unfinished_loads(load_id)]
            with ledger.session() as s:
                blocked = [{"source": b.source, "area": b.area, "file": b.file, "reason": b.block_reason}
                           for b in s.scalars(select(StandardisedFile).where(
                               StandardisedFile.load_id == load_id, StandardisedFile.blocked.is_(True)))]

    def received(e) -> bool:
        at = e.received_at if e.received_at.tzinfo else e.received_at.replace(tzinfo=dt.UTC)
        return at < cutoff

    seen = [e for e in entries if received(e)]
    files: dict[tuple[str, str], dict[str, int]] = {}
    for e in seen:
        c = files.setdefault((e.source, e.area or "-"), {"received": 0, "loaded": 0, "duplicate": 0, "unreadable": 0})
        c["received"] += 1
        c[e.status] = c.get(e.status, 0) + 1
    loaded = sorted({e.sha256 for e in seen if e.status == LOADED})
    return {
        "load_id": load_id,
        "cutoff": cutoff.isoformat(),
        "files": [{"source": s, "area": a, **c} for (s, a), c in sorted(files.items())],
        "tonight": [{"file": e.file, "status": e.status, "reason": e.reason} for e in entries
                    if load_id and e.load_id == load_id],
        "failed_loads": failed,
        "blocked_files": blocked,
        "quarantine": quarantine(paths, loaded),
    }


def quarantine(paths: DataPaths, shas: list[str]) -> dict:
    """Rows turned back at validation among the files ``shas``: by reason, regency and village."""
    base = paths.warehouse / "quarantine"
    if not shas or not any(base.glob("*/*/*.parquet")):
        return {"rows": 0, "by_reason": [], "by_regency": [], "by_village": []}
    con = duckdb.connect()
    try:
        con.execute("create table wanted (file_sha256 varchar)")
        con.executemany("insert into wanted values (?)", [[s] for s in shas])
        con.execute(f"""create table q as
            select source, area, reason_code, reason, alasan, village_code, blocked
            from read_parquet('{(base / "**" / "*.parquet").as_posix()}', hive_partitioning = true,
                              union_by_name = true)
            semi join wanted using (file_sha256)""")
        total = con.execute("select count(*) from q").fetchall()[0][0]
        by_reason = _rows(con, """select reason_code, any_value(reason) as reason, any_value(alasan) as alasan,
                                         count(*) as rows from q group by all order by rows desc, reason_code""")
        by_regency = _rows(con, "select source, area, count(*) as rows from q group by all order by 1, 2")
        by_village = _rows(con, """select area, village_code, count(*) as rows,
                                          list(distinct reason_code order by reason_code) as reasons
                                   from q where village_code is not null
                                   group by all order by rows desc, village_code limit 50""")
    finally:
        con.close()
    return {"rows": int(total), "by_reason": by_reason, "by_regency": by_regency, "by_village": by_village}


def packages(paths: DataPaths, snapshot: str) -> list[dict]:
    """Each branch's package of the night, from its manifest (written last: a package without
    one is not complete)."""
    out = []
    for manifest in sorted((paths.exports / "bpjs").glob(f"*/{snapshot}/manifest.json")):
        m = json.loads(manifest.read_text(encoding="utf-8"))
        out.append({"branch": m["branch"], "branch_name": m.get("branch_name"), "snapshot": snapshot,
                    "regencies": m.get("regencies", []),
                    "files": [{"name": n, "rows": f["rows"]} for n, f in sorted(m["files"].items())]})
    return out


def package_file(paths: DataPaths, branch: str, snapshot: str, name: str) -> Path:
    """The file of a branch package a link names; only files its manifest lists."""
    if not (_SLUG.match(branch) and _DATE.match(snapshot) and _FILE.match(name)):
        raise FileNotFoundError("no such package file")
    folder = paths.exports / "bpjs" / branch / snapshot
    manifest = folder / "manifest.json"
    if not manifest.exists():
        raise FileNotFoundError(f"no package of {branch} for {snapshot}")
    listed = set(json.loads(manifest.read_text(encoding="utf-8"))["files"]) | {"manifest.json"}
    if name not in listed:
        raise FileNotFoundError(f"{name} is not in the package of {branch} for {snapshot}")
    return folder / name


def quality_report_name(paths: DataPaths, snapshot: str) -> str | None:
    """The file name of the night's quality report, if one was written."""
    path = paths.quality_report(dt.date.fromisoformat(snapshot))
    return path.name if path.exists() else None


def review_queue(paths: DataPaths) -> dict:
    """The pairs of the last identity run a reviewer must decide on, with any verdict already
    recorded (applied by the next night)."""
    from sqlalchemy import select

    from rentan.core.ledger import Ledger, ReviewDecision

    queue = paths.warehouse / "silver" / "review_queue" / "review_queue.parquet"
    pairs = []
    if queue.exists():
        con = duckdb.connect()
        try:
            rel = con.sql(f"select * from read_parquet('{queue.as_posix()}')")
            # by what is at stake (a proposal about to be enrolled first), where the queue says so
            order = "stake_rank, pair_id" if "stake_rank" in rel.columns else "pair_id"
            pairs = _rows(con, f"select * from read_parquet('{queue.as_posix()}') order by {order}")
        finally:
            con.close()
    with Ledger(paths.ledger_url) as ledger, ledger.session() as s:
        decided = {d.pair_id: {"same_person": d.same_person, "decided_by": d.decided_by, "note": d.note,
                               "decided_at": _plain(d.decided_at)}
                   for d in s.scalars(select(ReviewDecision).order_by(ReviewDecision.id))}
    for p in pairs:
        p["decision"] = decided.get(p["pair_id"])
    return {"pairs": pairs, "pending": sum(1 for p in pairs if p["decision"] is None)}
