-- Filled in by rentan.marts.build: cand, the identity stage's enrolment candidates; age_band, their
-- age as a band.
create table fact_enrolment as
select record_id, person_key, village_code, district_code, regency_code, c.area as regency, funding_source,
       status, reason, duplicate_of, matched_by, ${age_band} as age_band,
       over_quota, quota_rank::integer as quota_rank
from ${cand} c order by record_id
