"""Faults of the machine rather than of the data, told in one line with what to do: a full disk,
a ledger another process holds. Used by the CLI and by the alerts, so an engineer reading either
sees the same sentence instead of a traceback."""

from __future__ import annotations

import errno
import sqlite3

from rentan.core.masking import mask_digits

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _chain(e: BaseException):
    seen = set()
    at: BaseException | None = e
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        yield at
        at = at.__cause__ or at.__context__


def known_fault(e: BaseException) -> tuple[str, str] | None:
    """(message, what to do) for a fault of the machine anywhere in ``e``'s chain, else None."""
    for x in _chain(e):
        # pyarrow's write errors carry the message but not always the errno
        if isinstance(x, OSError) and (x.errno in _DISK_FULL or "no space left on device" in str(x).lower()):
            where = f" writing {mask_digits(x.filename)}" if x.filename else ""
            return (f"the disk is full{where}",
                    "free space on the data root's disk, then clear the failed task or rerun the command: "
                    "what was being written is published only whole, so nothing half-written is seen")
        orig = getattr(x, "orig", None)  # SQLAlchemy wraps the driver's error
        for err in (x, orig):
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err).lower():
                return ("the ingestion ledger is locked: another process (a night, a rentan command) is writing to it",
                        "wait for that process to end, then clear the failed task or rerun the command; several "
                        "workers at once need a server ledger (RENTAN_LEDGER_URL=postgresql://...)")
            if err is not None and type(err).__name__ in ("LockNotAvailable", "DeadlockDetected"):
                return (f"the ingestion ledger is locked ({type(err).__name__})",
                        "another process holds the ledger's rows; wait for it to end, then clear the failed task")
    return None
