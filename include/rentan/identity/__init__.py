"""Identity and eligibility: one person, one record; nobody paid for twice ("tidak double").

Every night, from all of silver: records (village proposals and BPJS TK members) are grouped
into persons by NIK, and by fuzzy matching where a NIK was mistyped (blocking passes in
``blocking``, Fellegi-Sunter comparisons in ``matching``, weights and thresholds in the model file
``model.yaml``); records sharing a NIK whose other fields say they are two persons are kept apart
and reviewed. Each proposal then gets a status:

- ``duplicate``: the person is proposed elsewhere too and that proposal keeps them. The keeper is
  the proposal from the village in the district the NIK was issued in, else the earliest
  received, else the first by file and row;
- ``already_covered``: an active PU member (covered by an employer), or an active BPU member paid
  by someone else than this village (double funding);
- ``already_enrolled``: an active BPU member already paid by this village (a renewal);
- ``ineligible``: 65 or older on the snapshot date;
- ``needs_review``: in a pair a person must decide on (``rentan review``);
- ``eligible``: to enrol; ``over_quota`` marks those past the village's quota, in order received.

The steps, in order: ``records`` (tonight's proposals and members), ``persons`` (pairs weighed,
records grouped into persons), ``candidates`` (each proposal's status, the review queue;
its SQL in ``candidates.sql``), ``outputs`` (written, then moved into place); ``resolve`` runs
them.

Outputs (silver): ``persons``, ``record_persons`` (the person of each record tonight),
``enrolment_candidates``, ``review_queue`` and the merge ledger
``merge_ledger`` (one Parquet file per night: which record became which person, when and why).
Reviewers' decisions live in the ledger database (``review_decision``).

The set work runs in DuckDB under a memory limit (``RENTAN_DUCKDB_MEMORY``, default 4GB) and
spills to ``work/identity`` beyond it, so a national night (millions of proposals against a
national membership extract) fits a modest worker; only the scored candidate pairs, the linked
NIKs and the review queue, all small, come up into Python.
"""

from __future__ import annotations

from rentan.identity.keys import hmac_sql, hmac_sql_pads, person_keys, secret
from rentan.identity.resolve import decide, resolve

__all__ = ["decide", "hmac_sql", "hmac_sql_pads", "person_keys", "resolve", "secret"]
