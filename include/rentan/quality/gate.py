"""The validation gate: a night whose files were held back whole fails loudly, after the rest of
it has gone on without them."""

from __future__ import annotations


class BlockedBatches(RuntimeError):
    pass


def gate(report: dict) -> None:
    """Fail loudly when a file was held back: the rest of the night has gone on without it."""
    if report.get("blocked"):
        lines = "\n  ".join(report["blocked"])
        raise BlockedBatches(f"{len(report['blocked'])} file(s) held back by a blocking rule:\n  {lines}")
