create table fact_membership as
select person_key, branch, regency_code, segment, status, paid_up, last_paid_month, registered_on,
       payer_village_code
from members order by branch, person_key, registered_on
