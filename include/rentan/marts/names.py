"""The marts, by name: light to import (the analysts' views and ``rentan query`` need no pandas)."""

# the analysts' age bands: (upper bound, exclusive; label), the last open-ended. Reporting bands,
# not the programme's age limit (config: max_age_years), which decides eligibility
AGE_BANDS: tuple[tuple[int | None, str], ...] = (
    (25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"), (None, "65+"))

MARTS = ("coverage_village", "coverage_regency", "claims_monthly", "budget_village", "completeness",
         "dim_village", "dim_person", "fact_enrolment", "fact_membership", "fact_claim")
