"""The marts of one snapshot, computed in DuckDB from silver and the identity stage's outputs.

Every figure is counted here from rows, never copied from a report: coverage is active
participants over the working population of configuration. No mart carries a NIK, KPJ, name or
birth date: people appear as their person key and an age band (each mart's exact column set is a
gold expectation, so a new column cannot slip through unreviewed).

Which rows describe the snapshot: for the BPJS extracts and budgets, which arrive again and again
and overlap, the latest row of each member (KPJ), claim (claim number) and village budget
(village, fiscal year), by the time its file was received.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from string import Template

import duckdb
import pandas as pd

from rentan import lists as village_lists
from rentan.config import Config
from rentan.core.ledger import Ledger
from rentan.core.night import end_of_day as snapshot_cutoff
from rentan.core.paths import IDENTITY_TABLES, DataPaths
from rentan.identity import hmac_sql, hmac_sql_pads
from rentan.marts.names import AGE_BANDS, MARTS
from rentan.quality import completeness
from rentan.reference import villages as reference_villages


def _sql(name: str) -> str:
    return Path(__file__).with_name("sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


# read at import, so a missing statement fails the import and not a night half-way through its marts
FACT_ENROLMENT = Template(_sql("fact_enrolment"))
MEMBERS = Template(_sql("members"))
FACT_MEMBERSHIP = _sql("fact_membership")
CLAIMS = Template(_sql("claims"))
FACT_CLAIM = _sql("fact_claim")
DIM_PERSON = Template(_sql("dim_person"))
PROPOSALS = Template(_sql("proposals"))
BUDGET = Template(_sql("budget"))
COVERAGE_VILLAGE = _sql("coverage_village")
COVERAGE_REGENCY = _sql("coverage_regency")
CLAIMS_MONTHLY = _sql("claims_monthly")
BUDGET_VILLAGE = Template(_sql("budget_village"))


def age_band(age: str) -> str:
    """SQL for the analysts' age band of ``age`` (``AGE_BANDS``; the gold suites allow the same)."""
    whens = " ".join(f"when {age} < {upper} then '{label}'" for upper, label in AGE_BANDS if upper is not None)
    return f"case when {age} is null then 'unknown' {whens} else '{AGE_BANDS[-1][1]}' end"


def _read(paths: DataPaths, layer: str, table: str, empty: str, snapshot: dt.date | None = None) -> str:
    """A FROM clause over a silver table (identity's as resolved for ``snapshot``), or an empty
    relation of the given typed columns (``"name type, ..."``) when nothing has arrived yet: a
    night before the first claims extract still builds its other marts."""
    if table in IDENTITY_TABLES:
        if snapshot is None:
            raise ValueError(f"{table} is kept per snapshot: say which")
        g = paths.identity_glob(table, snapshot)
    else:
        g = paths.parquet_glob(layer, table)
    if g is None:
        cols = ", ".join(f"NULL::{t} as {c}" for c, t in (x.strip().split() for x in empty.split(",")))
        return f"(select {cols} where false)"
    return f"read_parquet('{g}', hive_partitioning = true, union_by_name = true)"


def _dimensions(con: duckdb.DuckDBPyConnection, paths: DataPaths, config: Config, snapshot: dt.date,
                ledger: Ledger, cutoff: dt.datetime, load_id: str | None) -> None:
    regs = list(config.regencies.values())
    v = reference_villages([r.code for r in regs], desa_only=True)
    by_code = {r.code: r for r in regs}
    v = v.assign(
        regency=v["regency_code"].map(lambda c: by_code[c].slug),
        regency_name=v["regency_code"].map(lambda c: by_code[c].name),
        branch=v["regency_code"].map(lambda c: by_code[c].branch),
        village_word=v["regency_code"].map(lambda c: by_code[c].village_word),
        quota=v["regency_code"].map(lambda c: by_code[c].quota_on(snapshot)).astype("int64"),
    ).rename(columns={"code": "village_code", "name": "village_name"}).drop(columns="kind")
    con.register("_villages", v)
    con.execute("create table dim_village as select * from _villages order by village_code")

    rows = []
    for r in regs:
        year, population = r.population_for(snapshot.year)
        rows.append({"regency": r.slug, "regency_code": r.code, "regency_name": r.name, "branch": r.branch,
                     "working_population": population, "population_year": year,
                     "submission_deadline": r.submission_deadline})
    con.register("_regencies", pd.DataFrame(rows).astype({"working_population": "Int64", "population_year": "Int64"}))
    con.execute("create table regencies as select * from _regencies")
    con.register("_served", pd.DataFrame([(b.slug, config.regencies[s].code, len(b.regencies))
                                          for b in config.branches.values() for s in b.regencies],
                                         columns=["branch", "regency_code", "regencies_served"]))
    con.execute("create table served as select * from _served")
    months = [(r.code, y, r.programme_months(y)) for r in regs for y in range(2015, snapshot.year + 2)]
    con.register("_months", pd.DataFrame(months, columns=["regency_code", "fiscal_year", "months"]))
    con.execute("create table programme_months as select * from _months")
    # is each branch's night complete (rentan.quality.completeness)? Figures built from incomplete inputs
    # are marked so, and those a missing extract would leave at zero are left empty instead
    nights = completeness.check(ledger, config, cutoff, load_id)
    con.register("_completeness", pd.DataFrame([{
        "branch": b.slug, "branch_name": b.name, "regencies": ", ".join(b.regencies),
        "complete": nights[b.slug].complete, "coverage_complete": nights[b.slug].coverage_complete,
        "gaps": len(nights[b.slug].gaps), "incomplete_reason": nights[b.slug].reason()}
        for b in config.branches.values()]).astype({"incomplete_reason": "string"}))
    con.execute("create table completeness as select * from _completeness order by branch")
    con.register("_coverage_gaps", pd.DataFrame([{
        "branch": b, "coverage_complete": n.coverage_complete,
        "coverage_reason": n.reason(completeness.COVERAGE_SOURCES)} for b, n in nights.items()])
        .astype({"coverage_reason": "string"}))
    con.execute("create table coverage_gaps as select * from _coverage_gaps")
    # only what had arrived by the end of the snapshot's day: a backfilled night sees its own past;
    # of the villages' lists, not the rows a later list replaced
    now = village_lists.current(paths, ledger, cutoff, config.programme.revision_share)
    con.register("_files", now.received())
    con.execute("create table files as select * from _files")
    con.register("_replaced", now.replaced)
    con.execute("create table replaced as select * from _replaced")


def _facts(con: duckdb.DuckDBPyConnection, paths: DataPaths, config: Config, snapshot: dt.date, key: bytes) -> None:
    inner, outer = hmac_sql_pads(key)
    grace = config.programme.paid_up_grace_months
    paid_up_from = (pd.Timestamp(snapshot).to_period("M") - grace).to_timestamp().date()
    rp = _read(paths, "silver", "record_persons", "record_id varchar, person_key varchar", snapshot)
    cand = _read(paths, "silver", "enrolment_candidates",
                 "area varchar, record_id varchar, person_key varchar, source_file varchar, row_number integer, "
                 "village_code varchar, district_code varchar, regency_code varchar, funding_source varchar, "
                 "status varchar, reason varchar, duplicate_of varchar, duplicate_of_village varchar, "
                 "matched_by varchar, age integer, quota integer, quota_rank integer, over_quota boolean", snapshot)
    con.execute(FACT_ENROLMENT.substitute(cand=cand, age_band=age_band("c.age")))
    mem = _read(paths, "silver", "membership",
                "area varchar, kpj varchar, nik varchar, segment varchar, status varchar, last_paid_month date, "
                "registered_on date, payer_village_code varchar, file_sha256 varchar")
    con.execute(MEMBERS.substitute(mem=mem, rp=rp, paid_up_from=paid_up_from.isoformat()))
    con.execute(FACT_MEMBERSHIP)
    clm = _read(paths, "silver", "claims",
                "area varchar, claim_no varchar, kpj varchar, nik varchar, claim_type varchar, incident_date date, "
                "paid_date date, amount_idr bigint, beneficiary varchar, file_sha256 varchar")
    con.execute(CLAIMS.substitute(clm=clm, claim_key=hmac_sql("c.branch_claim"), nik_key=hmac_sql("c.nik")),
                {"inner": inner, "outer": outer})
    con.execute(FACT_CLAIM)
    persons = _read(paths, "silver", "persons", "person_key varchar, niks bigint, proposals bigint, "
                    "memberships bigint, birth_date date", snapshot)
    age = (f"year(DATE '{snapshot}') - year(birth_date) - case when month(birth_date) > {snapshot.month} or "
           f"(month(birth_date) = {snapshot.month} and day(birth_date) > {snapshot.day}) then 1 else 0 end")
    con.execute(DIM_PERSON.substitute(persons=persons, age_band=age_band(age)))
    sub_q = _read(paths, "quarantine", "submissions", "village_code varchar, file_sha256 varchar, row_number integer")
    sub_s = _read(paths, "silver", "submissions", "village_code varchar, file_sha256 varchar, row_number integer")
    con.execute(PROPOSALS.substitute(valid=sub_s, quarantined=sub_q))
    bud = _read(paths, "silver", "budget", "village_code varchar, fiscal_year integer, add_total_idr bigint, "
                "contribution_budget_idr bigint, workers_budgeted bigint, realised_idr bigint, file_sha256 varchar")
    con.execute(BUDGET.substitute(bud=bud))


def _aggregates(con: duckdb.DuckDBPyConnection, config: Config, snapshot: dt.date) -> None:
    con.execute(COVERAGE_VILLAGE)
    con.execute(COVERAGE_REGENCY)
    con.execute(CLAIMS_MONTHLY)
    con.execute(BUDGET_VILLAGE.substitute(monthly=config.programme.rates.monthly_idr))


def build(con: duckdb.DuckDBPyConnection, paths: DataPaths, config: Config, snapshot: dt.date, key: bytes,
          cutoff: dt.datetime | None = None, load_id: str | None = None) -> None:
    """Create one table per mart (``MARTS``) in ``con``. ``load_id``: the run whose loads must
    have finished for a branch's night to be complete."""
    with Ledger(paths.ledger_url) as ledger:
        _dimensions(con, paths, config, snapshot, ledger, cutoff or snapshot_cutoff(snapshot), load_id)
    _facts(con, paths, config, snapshot, key)
    _aggregates(con, config, snapshot)


def write(con: duckdb.DuckDBPyConnection, staging: Path) -> dict[str, int]:
    """Each mart as ``<staging>/<mart>/part-0.parquet``; returns the row counts."""
    counts = {}
    for name in MARTS:
        target = staging / name
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"copy {name} to '{(target / 'part-0.parquet').as_posix()}' (format parquet, compression zstd)")
        counts[name] = con.execute(f"select count(*) from {name}").fetchall()[0][0]
    return counts
