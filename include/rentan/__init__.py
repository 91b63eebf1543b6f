"""rentan: village-funded BPJS Ketenagakerjaan cover for vulnerable workers (pekerja rentan).

One sub-package per stage of the nightly load, named as the programme names things:
``ingest`` (received files to bronze), ``standardise`` (bronze to silver and quarantine),
``identity`` (one person, one record), ``marts`` (the analysts' warehouse) and ``exports``
(packages for the BPJS TK branches). ``sample`` writes a realistic landing zone.
"""

__version__ = "0.2.0"
