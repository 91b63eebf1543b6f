"""The identity stage's night: records, then persons, then each proposal's status, then the outputs."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import resource
import shutil
import time

from rentan.config import Config, load_config
from rentan.core.db import connect
from rentan.core.ledger import Ledger, ReviewDecision
from rentan.core.night import end_of_day
from rentan.core.paths import DataPaths
from rentan.core.settings import data_paths
from rentan.identity import candidates, outputs, persons, records
from rentan.identity.keys import secret
from rentan.identity.model import load_model

log = logging.getLogger("rentan.identity")


class _Clock:
    """Seconds spent in each phase of a night (wall, and CPU over all threads), for the report."""

    def __init__(self) -> None:
        self.t, self.c = time.perf_counter(), _cpu()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        self.seconds[phase] = round(self.seconds.get(phase, 0) + now - self.t, 2)
        self.cpu[phase] = round(self.cpu.get(phase, 0) + cpu - self.c, 2)
        self.t, self.c = now, cpu


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def resolve(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date,
            config: Config | None = None, cutoff: dt.datetime | None = None) -> dict:
    """Persons and enrolment candidates of ``snapshot``, from the files received before ``cutoff``
    (default: the end of the snapshot's day, WIB)."""
    paths = paths or data_paths()
    config = config or load_config()
    work = paths.work / "identity" / f"run-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    stage = work / "out"
    clock = _Clock()
    with Ledger(paths.ledger_url) as ledger, contextlib.closing(connect(work)) as con:
        n_records = records.load(con, paths, ledger, cutoff or end_of_day(snapshot), config)
        clock.lap("load")
        if n_records == 0:
            outputs.clear(paths, snapshot)
            log.info("identity: nothing received by %s", snapshot)
            return {"load_id": load_id, "snapshot": snapshot.isoformat(), "records": 0}
        model = load_model()
        pairs, passes = persons.match(con, model, ledger, snapshot, clock.lap)
        grouping = persons.group(con, pairs, secret())
        clock.lap("persons")
        candidates.statuses(con, grouping.review, snapshot, config)
        queue = candidates.review_queue(con, grouping.review, model)
        clock.lap("candidates")
        linked_lines = outputs.write(con, paths, stage, queue, load_id, model.version, clock.lap)
        stats = dict(con.execute("select status, count(*) from candidates group by 1 order by 1").fetchall())
        n_persons = con.execute("select count(distinct person_key) from keyed").fetchall()[0][0]
        n_over = con.execute("select count(*) filter (where over_quota) from candidates").fetchall()[0][0]
        clock.lap("write")
    outputs.publish(paths, stage, snapshot, load_id, config.programme.identity_snapshot_days)
    shutil.rmtree(work, ignore_errors=True)
    report = {
        "load_id": load_id, "snapshot": snapshot.isoformat(), "records": int(n_records),
        "persons": int(n_persons), "proposals": int(sum(stats.values())),
        "status": {k: int(v) for k, v in sorted(stats.items())}, "over_quota": int(n_over),
        "fuzzy_links": int((grouping.links["decision"] == "link").sum()), "review_pairs": len(queue),
        "nik_conflicts": len(grouping.conflicts), "nik_conflicts_explained": int(grouping.explained.sum()),
        "candidate_pairs": passes, "rules_version": model.version, "seconds": clock.seconds, "cpu_seconds": clock.cpu,
        "merge_ledger_lines": int(linked_lines),
    }
    log.info("identity %s: %s", load_id, report)
    return report


def decide(paths: DataPaths | None, pair: str, same_person: bool, by: str, note: str | None = None) -> None:
    """Record a reviewer's verdict on a review-queue pair; later nights apply it."""
    paths = paths or data_paths()
    with Ledger(paths.ledger_url) as ledger:
        ledger.record_all([ReviewDecision(pair_id=pair, same_person=same_person, decided_by=by, note=note,
                                          decided_at=dt.datetime.now(dt.UTC))])
