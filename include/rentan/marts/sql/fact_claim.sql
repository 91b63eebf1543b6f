create table fact_claim as
select claim_key, person_key, branch, regency_code, claim_type, incident_date, paid_date, amount_idr
from claims order by claim_key
