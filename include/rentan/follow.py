"""Follow a running ``airflow dags test`` log and say, stage by stage, what the night is doing.

``python -m rentan.follow LOG --pid PID`` (what ``make demo`` runs beside the DAG): prints each
task's start, the progress lines our stages log (files done of total), and each task's end with
its time and a one-line summary of what it returned; it stops when the process ``PID`` ends.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import time

START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
RETURNED = re.compile(r"Done\. Returned value was: (.*?) \[airflow\.task")
PROGRESS = re.compile(r"\] ((?:ingest|standardise|export|marts|sample|identity)[^\[{]*?) +\[rentan[.\w]*\]")
FAILED = re.compile(r"(Task failed with exception|state=failed|Marking task as FAILED)")
SUMMARY_KEYS = ("source", "area", "files_loaded", "rows_loaded", "records", "persons", "proposals", "review_pairs",
                "published", "version", "blocked")


def _summary(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text[:120]
    if isinstance(value, dict):
        parts = [f"{k} {value[k]}" for k in SUMMARY_KEYS if k in value and not isinstance(value[k], (dict, list))]
        if isinstance(value.get("blocked"), list):
            parts.append(f"{len(value['blocked'])} file(s) held back")
        if "published" in value and isinstance(value.get("rows"), dict):
            parts.append(f"{sum(value['rows'].values()):,} mart rows")
        if isinstance(value.get("branches"), dict):
            parts.append("packages: " + ", ".join(value["branches"]))
        return ", ".join(parts)[:160]
    if isinstance(value, list):
        return ", ".join(map(str, value))[:160]
    return str(value)[:160]


def _alive(pid: int | None) -> bool:
    from rentan.core.files import process_alive

    return pid is None or process_alive(pid)


def follow(log: str, pid: int | None = None, out=sys.stdout) -> None:
    started: dict[tuple[str, str], float] = {}
    returned: dict[tuple[str, str], str] = {}
    current: tuple[str, str] | None = None
    while not os.path.exists(log):
        if not _alive(pid):
            return
        time.sleep(0.2)
    with open(log, encoding="utf-8", errors="replace") as fh:
        while True:
            line = fh.readline()
            if not line:
                if not _alive(pid):
                    return
                time.sleep(0.3)
                continue
            if m := START.search(line):
                current = (m.group(1), m.group(2))
                started[current] = time.monotonic()
                label = current[0] + (f"[{current[1]}]" if current[1] != "-1" else "")
                print(f"  > {label} ...", file=out, flush=True)
            elif m := RETURNED.search(line):
                if current:
                    returned[current] = _summary(m.group(1))
            elif m := END.search(line):
                key = (m.group(1), m.group(2))
                label = key[0] + (f"[{key[1]}]" if key[1] != "-1" else "")
                took = time.monotonic() - started.get(key, time.monotonic())
                summary = returned.get(key, "")
                print(f"  + {label} done in {took:.1f} s" + (f": {summary}" if summary else ""), file=out, flush=True)
            elif m := PROGRESS.search(line):
                print(f"      {m.group(1).strip()}", file=out, flush=True)
            elif FAILED.search(line) and current:
                print(f"  ! {current[0]} failed (see the log)", file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rentan.follow", description=__doc__)
    p.add_argument("log")
    p.add_argument("--pid", type=int, help="stop when this process ends")
    args = p.parse_args(argv)
    follow(args.log, args.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
