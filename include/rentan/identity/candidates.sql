-- Each proposal's status and reason, its keeper, age and quota rank (rentan.identity.candidates).
-- ${snapshot}, ${month}, ${day} and ${max_age} are filled in from the night and the programme's rules.
create table candidates as
with subs as (
    select * exclude (kpj, segment, status, payer_village_code, payer_kind),
           coalesce(left(nik, 6) = replace(district_code, '.', ''), false) as home
    from keyed where source = 'submission'
), kept as (
    select *,
           first(record_id) over keeper as keeper_id,
           first(village_code) over keeper as keeper_village,
           first(funding_source) over keeper as keeper_funding
    from subs
    window keeper as (partition by person_key
                      order by home desc, received_at asc nulls last, source_file, row_number)
), active as (
    select person_key, segment, payer_village_code, payer_kind from keyed
    where source = 'membership' and status = 'AKTIF'
), member as (
    select person_key, bool_or(segment = 'PU') as pu,
           -- paid by someone the extract does not let us name: never an accusation
           bool_or(segment = 'BPU' and payer_kind = 'unknown') as bpu_unknown
    from active group by person_key
), paid_by as (
    select distinct person_key, payer_village_code from active
    where segment = 'BPU' and payer_kind = 'village' and payer_village_code is not null
), others as (
    -- BPU memberships whose payer we can name: a village, the member, an employer, a budget
    select a.person_key, a.payer_village_code from active a
    where a.segment = 'BPU' and a.payer_kind <> 'unknown'
), flagged as (
    select k.*,
           k.record_id <> k.keeper_id as is_dup,
           case when k.keeper_village = k.village_code then 'within_village'
                when left(k.keeper_village, 5) = left(k.village_code, 5) then 'across_villages'
                else 'across_regencies' end as dup_kind,
           coalesce(m.pu, false) as pu,
           p.person_key is not null as bpu_here,
           exists (select 1 from others o where o.person_key = k.person_key
                   and o.payer_village_code is distinct from k.village_code) as bpu_other,
           coalesce(m.bpu_unknown, false) and p.person_key is null as bpu_payer_unknown,
           k.funding_source is not null and k.keeper_funding is not null
             and k.funding_source <> k.keeper_funding as other_budget,
           -- a kelurahan (serial starting with 1) has no village fund to pay from
           coalesce(substr(k.village_code, 10, 1) = '1', false) as kelurahan,
           year(DATE '${snapshot}') - year(k.birth_date)
             - case when month(k.birth_date) > ${month}
                         or (month(k.birth_date) = ${month} and day(k.birth_date) > ${day})
                    then 1 else 0 end as age,
           rp.pos is not null as in_review
    from kept k
    left join member m using (person_key)
    left join paid_by p on p.person_key = k.person_key and p.payer_village_code = k.village_code
    left join review_pos rp on rp.pos = k.pos
), decided as (
    select *,
           case when is_dup then 'duplicate' when pu then 'already_covered' when bpu_other then 'already_covered'
                when bpu_here then 'already_enrolled' when bpu_payer_unknown then 'needs_review'
                when kelurahan then 'ineligible' when coalesce(age >= ${max_age}, false) then 'ineligible'
                when in_review then 'needs_review' else 'eligible' end as status,
           case when is_dup and other_budget then 'double_funding_budget'
                when is_dup then 'duplicate_' || dup_kind when pu then 'active_pu'
                when bpu_other then 'double_funding' when bpu_here then 'bpu_paid_by_this_village'
                when bpu_payer_unknown then 'payer_unknown' when kelurahan then 'not_a_desa'
                when coalesce(age >= ${max_age}, false) then 'age_limit'
                when in_review then 'possible_same_person' end as reason
    from flagged
), ranked as (
    select d.*, q.quota,
           case when d.status = 'eligible' then row_number() over (
               partition by d.village_code, d.status = 'eligible'
               order by d.received_at asc nulls last, d.source_file, d.row_number) end as quota_rank
    from decided d left join quotas q using (area)
)
select area, pos, record_id, person_key, source_file, row_number, village_code, district_code, regency_code,
       funding_source, status, reason,
       case when is_dup then keeper_id end as duplicate_of,
       case when is_dup then keeper_village end as duplicate_of_village,
       matched_by, age::integer as age, quota::integer as quota, quota_rank::integer as quota_rank,
       coalesce(quota_rank > quota, false) as over_quota
from ranked
