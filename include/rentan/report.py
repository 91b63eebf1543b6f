"""The short account of a load a data engineer reads after a run."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from rentan.core.ledger import DUPLICATE, LOADED, UNREADABLE, Ledger
from rentan.core.paths import SOURCES, DataPaths


def bronze_glob(paths: DataPaths, source: str = "*") -> str:
    return (paths.warehouse / "bronze" / source / "**" / "*.parquet").as_posix()


def bronze_rows(paths: DataPaths) -> list[tuple[str, str, int]]:
    """(source, area, rows) in bronze, read back from the Parquet files with DuckDB."""
    if not any((paths.warehouse / "bronze").glob("*/*/*.parquet")):
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            "select split_part(filename, '/', -3) as source, area, count(*) "
            "from read_parquet(?, hive_partitioning=true, filename=true) group by all order by all",
            [bronze_glob(paths)],
        ).fetchall()
    finally:
        con.close()


def source_globs(paths: DataPaths, layer: str) -> list[str]:
    """One glob per received source that has files in the layer (silver also holds identity tables)."""
    return [(paths.warehouse / layer / s / "*" / "*.parquet").as_posix()
            for s in SOURCES
            if any((paths.warehouse / layer / s).glob("*/*.parquet"))]


def layer_rows(paths: DataPaths, layer: str) -> dict[tuple[str, str], int]:
    globs = source_globs(paths, layer)
    if not globs:
        return {}
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select split_part(filename, '/', -3), area, count(*) from read_parquet(?, hive_partitioning=true, "
            "filename=true, union_by_name=true) group by all", [globs]).fetchall()
    finally:
        con.close()
    return {(s, a): n for s, a, n in rows}


def quarantine_reasons(paths: DataPaths) -> list[tuple[str, str, int]]:
    base = paths.warehouse / "quarantine"
    if not any(base.glob("*/*/*.parquet")):
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            "select source, reason_code, count(*) from read_parquet(?, hive_partitioning=true, union_by_name=true) "
            "group by all order by 1, 3 desc", [(base / "**" / "*.parquet").as_posix()]).fetchall()
    finally:
        con.close()


def summary(paths: DataPaths) -> str:
    with Ledger(paths.ledger_url) as ledger:
        entries = ledger.entries()
        replaced = [lst for lst in ledger.submission_lists() if lst.superseded_by]
    out = [f"rentan: data root {paths.root}", ""]
    out += _received_lines(entries)
    out += _layer_lines(paths)
    out += coverage_lines(paths)
    out += package_lines(paths)
    out += _not_loaded_lines(entries)
    out += _replaced_lines(replaced)
    out += _where_lines(paths)
    return "\n".join(out)


def _received_lines(entries: list) -> list[str]:
    out = ["Files received (ingestion ledger)"]
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for e in entries:
        counts.setdefault((e.source, e.area or "-"), {}).setdefault(e.status, 0)
        counts[(e.source, e.area or "-")][e.status] += 1
    out.append(f"  {'source':<12} {'area':<16} {'loaded':>7} {'duplicate':>10} {'unreadable':>11}")
    for (source, area), c in sorted(counts.items()):
        out.append(f"  {source:<12} {area:<16} {c.get(LOADED, 0):>7} {c.get(DUPLICATE, 0):>10} "
                   f"{c.get(UNREADABLE, 0):>11}")
    return out


def _layer_lines(paths: DataPaths) -> list[str]:
    out = ["", "Rows in bronze (read back with DuckDB)"]
    rows = bronze_rows(paths)
    for source, area, n in rows:
        out.append(f"  {source:<12} {area:<16} {n:>9,}")
    out.append(f"  {'total':<29} {sum(n for *_, n in rows):>9,}")
    silver, quarantine = layer_rows(paths, "silver"), layer_rows(paths, "quarantine")
    if silver or quarantine:
        out += ["", "Standardised (silver) and turned back (quarantine)",
                f"  {'source':<12} {'area':<16} {'silver':>9} {'quarantine':>11}"]
        for key in sorted(set(silver) | set(quarantine)):
            out.append(f"  {key[0]:<12} {key[1]:<16} {silver.get(key, 0):>9,} {quarantine.get(key, 0):>11,}")
        out.append("  Reasons:")
        for source, code, n in quarantine_reasons(paths):
            out.append(f"    {source:<12} {code:<24} {n:>7,}")
    return out


def _not_loaded_lines(entries: list) -> list[str]:
    bad = [e for e in entries if e.status != LOADED]
    if not bad:
        return []
    out = ["", "Files not loaded, and why"]
    for e in bad:
        why = e.reason if e.status == UNREADABLE else f"duplicate of {e.duplicate_of}"
        out.append(f"  {e.file}: {why}")
    return out


def _replaced_lines(replaced: list) -> list[str]:
    if not replaced:
        return []
    out = ["", "Village lists a later list of the same village and year replaced (whole: a revision; some rows: corrections)"]
    for lst in replaced:
        how = "whole" if lst.rows_replaced >= lst.rows else f"{lst.rows_replaced} of {lst.rows} rows"
        out.append(f"  {lst.file}: {how}, by {lst.superseded_by}")
    return out


def _where_lines(paths: DataPaths) -> list[str]:
    return [
        "",
        "Where things are",
        f"  bronze      {paths.warehouse / 'bronze'}/<source>/area=<area>/*.parquet",
        f"  silver      {paths.warehouse / 'silver'}/<source>/area=<area>/*.parquet",
        f"  quarantine  {paths.warehouse / 'quarantine'}/<source>/area=<area>/*.parquet",
        f"  fix-lists   {paths.exports / 'desa'}/<regency>/<village code>/daftar_perbaikan_*.xlsx",
        f"  quality     {paths.root / 'reports' / 'quality'}/quality_<snapshot_date>.html (per night, offline)",
        f"  candidates  {paths.warehouse / 'silver' / 'enrolment_candidates'}/area=<regency>/candidates.parquet",
        "  review      rentan review   (the pairs a person must decide on)",
        f"  marts       {paths.warehouse / 'marts'}/<mart>/snapshot_date=<date>/*.parquet",
        f"  analysts    duckdb {paths.warehouse / 'rentan.duckdb'} -c \"from coverage_regency\"   (or: rentan query)",
        f"  exports     {paths.exports / 'bpjs'}/<branch>/<snapshot_date>/ (manifest.json lists the files)",
        f"  ledger      {paths.ledger_url}",
        "Query bronze with DuckDB, for example:",
        f"  duckdb -c \"select area, count(*) from read_parquet('{bronze_glob(paths, 'submissions')}', "
        "hive_partitioning=true) group by all\"",
    ]


def _money(v) -> str:
    return "n/a" if v is None else f"{int(v):,}"


def _n(v) -> str:
    return "n/a" if v is None else f"{int(v):,}"


def coverage_lines(paths: DataPaths) -> list[str]:
    """What the published marts say of their latest snapshot: each branch's completeness, coverage
    per regency, the proposals' outcome, claims paid and the village budgets, and the villages
    that have not submitted by their regency's deadline."""
    db = paths.warehouse / "rentan.duckdb"
    if not db.exists():
        return []
    m = _read_marts(db)
    snap = m["snap"]
    out = ["", f"The night of {snap} (published marts)"]
    for branch, complete, why in m["nights"]:
        out.append(f"  branch {branch:<16} " + ("complete" if complete else f"INCOMPLETE, no package: {why}"))
    out += _regency_lines(snap, m["rows"], m["missing"], m["deadline"])
    out += _proposal_lines(snap, m["props"])
    out += _claims_lines(snap, m["claims"])
    out += _budget_lines(snap, m["budget"])
    return out


def _read_marts(db: Path) -> dict:
    """What coverage_lines shows, read from the analysts' database of the published marts."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        snap = con.execute("select max(snapshot_date) from snapshots").fetchall()[0][0]
        nights = con.execute("select branch, complete, incomplete_reason from completeness order by branch").fetchall()
        rows = con.execute("""select regency, working_population, active_participants, coverage_pct, villages,
                                     villages_submitted, vulnerable_quota, vulnerable_enrolled, vulnerable_active,
                                     complete
                              from coverage_regency order by regency_code""").fetchall()
        props = con.execute("""select regency, sum(proposed), sum(valid), sum(duplicates), sum(already_covered),
                                      sum(already_enrolled), sum(needs_review), sum(ineligible),
                                      sum(eligible - over_quota), sum(over_quota)
                               from coverage_village group by regency, regency_code order by regency_code""").fetchall()
        claims = con.execute("""select branch, sum(claims), sum(amount_idr), sum(scholarship_children)
                                from claims_monthly group by 1 order by 1""").fetchall()
        budget = con.execute(f"""select regency, count(*), sum(contribution_budget_idr), sum(contribution_required_idr),
                                        sum(realised_idr), sum(gap_idr)
                                 from budget_village where fiscal_year = {snap.year} group by regency, regency_code
                                 order by regency_code""").fetchall()
        missing = con.execute("""select regency, count(*), string_agg(village_name, ', ' order by village_code)
                                 from villages_missing group by all order by 1""").fetchall()
        deadline = dict(con.execute("select regency, submission_deadline from coverage_regency").fetchall())
    finally:
        con.close()
    return {"snap": snap, "nights": nights, "rows": rows, "props": props, "claims": claims, "budget": budget,
            "missing": missing, "deadline": deadline}


def _regency_lines(snap, rows: list, missing: list, deadline: dict) -> list[str]:
    out = ["", f"Coverage per regency (snapshot {snap})",
           f"  {'regency':<16} {'workers':>9} {'active':>8} {'coverage':>10} {'villages':>9} {'submitted':>10} "
           f"{'quota':>7} {'enrolled':>9} {'paid up':>8}"]
    for reg, pop, act, pct, vil, sub, quota, enr, paid, complete in rows:
        pct_s = ("incomplete" if not complete else f"{pct:.2f}%" if pct is not None else "n/a")
        out.append(f"  {reg:<16} {_n(pop):>9} {_n(act):>8} {pct_s:>10} {vil:>9,} {sub:>10,} {quota:>7,} "
                   f"{_n(enr):>9} {_n(paid):>8}")
    out.append("  (coverage = active participants / working population; n/a: no population figure configured;")
    out.append("   incomplete: the branch's membership extract is missing, held back or did not load tonight)")
    for reg, n, names in missing:
        when = f"by the deadline {deadline[reg]}" if deadline.get(reg) else "yet"
        shown = names if len(names) <= 300 else names[:300].rsplit(", ", 1)[0] + ", ..."
        out.append(f"  {reg}: {n} villages have not submitted {when}: {shown}")
    return out


def _proposal_lines(snap, props: list) -> list[str]:
    out = ["", f"Proposals per regency (snapshot {snap})",
           f"  {'regency':<16} {'proposed':>9} {'valid':>7} {'duplicate':>10} {'covered':>8} {'renewal':>8} "
           f"{'review':>7} {'65+':>5} {'to enrol':>9} {'over quota':>11}"]
    for reg, *v in props:
        out.append(f"  {reg:<16} {_n(v[0]):>9} {_n(v[1]):>7} {_n(v[2]):>10} {_n(v[3]):>8} {_n(v[4]):>8} "
                   f"{_n(v[5]):>7} {_n(v[6]):>5} {_n(v[7]):>9} {_n(v[8]):>11}")
    out.append("  (covered: active PU member or BPU paid by another payer; renewal: BPU already paid by the village)")
    return out


def _claims_lines(snap, claims: list) -> list[str]:
    if not claims:
        return []
    out = ["", f"Claims paid, all months to {snap}",
           f"  {'branch':<16} {'claims':>8} {'amount (Rp)':>18} {'scholarship children':>21}"]
    for branch, n, amount, kids in claims:
        out.append(f"  {branch:<16} {_n(n):>8} {_money(amount):>18} {_n(kids):>21}")
    return out


def _budget_lines(snap, budget: list) -> list[str]:
    if not budget:
        return []
    out = ["", f"Village budgets, fiscal year {snap.year}",
           f"  {'regency':<16} {'villages':>9} {'budgeted (Rp)':>16} {'required (Rp)':>16} {'realised (Rp)':>16} "
           f"{'gap (Rp)':>16}"]
    for reg, n, bud, req, real, gap in budget:
        out.append(f"  {reg:<16} {n:>9,} {_money(bud):>16} {_money(req):>16} {_money(real):>16} {_money(gap):>16}")
    out.append("  (required = enrolled x monthly iuran x programme months; gap = required - budgeted)")
    return out


def package_lines(paths: DataPaths) -> list[str]:
    """The latest package of each BPJS TK branch, from its manifest."""
    out = []
    for branch in sorted(p for p in (paths.exports / "bpjs").glob("*") if p.is_dir()):
        nights = sorted(p for p in branch.glob("*/manifest.json"))
        if not nights:
            continue
        m = json.loads(nights[-1].read_text(encoding="utf-8"))
        files = ", ".join(f"{name} ({f['rows']:,} rows)" for name, f in sorted(m["files"].items()))
        out.append(f"  {m['branch']:<16} {nights[-1].parent}: {files}")
    return ["", "Packages for the BPJS TK branches (latest night, see manifest.json)", *out] if out else []
