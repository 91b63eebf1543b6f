-- Filled in by rentan.marts.build: mem, silver membership; rp, identity's record persons; paid_up_from,
-- the earliest last paid month that still counts as paid up (the snapshot's month, less the grace).
create table members as
with m as (
    select m.*, f.received_at from ${mem} m join files f using (file_sha256) where m.kpj is not null
), latest as (
    select * from m qualify row_number() over (partition by kpj order by received_at desc nulls last,
                                              file_sha256 desc) = 1
)
select l.*, l.area as branch, rp.person_key,
       coalesce(sp.regency_code, sn.regency_code, s1.regency_code) as regency_code,
       l.status = 'AKTIF' and l.last_paid_month >= DATE '${paid_up_from}' as paid_up
from latest l
left join (select record_id, person_key from ${rp}) rp on rp.record_id = 'kpj:' || l.kpj
left join served sp on sp.branch = l.area and sp.regency_code = left(l.payer_village_code, 5)
left join served sn on sn.branch = l.area
     and sn.regency_code = substr(l.nik, 1, 2) || '.' || substr(l.nik, 3, 2)
left join served s1 on s1.branch = l.area and s1.regencies_served = 1
