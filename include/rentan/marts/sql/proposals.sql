-- Filled in by rentan.marts.build: valid and quarantined, the silver and quarantined submissions.
create table proposals as
select p.village_code, p.valid, f.received_at
from (select village_code, file_sha256, row_number, true as valid from ${valid}
      union all select village_code, file_sha256, row_number, false from ${quarantined}) p
join files f using (file_sha256)
anti join replaced x on x.file_sha256 = p.file_sha256 and x.row_number = p.row_number
