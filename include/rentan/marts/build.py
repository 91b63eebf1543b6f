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
    con.execute(f"""
        create table fact_enrolment as
        select record_id, person_key, village_code, district_code, regency_code, c.area as regency, funding_source,
               status, reason, duplicate_of, matched_by, {age_band('c.age')} as age_band,
               over_quota, quota_rank::integer as quota_rank
        from {cand} c order by record_id""")
    mem = _read(paths, "silver", "membership",
                "area varchar, kpj varchar, nik varchar, segment varchar, status varchar, last_paid_month date, "
                "registered_on date, payer_village_code varchar, file_sha256 varchar")
    con.execute(f"""
        create table members as
        with m as (
            select m.*, f.received_at from {mem} m join files f using (file_sha256) where m.kpj is not null
        ), latest as (
            select * from m qualify row_number() over (partition by kpj order by received_at desc nulls last,
                                                      file_sha256 desc) = 1
        )
        select l.*, l.area as branch, rp.person_key,
               coalesce(sp.regency_code, sn.regency_code, s1.regency_code) as regency_code,
               l.status = 'AKTIF' and l.last_paid_month >= DATE '{paid_up_from.isoformat()}' as paid_up
        from latest l
        left join (select record_id, person_key from {rp}) rp on rp.record_id = 'kpj:' || l.kpj
        left join served sp on sp.branch = l.area and sp.regency_code = left(l.payer_village_code, 5)
        left join served sn on sn.branch = l.area
             and sn.regency_code = substr(l.nik, 1, 2) || '.' || substr(l.nik, 3, 2)
        left join served s1 on s1.branch = l.area and s1.regencies_served = 1""")
    con.execute("""
        create table fact_membership as
        select person_key, branch, regency_code, segment, status, paid_up, last_paid_month, registered_on,
               payer_village_code
        from members order by branch, person_key, registered_on""")
    clm = _read(paths, "silver", "claims",
                "area varchar, claim_no varchar, kpj varchar, nik varchar, claim_type varchar, incident_date date, "
                "paid_date date, amount_idr bigint, beneficiary varchar, file_sha256 varchar")
    con.execute(f"""
        create table claims as
        with c as (
            select c.*, f.received_at from {clm} c join files f using (file_sha256)
        )
        select c.*, c.area as branch,
               {hmac_sql("c.branch_claim")} as claim_key,
               coalesce(m.person_key, {hmac_sql("c.nik")}) as person_key,
               coalesce(m.regency_code, sn.regency_code, s1.regency_code) as regency_code
        from (select *, area || ':' || claim_no as branch_claim from c
              qualify row_number() over (partition by area, claim_no order by received_at desc nulls last,
                                         file_sha256 desc) = 1) c
        left join members m on m.kpj = c.kpj
        left join served sn on sn.branch = c.area and sn.regency_code = substr(c.nik, 1, 2) || '.' || substr(c.nik, 3, 2)
        left join served s1 on s1.branch = c.area and s1.regencies_served = 1""", {"inner": inner, "outer": outer})
    con.execute("""
        create table fact_claim as
        select claim_key, person_key, branch, regency_code, claim_type, incident_date, paid_date, amount_idr
        from claims order by claim_key""")
    persons = _read(paths, "silver", "persons", "person_key varchar, niks bigint, proposals bigint, "
                    "memberships bigint, birth_date date", snapshot)
    age = (f"year(DATE '{snapshot}') - year(birth_date) - case when month(birth_date) > {snapshot.month} or "
           f"(month(birth_date) = {snapshot.month} and day(birth_date) > {snapshot.day}) then 1 else 0 end")
    con.execute(f"""
        create table dim_person as
        select person_key, {age_band(age)} as age_band, niks::integer as niks,
               proposals::integer as proposals, memberships::integer as memberships
        from {persons} order by person_key""")
    sub_q = _read(paths, "quarantine", "submissions", "village_code varchar, file_sha256 varchar, row_number integer")
    sub_s = _read(paths, "silver", "submissions", "village_code varchar, file_sha256 varchar, row_number integer")
    con.execute(f"""
        create table proposals as
        select p.village_code, p.valid, f.received_at
        from (select village_code, file_sha256, row_number, true as valid from {sub_s}
              union all select village_code, file_sha256, row_number, false from {sub_q}) p
        join files f using (file_sha256)
        anti join replaced x on x.file_sha256 = p.file_sha256 and x.row_number = p.row_number""")
    bud = _read(paths, "silver", "budget", "village_code varchar, fiscal_year integer, add_total_idr bigint, "
                "contribution_budget_idr bigint, workers_budgeted bigint, realised_idr bigint, file_sha256 varchar")
    con.execute(f"""
        create table budget as
        select b.* from (select b.*, f.received_at from {bud} b join files f using (file_sha256)) b
        where village_code is not null and fiscal_year is not null
        qualify row_number() over (partition by village_code, fiscal_year
                                   order by received_at desc nulls last, file_sha256 desc) = 1""")


# DuckDB sums a BIGINT column as HUGEINT; the mart keeps BIGINT. A claim is at most Rp 5 billion
# (claims.silver.json, rule amount_range), so a month's group would need 1.8 billion claims to pass
# BIGINT's 9.2e18: the cast cannot overflow.
CLAIMS_MONTHLY = """
        create table claims_monthly as
        select date_trunc('month', paid_date)::date as month, branch, regency_code, claim_type,
               count(*) as claims, sum(amount_idr)::bigint as amount_idr,
               count(distinct beneficiary) filter (where claim_type = 'BEASISWA') as scholarship_children,
               coalesce(sum(amount_idr) filter (where claim_type = 'BEASISWA'), 0)::bigint as scholarship_amount_idr
        from claims where paid_date is not null group by all order by all"""


def _aggregates(con: duckdb.DuckDBPyConnection, config: Config, snapshot: dt.date) -> None:
    monthly = config.programme.rates.monthly_idr
    con.execute("""
        create table coverage_village as
        with prop as (
            select village_code, count(*) as proposed, min(received_at) as first_received
            from proposals where village_code is not null group by all
        ), cand as (
            select village_code, count(*) as valid,
                   count(*) filter (where status = 'duplicate') as duplicates,
                   count(*) filter (where status = 'ineligible') as ineligible,
                   count(*) filter (where status = 'needs_review') as needs_review,
                   count(*) filter (where status = 'already_covered') as already_covered,
                   count(*) filter (where status = 'already_enrolled') as already_enrolled,
                   count(*) filter (where status = 'eligible') as eligible,
                   count(*) filter (where status = 'eligible' and over_quota) as over_quota
            from fact_enrolment group by all
        ), enr as (
            select payer_village_code as village_code,
                   count(distinct coalesce(person_key, kpj)) as enrolled,
                   count(distinct coalesce(person_key, kpj)) filter (where paid_up) as active
            from members where segment = 'BPU' and status = 'AKTIF' and payer_village_code is not null group by all
        )
        select v.regency_code, v.regency, v.regency_name, v.district_code, v.district_name, v.village_code,
               v.village_name, v.village_word, v.branch, v.quota,
               coalesce(p.proposed, 0) as proposed, coalesce(c.valid, 0) as valid,
               coalesce(c.duplicates, 0) as duplicates, coalesce(c.ineligible, 0) as ineligible,
               coalesce(c.needs_review, 0) as needs_review,
               -- without the branch's membership extract, who is eligible, covered or enrolled is unknown
               case when g.coverage_complete then coalesce(c.eligible, 0) end as eligible,
               case when g.coverage_complete then coalesce(c.over_quota, 0) end as over_quota,
               case when g.coverage_complete then coalesce(c.already_covered, 0) end as already_covered,
               case when g.coverage_complete then coalesce(c.already_enrolled, 0) end as already_enrolled,
               case when g.coverage_complete then coalesce(e.enrolled, 0) end as enrolled,
               case when g.coverage_complete then coalesce(e.active, 0) end as active,
               case when g.coverage_complete then coalesce(e.enrolled, 0) >= v.quota and v.quota > 0 end as quota_met,
               case when r.submission_deadline is null then p.first_received is not null
                    else coalesce(timezone('Asia/Jakarta', p.first_received)::date <= r.submission_deadline, false)
               end as submitted,
               timezone('Asia/Jakarta', p.first_received)::date as first_submitted_on,
               g.coverage_complete as complete
        from dim_village v
        join regencies r using (regency)
        join coverage_gaps g on g.branch = v.branch
        left join prop p using (village_code) left join cand c using (village_code) left join enr e using (village_code)
        order by v.village_code""")
    con.execute("""
        create table coverage_regency as
        with act as (
            select regency_code,
                   count(distinct coalesce(person_key, kpj)) as active_participants,
                   count(distinct coalesce(person_key, kpj)) filter (where segment = 'PU') as pu_active,
                   count(distinct coalesce(person_key, kpj)) filter (where segment = 'BPU') as bpu_active
            from members where status = 'AKTIF' and regency_code is not null group by all
        ), vil as (
            select regency_code, count(*) as villages, count(*) filter (where submitted) as villages_submitted,
                   count(*) filter (where quota_met) as villages_quota_met, sum(quota) as vulnerable_quota,
                   sum(enrolled) as vulnerable_enrolled, sum(active) as vulnerable_active,
                   sum(proposed) as proposed, sum(eligible) as eligible
            from coverage_village group by all
        )
        select r.regency_code, r.regency, r.regency_name, r.branch, r.working_population, r.population_year,
               case when g.coverage_complete then coalesce(a.active_participants, 0) end as active_participants,
               case when g.coverage_complete then
                    round(100.0 * coalesce(a.active_participants, 0) / nullif(r.working_population, 0), 2) end
                 as coverage_pct,
               case when g.coverage_complete then coalesce(a.pu_active, 0) end as pu_active,
               case when g.coverage_complete then coalesce(a.bpu_active, 0) end as bpu_active,
               v.villages, v.villages_submitted,
               case when g.coverage_complete then v.villages_quota_met end as villages_quota_met,
               v.vulnerable_quota::bigint as vulnerable_quota, v.vulnerable_enrolled::bigint as vulnerable_enrolled,
               v.vulnerable_active::bigint as vulnerable_active, v.proposed::bigint as proposed,
               v.eligible::bigint as eligible, r.submission_deadline,
               g.coverage_complete as complete, g.coverage_reason as incomplete_reason
        from regencies r join coverage_gaps g using (branch)
        left join act a using (regency_code) left join vil v using (regency_code)
        order by r.regency_code""")
    con.execute(CLAIMS_MONTHLY)
    con.execute(f"""
        create table budget_village as
        select b.fiscal_year::integer as fiscal_year, v.regency_code, v.regency, v.district_code, v.village_code,
               v.village_name, b.add_total_idr::bigint as add_total_idr,
               b.contribution_budget_idr::bigint as contribution_budget_idr,
               b.workers_budgeted::bigint as workers_budgeted, cv.enrolled, pm.months,
               (cv.enrolled * {monthly} * pm.months)::bigint as contribution_required_idr,
               b.realised_idr::bigint as realised_idr,
               ((cv.enrolled * {monthly} * pm.months) - coalesce(b.contribution_budget_idr, 0))::bigint as gap_idr
        from budget b
        join dim_village v using (village_code)
        join coverage_village cv using (village_code)
        left join programme_months pm on pm.regency_code = v.regency_code and pm.fiscal_year = b.fiscal_year
        order by b.fiscal_year, v.village_code""")


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
