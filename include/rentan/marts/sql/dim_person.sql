-- Filled in by rentan.marts.build: persons, identity's persons; age_band, their age on the snapshot
-- as a band.
create table dim_person as
select person_key, ${age_band} as age_band, niks::integer as niks,
       proposals::integer as proposals, memberships::integer as memberships
from ${persons} order by person_key
