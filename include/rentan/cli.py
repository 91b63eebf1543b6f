"""``rentan``: the command line of the pipeline's library."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys

from rentan.core.settings import data_paths


def _load_id(args) -> str:
    return args.load_id or "cli__" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")


def _snapshot(args) -> dt.date:
    return dt.date.fromisoformat(args.snapshot) if args.snapshot else dt.date.today()


def _sample(args) -> int:
    try:
        from rentan_dev.sample import generate
    except ImportError:
        print("rentan sample: the sample generator is a development tool (include/rentan_dev), not part of "
              "this installation; run it from a checkout of the repository (make install)", file=sys.stderr)
        return 2

    if args.scenario == "reports":
        from rentan_dev.sample.scenario import generate_reports

        summary = generate_reports(data_paths(args.data).root, seed=args.seed)
    elif args.regencies:
        from rentan.config import load_config
        from rentan_dev.sample.national import write_config

        # the configuration the landing zone is made for; the pipeline reads it through RENTAN_CONFIG
        root = data_paths(args.data).root
        chosen = write_config([c.strip() for c in args.regencies.split(",") if c.strip()],
                              root / "config" / "regencies.yaml")
        summary = generate(root, seed=args.seed, scale=args.scale, config=load_config(chosen))
        summary["config"] = str(chosen)
        print(f"the pipeline needs this configuration: export RENTAN_CONFIG={chosen}", file=sys.stderr)
    else:
        summary = generate(data_paths(args.data).root, seed=args.seed, scale=args.scale)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _ingest(args) -> int:
    from rentan.ingest import ingest

    load_id = _load_id(args)
    report = ingest(data_paths(args.data), load_id=load_id, areas=args.area or None)
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def _standardise(args) -> int:
    from rentan.pipeline import standardise_night

    load_id = _load_id(args)
    today = _snapshot(args)
    report = standardise_night(data_paths(args.data), load_id=load_id, today=today, areas=args.area or None)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.blocked else 0


def _identity(args) -> int:
    from rentan.identity import resolve

    load_id = _load_id(args)
    snapshot = _snapshot(args)
    print(json.dumps(resolve(data_paths(args.data), load_id=load_id, snapshot=snapshot), indent=2))
    return 0


def _review(args) -> int:
    from rentan.identity import decide

    if args.pair:
        decide(data_paths(args.data), args.pair, args.verdict == "same", by=args.by, note=args.note)
        print(f"recorded: pair {args.pair} is {args.verdict}; the next night applies it")
        return 0
    import duckdb

    queue = data_paths(args.data).warehouse / "silver" / "review_queue" / "review_queue.parquet"
    if not queue.exists():
        print("the review queue is empty")
        return 0
    print(duckdb.execute(f"select * from '{queue}'").df().to_string(index=False))
    return 0


def _marts(args) -> int:
    from rentan.pipeline import marts_night

    load_id = _load_id(args)
    snapshot = _snapshot(args)
    print(json.dumps(marts_night(data_paths(args.data), load_id=load_id, snapshot=snapshot), indent=2))
    return 0


def _export(args) -> int:
    from rentan.exports.bpjs import export

    load_id = _load_id(args)
    snapshot = _snapshot(args)
    report = export(data_paths(args.data), load_id=load_id, snapshot=snapshot, branches=args.branch or None)
    print(json.dumps(report, indent=2))
    return 0


class Problem(RuntimeError):
    """A one-line error with what to do about it."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def _published(args):
    """The warehouse, if it has published marts."""
    warehouse = data_paths(args.data).warehouse
    if not (warehouse / "marts").exists():
        raise Problem(f"no marts at {warehouse / 'marts'}: none have been published yet",
                      "run the nightly DAG (make demo, or `rentan marts --snapshot YYYY-MM-DD`) first")
    return warehouse


def _query(args) -> int:
    import csv

    from rentan.marts.views import query

    warehouse = _published(args)
    rel = query(warehouse, args.sql)
    if rel is None:
        return 0  # a statement with no result
    if args.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(rel.columns)
        out.writerows(rel.fetchall())
    else:
        rel.show(max_width=200, max_rows=args.max_rows)
    return 0


def _doctor(args) -> int:
    from rentan.doctor import run

    return run(args.data)


def _views(args) -> int:
    from rentan.marts.views import refresh

    if data_paths(args.data).remote:
        print("the data root is on object storage: `rentan query` reads its marts", file=sys.stderr)
        return 1
    warehouse = _published(args)
    if warehouse is None:
        return 1
    print(refresh(warehouse))
    return 0


def _template(args) -> int:
    from pathlib import Path

    from rentan.config import load_config
    from rentan.exports.template import template_name, write_template

    config = load_config()
    unknown = sorted(set(args.regency or []) - set(config.regencies))
    if unknown:
        raise ValueError(f"unknown regency {unknown}; configured: {sorted(config.regencies)}")
    out = Path(args.out)
    for slug in args.regency or list(config.regencies):
        regency = config.regencies[slug]
        print(write_template(out / template_name(regency), regency, config,
                             created=dt.datetime.combine(_snapshot(args), dt.time())))
    return 0


def _summary(args) -> int:
    from rentan.report import summary

    print(summary(data_paths(args.data)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rentan", description=__doc__)
    parser.add_argument("--data", help="data root (default: $RENTAN_DATA, else ./data of the repository)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    _sample_command(sub)
    _stage_commands(sub)
    _other_commands(sub)
    return parser


def _sample_command(sub) -> None:
    p = sub.add_parser("sample", help="write a realistic sample landing zone and its ground truth")
    p.add_argument("--seed", type=int, default=20250701)
    p.add_argument("--scale", type=float, default=1.0,
                   help="1 = three regencies at realistic volume; larger grows toward national size")
    p.add_argument("--scenario", choices=["default", "reports"], default="default",
                   help="reports: clean inputs that follow the news reports' figures (see README)")
    p.add_argument("--regencies", metavar="CODES",
                   help="the regencies to make it for, from the official reference: all, or province and "
                        "regency codes (16,18 or 16.04); writes their configuration to <data>/config/")
    p.set_defaults(func=_sample)


def _stage_commands(sub) -> None:
    """The night's stages, one command each: what the DAG's tasks do, by hand."""
    p = sub.add_parser("ingest", help="load new landing files into bronze (what the DAG's ingest task does)")
    p.add_argument("--load-id")
    p.add_argument("--area", action="append", help="only this area slug (repeatable)")
    p.set_defaults(func=_ingest)

    p = sub.add_parser("standardise", help="bronze to silver and quarantine (what the DAG's standardise task does)")
    p.add_argument("--load-id")
    p.add_argument("--snapshot", help="the day the run describes, YYYY-MM-DD (default: today)")
    p.add_argument("--area", action="append", help="only this area slug (repeatable)")
    p.set_defaults(func=_standardise)

    p = sub.add_parser("identity", help="persons and enrolment candidates (what the DAG's identity task does)")
    p.add_argument("--load-id")
    p.add_argument("--snapshot", help="the day the run describes, YYYY-MM-DD (default: today)")
    p.set_defaults(func=_identity)

    p = sub.add_parser("review", help="list the review queue, or decide a pair: review PAIR same|different --by NAME")
    p.add_argument("pair", nargs="?")
    p.add_argument("verdict", nargs="?", choices=["same", "different"])
    p.add_argument("--by", default="reviewer")
    p.add_argument("--note")
    p.set_defaults(func=_review)

    p = sub.add_parser("marts", help="build, audit and publish the marts of a snapshot (the DAG's marts task)")
    p.add_argument("--load-id")
    p.add_argument("--snapshot", help="the day the run describes, YYYY-MM-DD (default: today)")
    p.set_defaults(func=_marts)

    p = sub.add_parser("export", help="write the branches' packages of a published snapshot (the DAG's exports task)")
    p.add_argument("--load-id")
    p.add_argument("--snapshot", help="the snapshot, YYYY-MM-DD (default: today)")
    p.add_argument("--branch", action="append", help="only this branch slug (repeatable)")
    p.set_defaults(func=_export)


def _other_commands(sub) -> None:
    """The analysts' query, the blank forms, the summary and the checks."""
    p = sub.add_parser("query", help='run SQL on the analysts\' database, e.g. rentan query "from coverage_regency"')
    p.add_argument("sql")
    p.add_argument("--csv", action="store_true", help="print csv instead of a table")
    p.add_argument("--max-rows", type=int, default=100)
    p.set_defaults(func=_query)

    p = sub.add_parser("views", help="rewrite warehouse/rentan.duckdb for the data root as this machine sees it")
    p.set_defaults(func=_views)

    p = sub.add_parser("template", help="write each regency's blank submission form (xlsx) for its villages")
    p.add_argument("--regency", action="append", help="only this regency slug (repeatable)")
    p.add_argument("--out", default=".", help="folder to write into (default: here)")
    p.add_argument("--snapshot", help="the date the file is stamped with, YYYY-MM-DD (default: today)")
    p.set_defaults(func=_template)

    p = sub.add_parser("summary", help="print what was received and loaded")
    p.set_defaults(func=_summary)

    p = sub.add_parser("doctor", help="check the data root, ledger, configuration, secret and Airflow set-up")
    p.set_defaults(func=_doctor)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if sys.stderr.isatty():
        from rentan.core.progress import use_bars

        use_bars()
    try:
        _check_root(args)
        return _run(args)
    except KeyboardInterrupt:
        print(f"rentan {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.verbose:
            raise
        message, hint = explain(e, args)
        print(f"rentan {args.command}: {message}", file=sys.stderr)
        print(f"  hint: {hint} (rentan -v {args.command} ... shows the traceback)", file=sys.stderr)
        return 2


# commands that need a data root already there (sample makes one; doctor says what is missing)
_NEEDS_ROOT = ("ingest", "standardise", "identity", "review", "marts", "export", "query", "views", "summary")


def _check_root(args) -> None:
    from rentan.core.storage import remote_url

    if args.command not in _NEEDS_ROOT or remote_url(args.data) is not None:
        return
    root = data_paths(args.data).root
    if not root.is_dir():
        where = "--data" if args.data else ("RENTAN_DATA" if os.environ.get("RENTAN_DATA") else "the default ./data")
        raise Problem(f"no data root at {root} (from {where})",
                      "point RENTAN_DATA (or --data) at the data root, or make one with `rentan sample`; "
                      "`rentan doctor` checks the set-up")


def explain(e: BaseException, args) -> tuple[str, str]:
    """The one line an error deserves, and what to do about it."""
    if isinstance(e, Problem):
        return str(e), e.hint
    from rentan.faults import known_fault

    fault = known_fault(e)
    if fault:
        return fault
    kind = type(e).__module__.split(".")[0]
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if kind == "duckdb" or kind == "_duckdb":
        name = type(e).__name__
        lines = [x.strip() for x in str(e).splitlines() if x.strip()]
        first = " ".join(lines[:2]) if len(lines) > 1 and lines[1].startswith("Did you mean") else first
        if name == "CatalogException":
            from rentan.marts.names import MARTS

            return first, ("the analysts' views are " + ", ".join(MARTS) + " (each also as <mart>_history), "
                           "villages_missing, snapshots and dictionary; "
                           "`rentan query \"from dictionary\"` lists every column")
        if name in ("ParserException", "BinderException"):
            return first, ("check the SQL; `rentan query \"from dictionary where mart = 'coverage_regency'\"` "
                           "lists a mart's columns")
        return f"DuckDB: {first}", "check the SQL and the data root; `rentan doctor` checks the set-up"
    if kind == "sqlalchemy":
        try:
            url = data_paths(args.data).ledger_url
        except Exception:  # noqa: BLE001 - the hint must not fail in turn
            url = "not set"
        return (f"the ingestion ledger cannot be used ({type(e).__name__}: {first})",
                f"check RENTAN_LEDGER_URL or the data root (ledger: {url}); `rentan doctor` checks it")
    if isinstance(e, FileNotFoundError):
        return first, "check the path, RENTAN_DATA (or --data) and RENTAN_CONFIG; `rentan doctor` checks the set-up"
    if isinstance(e, PermissionError):
        return first, "the data root must be writable by this user"
    if isinstance(e, FileExistsError):
        return first, "choose another data root (--data or RENTAN_DATA)"
    if isinstance(e, OSError):
        return f"{type(e).__name__}: {first}", "check the path, the disk and the permissions"
    if isinstance(e, (RuntimeError, ValueError)):
        # the library's errors name the file, row or setting at fault: that is the message, whole
        return str(e).strip() or first, "`rentan doctor` checks the set-up"
    return f"{type(e).__name__}: {first}", "an unexpected error: please report it with the traceback"


def _run(args) -> int:
    from rentan.core.storage import SYNCED, remote_url, workspace

    url = remote_url(args.data)
    if url is None:
        return args.func(args)
    # a data root on object storage: the command works in a local checkout of it, and what it
    # changed goes back to the store; commands that only read send nothing back
    reads_only = args.command in ("query", "summary", "review", "views")
    with workspace(SYNCED, push=() if reads_only else SYNCED, url=url):
        args.data = None  # data_paths() is now the checkout
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
