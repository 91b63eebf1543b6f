"""Which night a run describes, and what it may see.

The snapshot of day D holds every file received by the end of D in WIB (Asia/Jakarta): its
cut-off is 00:00 WIB of D + 1. Which D a run describes:

- a ``snapshot_date`` given to the run: that day;
- a scheduled run (01:00 WIB) or a backfill run (which replays a scheduled one): the day that
  ended just before it, so the night of 1 July 01:00 WIB describes 30 June. Its run id, in UTC,
  carries that date (``scheduled__2025-06-30T18:00:00+00:00``);
- any other run (a manual trigger, ``airflow dags test rentan_nightly D``): the WIB day of its
  logical date, D; without a logical date, the WIB day it was asked to run.

A rerun, a clear or a backfill of a night made later sees the same files: only those received
before the cut-off, whatever came in since.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIB = dt.timezone(dt.timedelta(hours=7))
# run types whose run stands for a scheduled night (the Airflow DagRunType values)
REPLAYS_A_SCHEDULE = ("scheduled", "backfill")


def end_of_day(day: dt.date) -> dt.datetime:
    """The cut-off of a snapshot: 00:00 WIB of the next day."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), WIB)


@dataclass(frozen=True)
class Night:
    snapshot: dt.date
    basis: str  # how the day was chosen, said in the plan's log and result

    @property
    def cutoff(self) -> dt.datetime:
        return end_of_day(self.snapshot)

    def as_dict(self) -> dict:
        return {"snapshot": self.snapshot.isoformat(), "cutoff": self.cutoff.isoformat(), "basis": self.basis}

    @classmethod
    def from_dict(cls, d: dict) -> Night:
        return cls(dt.date.fromisoformat(d["snapshot"]), d.get("basis", ""))

    def __str__(self) -> str:
        return (f"the night of {self.snapshot.isoformat()} (files received before "
                f"{self.cutoff:%Y-%m-%d %H:%M} WIB; {self.basis})")


def night_of(snapshot_date: str | dt.date | None = None, run_type: str | None = None,
             logical_date: dt.datetime | None = None, run_after: dt.datetime | None = None,
             now: dt.datetime | None = None) -> Night:
    """The night a run describes (see the module's doc)."""
    if snapshot_date:
        day = snapshot_date if isinstance(snapshot_date, dt.date) else dt.date.fromisoformat(str(snapshot_date))
        return Night(day, "the snapshot_date parameter")
    run_type = str(getattr(run_type, "value", run_type) or "")
    when = logical_date or run_after
    if when is None:
        return Night((now or dt.datetime.now(WIB)).astimezone(WIB).date(), "today, in WIB")
    local = when.astimezone(WIB).date()
    if run_type in REPLAYS_A_SCHEDULE:
        return Night(local - dt.timedelta(days=1),
                     f"the day before this {run_type} run of {when.astimezone(WIB):%Y-%m-%d %H:%M} WIB")
    return Night(local, "the WIB day of the run's logical date")
