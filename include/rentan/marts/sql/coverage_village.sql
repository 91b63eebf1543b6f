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
order by v.village_code
