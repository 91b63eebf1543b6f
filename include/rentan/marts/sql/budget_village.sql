-- Filled in by rentan.marts.build: monthly, the programme's monthly contribution in rupiah.
create table budget_village as
select b.fiscal_year::integer as fiscal_year, v.regency_code, v.regency, v.district_code, v.village_code,
       v.village_name, b.add_total_idr::bigint as add_total_idr,
       b.contribution_budget_idr::bigint as contribution_budget_idr,
       b.workers_budgeted::bigint as workers_budgeted, cv.enrolled, pm.months,
       (cv.enrolled * ${monthly} * pm.months)::bigint as contribution_required_idr,
       b.realised_idr::bigint as realised_idr,
       ((cv.enrolled * ${monthly} * pm.months) - coalesce(b.contribution_budget_idr, 0))::bigint as gap_idr
from budget b
join dim_village v using (village_code)
join coverage_village cv using (village_code)
left join programme_months pm on pm.regency_code = v.regency_code and pm.fiscal_year = b.fiscal_year
order by b.fiscal_year, v.village_code
