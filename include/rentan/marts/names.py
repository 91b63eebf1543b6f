"""The marts, by name: light to import (the analysts' views and ``rentan query`` need no pandas)."""

MARTS = ("coverage_village", "coverage_regency", "claims_monthly", "budget_village", "completeness",
         "dim_village", "dim_person", "fact_enrolment", "fact_membership", "fact_claim")
