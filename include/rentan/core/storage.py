"""The data root on local disk (the default) or on object storage.

``RENTAN_DATA`` is a local folder unless it is a URL: ``s3://bucket/rentan``, ``gs://...`` or any
other filesystem Airflow's object storage reaches (``ObjectStoragePath``; ``RENTAN_DATA_CONN_ID``
names the Airflow connection holding its credentials). A protocol Airflow has no provider for but
fsspec knows (``memory://`` in the tests) is attached as it is.

On object storage every task works in a private local **checkout** of the prefixes it needs:

1. *pull*: the remote files are listed; each one not yet in this machine's cache
   (``RENTAN_CACHE``) is downloaded once, and hard-linked into the checkout with the object's
   modified time as its mtime (a landing file's time of receipt);
2. the task runs unchanged on local files: DuckDB, pyarrow and Great Expectations want local
   files, and DuckDB's own S3 support is an extension it would download at run time;
3. *push*, only if the task succeeded: the files it created or replaced are uploaded (a file
   hard-linked from one it pulled is copied on the store, not uploaded again), then the marker
   files readers wait for (``warehouse/_marts/CURRENT``, each package's ``manifest.json``), then
   what the task removed is deleted. A failed task pushes nothing.

Tasks running side by side, on one machine or several, each push only their own changes. Our
writers never modify a file in place (they write a temporary file and rename it), so a file
hard-linked from the cache is never written through.

On an object store the marts are published by the pointer file ``warehouse/_marts/CURRENT`` (a
single PUT, which object stores make atomic) instead of the ``warehouse/marts`` link; a checkout
re-creates the link from it. The ingestion ledger must then be a database every worker reaches:
``RENTAN_LEDGER_URL``.

The checkout itself (pull, push, the cache) is ``rentan.core.checkout``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

from rentan.core.checkout import Checkout, cache_dir, under
from rentan.core.checkout import remote_root as remote_root  # the data root's public face stays here
from rentan.core.paths import DataPaths

# what lives on the store; work/ (scratch, DuckDB spill) always stays on local disk
SYNCED = ("landing", "warehouse", "exports", "truth", "gx", "reports")

_ACTIVE: contextvars.ContextVar[DataPaths | None] = contextvars.ContextVar("rentan_checkout", default=None)
_OUTER: contextvars.ContextVar[tuple] = contextvars.ContextVar("rentan_checkout_prefixes", default=((), ()))


def active() -> DataPaths | None:
    """The checkout the current task works in, if any."""
    return _ACTIVE.get()


def remote_url(value: str | os.PathLike | None = None) -> str | None:
    """``value`` (else ``$RENTAN_DATA``) when it names object storage, else None (a local path)."""
    value = str(value) if value else os.environ.get("RENTAN_DATA")
    if not value:
        return None
    scheme = urlsplit(value).scheme
    return value.rstrip("/") if scheme and scheme not in ("file", "local") else None


def state_paths(url: str) -> DataPaths:
    """Where a process keeps what is this machine's own (its alerts file) for a data root on a store."""
    return DataPaths(cache_dir(url) / "state", remote=url)


@contextlib.contextmanager
def workspace(pull: Sequence[str] = SYNCED, push: Sequence[str] | None = None,
              url: str | None = None) -> Iterator[DataPaths]:
    """The data root for one unit of work: on local disk the root itself; on object storage a
    checkout of ``pull`` whose changes under ``push`` (default: ``pull``) go back to the store
    if the work succeeds."""
    from rentan.core.settings import data_paths

    url = url or remote_url()
    push = pull if push is None else push
    outer = active()
    if outer is not None:
        # a stage called from a command that already checked out: only if that covers it all
        covered = _OUTER.get()
        if outer.remote != url or not all(under(p, covered[0]) for p in pull) or \
                not all(under(p, covered[1]) for p in push):
            raise RuntimeError(f"a checkout of {outer.remote} is open and does not cover {list(pull)} / {list(push)}")
        yield outer
        return
    if url is None:
        yield data_paths()
        return
    checkout = Checkout(url)
    token = outer_token = None
    try:
        checkout.pull(pull)
        paths = DataPaths(checkout.dir, remote=url)
        token, outer_token = _ACTIVE.set(paths), _OUTER.set((tuple(pull), tuple(push)))
        yield paths
        checkout.push(push)
    finally:
        if token is not None and outer_token is not None:
            _ACTIVE.reset(token)
            _OUTER.reset(outer_token)
        checkout.discard()
