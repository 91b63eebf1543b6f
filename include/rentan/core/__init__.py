"""What every stage stands on, and which never imports a stage: where the data lives
(``paths``, ``settings``, ``storage``), the night a run describes (``night``), the ingestion
ledger (``ledger``), files written whole or not at all (``files``), DuckDB sessions (``db``),
and the masking and progress every log line goes through (``masking``, ``progress``)."""
