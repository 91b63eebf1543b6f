-- DuckDB sums a BIGINT column as HUGEINT; the mart keeps BIGINT. A claim is at most Rp 5 billion
-- (claims.silver.json, rule amount_range), so a month's group would need 1.8 billion claims to pass
-- BIGINT's 9.2e18: the cast cannot overflow.
create table claims_monthly as
select date_trunc('month', paid_date)::date as month, branch, regency_code, claim_type,
       count(*) as claims, sum(amount_idr)::bigint as amount_idr,
       count(distinct beneficiary) filter (where claim_type = 'BEASISWA') as scholarship_children,
       coalesce(sum(amount_idr) filter (where claim_type = 'BEASISWA'), 0)::bigint as scholarship_amount_idr
from claims where paid_date is not null group by all order by all
