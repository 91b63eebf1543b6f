-- Filled in by rentan.marts.build: bud, silver budget.
create table budget as
select b.* from (select b.*, f.received_at from ${bud} b join files f using (file_sha256)) b
where village_code is not null and fiscal_year is not null
qualify row_number() over (partition by village_code, fiscal_year
                           order by received_at desc nulls last, file_sha256 desc) = 1
