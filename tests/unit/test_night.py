"""Which night a run describes: one rule for the schedule, a backfill, a manual run and
`airflow dags test`, checked against the DAG's own timetable."""

from __future__ import annotations

import datetime as dt

import pendulum

from rentan.core.night import WIB, night_of


def _wib(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB)


def test_the_scheduled_run_describes_the_day_before_it():
    night = night_of(run_type="scheduled", logical_date=_wib(2025, 7, 1, 1, 0))
    assert night.snapshot == dt.date(2025, 6, 30)
    assert night.cutoff == _wib(2025, 7, 1, 0, 0), "everything received by the end of 30 June, WIB"


def test_a_backfill_replays_the_schedule():
    # what `airflow backfill create --from-date 2025-06-10 ...` creates first: the tick of 11 June 01:00 WIB
    tick = pendulum.datetime(2025, 6, 10, 18, 0, tz="UTC")
    assert night_of(run_type="backfill", logical_date=tick).snapshot == dt.date(2025, 6, 10)


def test_a_manual_run_and_dags_test_describe_their_logical_dates_day():
    # `airflow dags test rentan_nightly 2025-06-30`: midnight UTC, 07:00 WIB
    assert night_of(run_type="manual", logical_date=pendulum.datetime(2025, 6, 30, tz="UTC")).snapshot == dt.date(2025, 6, 30)
    # a trigger from the UI with 30 June 00:30 WIB (29 June in UTC) still means 30 June
    assert night_of(run_type="manual", logical_date=_wib(2025, 6, 30, 0, 30)).snapshot == dt.date(2025, 6, 30)
    # an asset-triggered or manual run without a logical date: the day it was asked to run
    assert night_of(run_type="manual", run_after=_wib(2025, 6, 30, 23, 0)).snapshot == dt.date(2025, 6, 30)


def test_the_parameter_wins():
    night = night_of("2025-05-30", run_type="scheduled", logical_date=_wib(2025, 7, 1, 1, 0))
    assert night.snapshot == dt.date(2025, 5, 30) and "parameter" in night.basis


def test_the_dags_own_schedule_gives_each_night_once(dagbag):
    """The timetable's ticks, read through night_of, give consecutive days: no night twice, none skipped."""
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import TimeRestriction

    # the timetable as the scheduler has it: the DAG's, through Airflow's serialization
    timetable = decode_timetable(encode_timetable(dagbag.dags["rentan_nightly"].timetable))
    restriction = TimeRestriction(earliest=pendulum.datetime(2025, 6, 1, tz="UTC"), latest=None, catchup=True)
    info, nights = None, []
    for _ in range(5):
        info = timetable.next_dagrun_info_v2(last_dagrun_info=info, restriction=restriction)
        when = info.logical_date or info.run_after
        assert when.astimezone(WIB).hour == 1, "the nightly runs at 01:00 WIB"
        nights.append(night_of(run_type="scheduled", logical_date=when).snapshot)
    assert nights == [nights[0] + dt.timedelta(days=i) for i in range(5)]
    # and the scheduled run's id, in UTC, carries the night it describes
    from airflow.utils.types import DagRunType

    assert timetable.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=pendulum.instance(
        _wib(2025, 7, 1, 1, 0)).in_timezone("UTC"), data_interval=None).startswith("scheduled__2025-06-30T18:00")
