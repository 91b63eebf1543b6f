-- Filled in by rentan.marts.build: clm, silver claims; claim_key and nik_key, the keys of c.branch_claim
-- and c.nik, as SQL that takes the HMAC pads as parameters.
create table claims as
with c as (
    select c.*, f.received_at from ${clm} c join files f using (file_sha256)
)
select c.*, c.area as branch,
       ${claim_key} as claim_key,
       coalesce(m.person_key, ${nik_key}) as person_key,
       coalesce(m.regency_code, sn.regency_code, s1.regency_code) as regency_code
from (select *, area || ':' || claim_no as branch_claim from c
      qualify row_number() over (partition by area, claim_no order by received_at desc nulls last,
                                 file_sha256 desc) = 1) c
left join members m on m.kpj = c.kpj
left join served sn on sn.branch = c.area and sn.regency_code = substr(c.nik, 1, 2) || '.' || substr(c.nik, 3, 2)
left join served s1 on s1.branch = c.area and s1.regencies_served = 1
