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
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from rentan.settings import DataPaths

log = logging.getLogger(__name__)

# what lives on the store; work/ (scratch, DuckDB spill) always stays on local disk
SYNCED = ("landing", "warehouse", "exports", "truth", "gx")
MARTS_DIR = "warehouse/_marts"
POINTER = f"{MARTS_DIR}/CURRENT"
# readers take these as "the rest is complete", so they go up after the files they describe
MARKER_NAMES = ("manifest.json",)
# built for this machine only: the analysts' database holds this checkout's absolute paths
LOCAL_ONLY_NAMES = ("rentan.duckdb",)
# a cached copy nobody has linked for this long is removed
CACHE_KEEP_SECONDS = 2 * 24 * 3600

_ACTIVE: contextvars.ContextVar[DataPaths | None] = contextvars.ContextVar("rentan_checkout", default=None)


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


def remote_root(url: str):
    """The data root as an Airflow ``ObjectStoragePath``."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach, has_fs

    scheme = urlsplit(url).scheme
    if not has_fs(scheme):
        import fsspec

        try:
            fs = fsspec.filesystem(scheme)
        except (ValueError, ImportError) as e:
            raise ValueError(f"RENTAN_DATA={url}: no filesystem for '{scheme}://' is installed (install the "
                             f"fsspec package of that store, e.g. s3fs, or its Airflow provider): {e}") from None
        attach(scheme, fs=fs)
    return ObjectStoragePath(url, conn_id=os.environ.get("RENTAN_DATA_CONN_ID") or None)


def cache_dir(url: str) -> Path:
    base = os.environ.get("RENTAN_CACHE") or Path(tempfile.gettempdir()) / "rentan-cache"
    return Path(base).expanduser().resolve() / hashlib.sha256(url.encode()).hexdigest()[:16]


def state_paths(url: str) -> DataPaths:
    """Where a process keeps what is this machine's own (its alerts file) for a data root on a store."""
    return DataPaths(cache_dir(url) / "state", remote=url)


def _modified(info: dict) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "created", "timeCreated"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()
    return None


def _under(rel: str, prefixes: Sequence[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def _local_only(rel: str) -> bool:
    name = posixpath.basename(rel)
    return name.startswith(".") or name.endswith(".tmp") or name in LOCAL_ONLY_NAMES


class Checkout:
    """A private local copy of some prefixes of the remote data root."""

    def __init__(self, url: str):
        self.url = url
        self.root = remote_root(url)
        self.fs = self.root.fs
        self.base = self.root.path.rstrip("/")
        self.cache = cache_dir(url)
        self.objects = self.cache / "objects"
        for d in (self.objects, self.cache / "checkouts", self.cache / "downloads"):
            d.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="checkout-", dir=self.cache / "checkouts"))
        # rel -> (device, inode, size, mtime_ns) of each file as pulled
        self.pulled: dict[str, tuple[int, int, int, int]] = {}

    def remote(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _rel(self, name: str) -> str:
        return posixpath.relpath("/" + name.lstrip("/"), "/" + self.base.lstrip("/"))

    def listing(self, prefixes: Sequence[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for prefix in prefixes:
            try:
                items = self.fs.find(self.remote(prefix), detail=True)
            except FileNotFoundError:
                continue
            for name, info in items.items():
                if info.get("type", "file") == "file":
                    found[self._rel(name)] = info
        return found

    def _current_marts_only(self, listing: dict[str, dict]) -> dict[str, dict]:
        """Of the published versions, only the current one is needed to build the next."""
        if not any(_under(r, [MARTS_DIR]) for r in listing):
            return listing
        current = self.fs.cat_file(self.remote(POINTER)).decode().strip() if POINTER in listing else None
        keep = f"{MARTS_DIR}/{current}" if current else None
        return {r: i for r, i in listing.items()
                if not _under(r, [MARTS_DIR]) or r == POINTER or (keep and _under(r, [keep]))}

    def pull(self, prefixes: Sequence[str]) -> int:
        listing = self._current_marts_only(self.listing(prefixes))
        keys = {}
        for rel, info in listing.items():
            sig = f"{rel}\0{info.get('size')}\0{info.get('ETag') or info.get('etag') or ''}\0{_modified(info)}"
            keys[rel] = hashlib.sha256(sig.encode()).hexdigest()
        cached = set(os.listdir(self.objects))
        missing = [rel for rel in listing if keys[rel] not in cached]
        if missing:
            tmp = Path(tempfile.mkdtemp(dir=self.cache / "downloads"))
            try:
                local = [str(tmp / keys[rel]) for rel in missing]
                # one call, so a store with an async client fetches them concurrently
                self.fs.get([self.remote(rel) for rel in missing], local)
                for rel, path in zip(missing, local):
                    when = _modified(listing[rel]) or time.time()
                    os.utime(path, (when, when))
                    os.replace(path, self.objects / keys[rel])
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        for folder in {posixpath.dirname(rel) for rel in listing}:
            os.makedirs(self.dir / folder, exist_ok=True)
        objects, root = str(self.objects), str(self.dir)
        for rel in listing:
            target = f"{root}/{rel}"
            os.link(f"{objects}/{keys[rel]}", target)
            st = os.stat(target)
            self.pulled[rel] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        pointer = self.dir / POINTER
        if pointer.exists():
            version = pointer.read_text().strip()
            link = self.dir / "warehouse" / "marts"
            if (self.dir / MARTS_DIR / version).is_dir() and not link.exists():
                os.symlink(f"_marts/{version}", link)
        log.info("checkout of %s: %d files (%d downloaded)", ", ".join(prefixes), len(listing), len(missing))
        return len(missing)

    def push(self, prefixes: Sequence[str]) -> dict:
        by_inode = {(v[0], v[1]): rel for rel, v in self.pulled.items()}
        present: set[str] = set()
        uploads: list[str] = []
        copies: list[tuple[str, str]] = []
        markers: list[str] = []
        for prefix in prefixes:
            top = self.dir / prefix
            if not top.is_dir():
                continue
            for folder, _dirs, files in os.walk(top):
                for name in files:
                    path = Path(folder) / name
                    rel = path.relative_to(self.dir).as_posix()
                    if path.is_symlink() or _local_only(rel):
                        continue
                    present.add(rel)
                    st = path.stat()
                    if self.pulled.get(rel) == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
                        continue
                    if rel == POINTER or name in MARKER_NAMES:
                        markers.append(rel)
                    elif (st.st_dev, st.st_ino) in by_inode:
                        copies.append((by_inode[(st.st_dev, st.st_ino)], rel))
                    else:
                        uploads.append(rel)
                        # the same new file under a second name (identity's snapshot copy and its
                        # latest table) is uploaded once and copied on the store
                        by_inode[(st.st_dev, st.st_ino)] = rel
        deleted = sorted(r for r in self.pulled if _under(r, prefixes) and r not in present and not _local_only(r))
        # object stores have no folders, but a filesystem behind fsspec (sftp, a mounted share) may
        for folder in sorted({posixpath.dirname(self.remote(r)) for r in [*uploads, *markers, *(d for _, d in copies)]}):
            self.fs.makedirs(folder, exist_ok=True)
        if uploads:
            self.fs.put([str(self.dir / r) for r in uploads], [self.remote(r) for r in uploads])
        for src, dst in copies:
            self.fs.copy(self.remote(src), self.remote(dst))
        # manifests first, the marts pointer last: a reader that sees it finds all it points to
        for rel in sorted(markers, key=lambda r: r == POINTER):
            self.fs.put_file(str(self.dir / rel), self.remote(rel))
        if deleted:
            self.fs.rm([self.remote(r) for r in deleted])
        if POINTER in markers:
            self._drop_unlisted_versions()
        log.info("pushed %s: %d uploaded, %d copied on the store, %d markers, %d deleted",
                 ", ".join(prefixes), len(uploads), len(copies), len(markers), len(deleted))
        return {"uploaded": len(uploads), "copied": len(copies), "markers": len(markers), "deleted": len(deleted)}

    def _drop_unlisted_versions(self) -> None:
        """The publish in this checkout kept the version it replaced and the new one; older ones go,
        as they do on local disk."""
        kept = {p.name for p in (self.dir / MARTS_DIR).iterdir() if p.is_dir()}
        try:
            entries = self.fs.ls(self.remote(MARTS_DIR), detail=True)
        except FileNotFoundError:
            return
        for e in entries:
            name = posixpath.basename(e["name"].rstrip("/"))
            if e.get("type") == "directory" and name not in kept:
                self.fs.rm(self.remote(f"{MARTS_DIR}/{name}"), recursive=True)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self._evict()

    def _evict(self) -> None:
        # a link made or removed updates the inode's ctime: ctime is when a checkout last used it
        cutoff = time.time() - CACHE_KEEP_SECONDS
        with os.scandir(self.objects) as entries:
            for e in entries:
                with contextlib.suppress(FileNotFoundError):
                    st = e.stat(follow_symlinks=False)
                    if st.st_nlink == 1 and st.st_ctime < cutoff:
                        os.unlink(e.path)


@contextlib.contextmanager
def workspace(pull: Sequence[str] = SYNCED, push: Sequence[str] | None = None,
              url: str | None = None) -> Iterator[DataPaths]:
    """The data root for one unit of work: on local disk the root itself; on object storage a
    checkout of ``pull`` whose changes under ``push`` (default: ``pull``) go back to the store
    if the work succeeds."""
    from rentan.settings import data_paths

    url = url or remote_url()
    if url is None or active() is not None:
        yield active() or data_paths()
        return
    checkout = Checkout(url)
    token = None
    try:
        checkout.pull(pull)
        paths = DataPaths(checkout.dir, remote=url)
        token = _ACTIVE.set(paths)
        yield paths
        checkout.push(pull if push is None else push)
    finally:
        if token is not None:
            _ACTIVE.reset(token)
        checkout.discard()
