"""Write-audit-publish for the marts: nobody ever sees half a night.

``warehouse/marts`` is a symbolic link to one complete version of the mart tree under
``warehouse/_marts/``. Publishing a snapshot builds the next version beside it: every file of the
current version is hard-linked in (no data is copied), except the snapshot being replaced, whose
audited files are moved in from staging; then the link is swapped with one ``rename``, which
POSIX makes atomic. A reader resolves ``marts`` either before the swap (the whole previous state)
or after it (the whole new one). A run killed at any point before the swap leaves the link, and so
every published snapshot, untouched; its half-built version is removed by the next publish.
Re-running a night replaces that night's partition in the next version; it never adds a copy.

``warehouse/_marts/CURRENT`` names the current version too: object stores have no links, so there
(see ``rentan.core.storage``) that file, replaced in one PUT, is the switch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

VERSIONS = "_marts"
LINK = "marts"
POINTER = "CURRENT"


@contextlib.contextmanager
def _lock(warehouse: Path) -> Iterator[None]:
    # two runs (a backfill beside the nightly load) must not publish at once: the second would
    # build on a version the first is about to replace
    warehouse.mkdir(parents=True, exist_ok=True)
    with open(warehouse / ".marts.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_version(warehouse: Path) -> Path | None:
    link = warehouse / LINK
    if link.is_symlink():
        return (warehouse / os.readlink(link)).resolve()
    return None


def _adopt_plain_directory(warehouse: Path) -> None:
    """A ``marts`` that is a plain directory (written by hand, or by an older release) becomes the
    first version, so publishing can link to it."""
    link = warehouse / LINK
    if link.exists() and not link.is_symlink():
        target = warehouse / VERSIONS / "v0-adopted"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(link, target)
        os.symlink(os.path.relpath(target, warehouse), link)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(warehouse: Path, staging: Path, snapshot: dt.date, build_id: str, manifest: dict) -> Path:
    """Make the marts in ``staging/<mart>/*.parquet`` the published partition
    ``snapshot_date=<snapshot>`` of each mart; return the new version's directory."""
    partition = f"snapshot_date={snapshot.isoformat()}"
    with _lock(warehouse):
        _adopt_plain_directory(warehouse)
        current = current_version(warehouse)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        new = warehouse / VERSIONS / f"v{stamp}-{build_id}"
        new.mkdir(parents=True)
        if current is not None:
            for f in current.rglob("*"):
                rel = f.relative_to(current)
                if f.is_dir() or (len(rel.parts) > 1 and rel.parts[1] == partition) or rel.name == "_version.json":
                    continue
                (new / rel.parent).mkdir(parents=True, exist_ok=True)
                os.link(f, new / rel)
        for mart in sorted(p for p in staging.iterdir() if p.is_dir()):
            target = new / mart.name / partition
            target.mkdir(parents=True, exist_ok=True)
            for f in sorted(mart.glob("*.parquet")):
                os.replace(f, target / f.name)
        (new / "_version.json").write_text(json.dumps({
            "published_at": dt.datetime.now(dt.UTC).isoformat(), "build_id": build_id,
            "snapshot_date": snapshot.isoformat(), "previous": current.name if current else None, **manifest,
        }, indent=2, sort_keys=True, default=str) + "\n")
        _fsync_dir(new)
        tmp = warehouse / f".{LINK}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(new, warehouse), tmp)
        os.replace(tmp, warehouse / LINK)  # the switch
        _fsync_dir(warehouse)
        pointer = warehouse / VERSIONS / f".{POINTER}.{os.getpid()}.tmp"
        pointer.write_text(new.name + "\n")
        os.replace(pointer, warehouse / VERSIONS / POINTER)
        # keep the version just replaced for readers still inside it; older ones go
        keep = {new.name, current.name if current else None}
        for old in (warehouse / VERSIONS).iterdir():
            if old.is_dir() and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
    return new
