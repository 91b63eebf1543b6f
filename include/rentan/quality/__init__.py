"""The quality layer the stages share: Great Expectations as rentan runs it (``validation``, its
suites in ``suites/``), the reasons a row or a file is turned away (``reasons``), the gate that
fails a night with held-back files (``gate``), and whether a branch's night is complete
(``completeness``)."""
