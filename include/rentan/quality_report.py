"""The night's data-quality report: one self-contained HTML file per snapshot, readable offline.

``reports/quality/quality_<snapshot>.html`` under the data root: the files received by the
night's cut-off (loaded, duplicate, unreadable, held back), the rows per layer, every validation
rule of the suites with the rows it turned back, and the quarantine by reason and by village.
Its style is inline and it has no script: it opens from a file share, a mail attachment or the
coverage page alike, with no network. (Great Expectations' own Data Docs load their scripts and
styles from the internet, and are an empty page without it; they are no longer built.)

It shows counts, reason codes and village codes only: no NIK, name or cell value.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import shutil
from collections.abc import Collection
from pathlib import Path

import duckdb

from rentan.core.night import WIB
from rentan.core.night import end_of_day as snapshot_cutoff
from rentan.core.paths import SOURCES, DataPaths

log = logging.getLogger(__name__)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1f2933;
padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #e4e7eb;
padding-bottom:.3rem}.meta{color:#616e7c}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}th{background:#f5f7fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}.bar{background:#e4e7eb;height:.8rem;border-radius:2px;min-width:8rem}
.bar span{display:block;height:100%;background:#d64545;border-radius:2px}.ok{color:#1f7a3a}.bad{color:#b42318;font-weight:600}
.tag{display:inline-block;padding:0 .4rem;border-radius:3px;background:#eef2f7;font-size:.8rem;margin:0 .2rem .2rem 0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #e4e7eb;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
"""


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def _n(v) -> str:
    return f"{v:,}" if isinstance(v, int) else _e(v)


def _table(headers: list[str], rows: list[list], numeric: Collection[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{_n(c)}</td>' if i in numeric else f"<td>{c if isinstance(c, Markup) else _e(c)}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if rows else "<p>None.</p>"


class Markup(str):
    """HTML we built ourselves (a bar, a tag list): not escaped again."""


def _bar(n: int, top: int) -> Markup:
    return Markup(f'<div class="bar"><span style="width:{100 * n / top if top else 0:.1f}%"></span></div>')


def _rules() -> list[dict]:
    from rentan.quality.validation import EXPECTATIONS_DIR

    out = []
    for source in SOURCES:
        for layer in ("files", "silver"):
            f = EXPECTATIONS_DIR / f"{source}.{layer}.json"
            if not f.exists():
                continue
            for e in json.loads(f.read_text(encoding="utf-8"))["expectations"]:
                m = e.get("meta") or {}
                out.append({"suite": f.stem, "rule": m.get("rule"), "level": m.get("level"),
                            "field": m.get("field"), "reason_code": m.get("reason_code"),
                            "finer": bool(m.get("reason_column")),
                            "description": (e.get("description") or e["type"]).split("] ", 1)[-1]})
    return out


def _layer_rows(paths: DataPaths, shas: list[str]) -> list[tuple[str, str, int, int, int]]:
    if not shas:
        return []
    con = duckdb.connect()
    try:
        con.execute("create table wanted (file_sha256 varchar)")
        con.executemany("insert into wanted values (?)", [[s] for s in shas])
        parts = []
        for layer in ("bronze", "silver", "quarantine"):
            for s in SOURCES:
                if any((paths.warehouse / layer / s).glob("*/*.parquet")):
                    g = (paths.warehouse / layer / s / "*" / "*.parquet").as_posix()
                    parts.append(f"select '{layer}' as layer, '{s}' as source, area, count(*) as n "
                                 f"from read_parquet('{g}', hive_partitioning = true, union_by_name = true) "
                                 "semi join wanted using (file_sha256) group by all")
        if not parts:
            return []
        return con.execute(f"""
            pivot ({' union all '.join(parts)}) on layer in ('bronze', 'silver', 'quarantine') using sum(n)
            order by source, area""").fetchall()
    finally:
        con.close()


def render(paths: DataPaths, snapshot: dt.date, load_id: str | None = None) -> str:
    """The report's HTML."""
    from rentan.overview import night as night_of

    night = night_of(paths, snapshot, load_id)
    cutoff, shas, not_loaded = _ledger_files(paths, snapshot)
    q = night["quarantine"]
    files = night["files"]
    totals = {k: sum(f[k] for f in files) for k in ("received", "loaded", "duplicate", "unreadable")}
    layers = _layer_rows(paths, shas)
    by_reason = {r["reason_code"]: r["rows"] for r in q["by_reason"]}
    names = _village_names(q["by_village"])
    now = dt.datetime.now(WIB)

    out = _head(snapshot, load_id, cutoff, now, night, totals)
    out += _files_section(night, files, not_loaded)
    out += _layers_section(layers)
    out += _rules_section(by_reason)
    out += _quarantine_section(q, names)
    out.append("</body></html>\n")
    return "\n".join(out)


def _ledger_files(paths: DataPaths, snapshot: dt.date) -> tuple[dt.datetime, list[str], list]:
    """The night's cut-off, the files current at it, and the entries received before it that were not loaded."""
    from rentan.core.ledger import LOADED, Ledger

    with Ledger(paths.ledger_url) as ledger:
        cutoff = snapshot_cutoff(snapshot)
        shas = sorted(ledger.current_files(cutoff))
        not_loaded = [e for e in ledger.entries() if e.status != LOADED
                      and (e.received_at if e.received_at.tzinfo else e.received_at.replace(tzinfo=dt.UTC))
                      < cutoff]
    return cutoff, shas, not_loaded


def _village_names(by_village: list[dict]) -> dict:
    from rentan.reference import villages as reference_villages

    names = {}
    if by_village:
        ref = reference_villages(sorted({v["village_code"][:5] for v in by_village}))
        names = dict(zip(ref["code"], ref["name"]))
    return names


def _head(snapshot: dt.date, load_id: str | None, cutoff: dt.datetime, now: dt.datetime, night: dict,
          totals: dict[str, int]) -> list[str]:
    q = night["quarantine"]
    return [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>rentan data quality, night of {snapshot}</title><style>{CSS}</style></head><body>",
            f"<h1>Data quality, night of {snapshot}</h1>",
            f"<p class=\"meta\">Files received by {cutoff.strftime('%Y-%m-%d %H:%M')} WIB (the night's cut-off); "
            f"run {_e(load_id or 'not recorded')}; written {now.strftime('%Y-%m-%d %H:%M')} WIB.</p>",
            '<div class="cards">'
            f'<div class="card"><b>{totals["received"]:,}</b>files received</div>'
            f'<div class="card"><b>{totals["loaded"]:,}</b>loaded</div>'
            f'<div class="card"><b>{totals["duplicate"]:,}</b>duplicates</div>'
            f'<div class="card"><b class="{"bad" if totals["unreadable"] else "ok"}">{totals["unreadable"]:,}</b>'
            "unreadable</div>"
            f'<div class="card"><b class="{"bad" if night["blocked_files"] else "ok"}">'
            f'{len(night["blocked_files"]):,}</b>held back tonight</div>'
            f'<div class="card"><b>{q["rows"]:,}</b>rows in quarantine</div></div>']


def _files_section(night: dict, files: list[dict], not_loaded: list) -> list[str]:
    out = ["<h2>Files</h2>"]
    out.append(_table(["source", "area", "received", "loaded", "duplicate", "unreadable"],
                      [[f["source"], f["area"], f["received"], f["loaded"], f["duplicate"], f["unreadable"]]
                       for f in files], {2, 3, 4, 5}))
    if night["failed_loads"]:
        out.append("<p class=\"bad\">Loads that failed in this run:</p>")
        out.append(_table(["source", "area", "error"], [[f["source"], f["area"], f["error"]]
                                                         for f in night["failed_loads"]]))
    if night["blocked_files"]:
        out.append("<p class=\"bad\">Files held back whole by a blocking rule in this run:</p>")
        out.append(_table(["file", "reason"], [[b["file"], b["reason"]] for b in night["blocked_files"]]))
    out.append("<h3>Not loaded, and why</h3>")
    out.append(_table(["file", "status", "reason"],
                      [[e.file, e.status, e.reason or f"same content as {e.duplicate_of}"] for e in not_loaded]))
    return out


def _layers_section(layers: list[tuple[str, str, int, int, int]]) -> list[str]:
    return ["<h2>Rows per layer</h2><p class=\"meta\">Every loaded row is in silver or in quarantine, "
            "never both (checked on every run).</p>",
            _table(["source", "area", "bronze", "silver", "quarantine"],
                   [[s, a, int(b or 0), int(v or 0), int(x or 0)] for s, a, b, v, x in layers], {2, 3, 4})]


def _rules_section(by_reason: dict[str, int]) -> list[str]:
    out = ["<h2>Rules</h2><p class=\"meta\">The suites under <code>expectations/</code>: <b>blocking</b> rules "
           "hold a file back whole, <b>row</b> rules send a row to quarantine, <b>warning</b> rules flag it "
           "in silver. Rows counted by their first reason; a rule marked * gives finer reason codes "
           "(listed under Quarantine by reason).</p>"]
    rules = _rules()
    out.append(_table(["suite", "rule", "level", "field", "reason code", "what it checks", "rows turned back"],
                      [[r["suite"], r["rule"] + (" *" if r["finer"] else ""), r["level"], r["field"],
                        r["reason_code"], r["description"], by_reason.get(r["reason_code"], 0)]
                       for r in rules], {6}))
    return out


def _quarantine_section(q: dict, names: dict) -> list[str]:
    out = ["<h2>Quarantine by reason</h2>"]
    top = max((r["rows"] for r in q["by_reason"]), default=0)
    out.append(_table(["reason code", "rows", "", "reason", "alasan"],
                      [[r["reason_code"], r["rows"], _bar(r["rows"], top), r["reason"], r["alasan"]]
                       for r in q["by_reason"]], {1}))
    out.append("<h2>Quarantine by village</h2><p class=\"meta\">The 50 villages with most rows turned back; "
               "each village's fix-list is under <code>exports/desa/</code>.</p>")
    top = max((v["rows"] for v in q["by_village"]), default=0)
    out.append(_table(["area", "village code", "village", "rows", "", "reasons"],
                      [[v["area"], v["village_code"], names.get(v["village_code"], ""), v["rows"],
                        _bar(v["rows"], top),
                        Markup("".join(f'<span class="tag">{_e(c)}</span>' for c in v["reasons"]))]
                       for v in q["by_village"]], {3}))
    return out


def write(paths: DataPaths, snapshot: dt.date, load_id: str | None = None) -> Path:
    """Write the night's report (replacing an earlier one of the same night) and remove the Data
    Docs an older release built, whose pages need the internet."""
    target = paths.quality_report(snapshot)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(render(paths, snapshot, load_id), encoding="utf-8")
    os.replace(tmp, target)
    shutil.rmtree(paths.root / "gx" / "data_docs", ignore_errors=True)
    log.info("quality report of %s: %s", snapshot, target)
    return target
