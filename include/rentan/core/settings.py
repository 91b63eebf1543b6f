"""The settings rentan reads from the environment: the data root (``RENTAN_DATA``, a folder or an
object-storage URL, see ``rentan.core.storage``) and how much per-file work runs side by side."""

from __future__ import annotations

import os
from pathlib import Path

from rentan.core import storage
from rentan.core.paths import DataPaths

# the default data root of a checkout of the repository (an installed package is given RENTAN_DATA)
REPO_ROOT = Path(__file__).resolve().parents[3]


def data_paths(root: str | os.PathLike | None = None) -> DataPaths:
    """The data root given, else the checkout the current task works in, else ``$RENTAN_DATA``,
    else ``<repo>/data``. For a root on object storage, outside a checkout: this machine's own
    state folder for it (no data there; see ``rentan.core.storage.workspace``)."""
    checkout = storage.active()
    if root is None and checkout is not None:
        return checkout
    url = storage.remote_url(root)
    if url is not None:
        return storage.state_paths(url)
    chosen = root or os.environ.get("RENTAN_DATA") or REPO_ROOT / "data"
    return DataPaths(Path(chosen).expanduser().resolve())


def side_by_side() -> int:
    """How many threads or processes a stage runs at once for per-file work: the machine's cores,
    at most 8 (beyond that the disk, not the cores, sets the pace)."""
    return min(8, os.cpu_count() or 1)
