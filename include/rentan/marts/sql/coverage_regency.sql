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
order by r.regency_code
