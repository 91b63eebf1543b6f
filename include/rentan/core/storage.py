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

from rentan.core.paths import DataPaths

log = logging.getLogger(__name__)

# what lives on the store; work/ (scratch, DuckDB spill) always stays on local disk
SYNCED = ("landing", "warehouse", "exports", "truth", "gx", "reports")
MARTS_DIR = "warehouse/_marts"
POINTER = f"{MARTS_DIR}/CURRENT"
# readers take these as "the rest is complete", so they go up after the files they describe
MARKER_NAMES = ("manifest.json",)
# built for this machine only: the analysts' database holds this checkout's absolute paths
LOCAL_ONLY_NAMES = ("rentan.duckdb",)
# rewritten in place by a library (Great Expectations' stores and Data Docs): pulled as copies,
# not as links to the shared cache
IN_PLACE = ("gx",)
# a cached copy nobody has linked for this long is removed
CACHE_KEEP_SECONDS = 2 * 24 * 3600

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
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    return None


def _key(rel: str, info: dict) -> str:
    """A remote file's cache key: its path and what the store says of its content and time."""
    sig = f"{rel}\0{info.get('size')}\0{info.get('ETag') or info.get('etag') or ''}\0{_modified(info)}"
    return hashlib.sha256(sig.encode()).hexdigest()


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
        # rel -> (device, inode, size, mtime_ns) of each file as pulled; rel -> its cache key
        self.pulled: dict[str, tuple[int, int, int, int]] = {}
        self.keys: dict[str, str] = {}
        self.pulled_pointer: str | None = None

    def remote(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _rel(self, name: str) -> str | None:
        rel = posixpath.relpath("/" + name.lstrip("/"), "/" + self.base.lstrip("/"))
        # a key that does not map back to itself ("a/../b", a console's "folder/" placeholder)
        # could land outside the checkout: it is not ours
        if rel.startswith("..") or self.remote(rel).lstrip("/") != name.lstrip("/"):
            return None
        return rel

    def listing(self, prefixes: Sequence[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for prefix in prefixes:
            try:
                items = self.fs.find(self.remote(prefix), detail=True)
            except FileNotFoundError:
                continue
            for name, info in items.items():
                rel = self._rel(name)
                if info.get("type", "file") == "file" and rel and _under(rel, [prefix]):
                    found[rel] = info
                elif rel is None:
                    log.warning("skipped the object %s: its name does not map to a path", name)
        return found

    def _versions(self) -> set[str]:
        try:
            entries = self.fs.ls(self.remote(MARTS_DIR), detail=True)
        except FileNotFoundError:
            return set()
        return {posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory"}

    def _listing(self, prefixes: Sequence[str]) -> dict[str, dict]:
        """The files under ``prefixes``; of the published marts only the current version, which
        is all the next publish builds on. The pointer is read before the versions are listed,
        so a publish landing meanwhile cannot leave us a pointer without its version."""
        if not any(_under(MARTS_DIR, [p]) or _under(p, [MARTS_DIR]) for p in prefixes):
            return self.listing(prefixes)
        try:
            current = self.fs.cat_file(self.remote(POINTER)).decode().strip()
        except FileNotFoundError:
            current = None
        self.pulled_pointer = current
        listing = {r: i for r, i in self.listing(prefixes).items() if not _under(r, [MARTS_DIR])}
        if current is None:
            if self._versions():
                raise RuntimeError(f"{self.url}: {MARTS_DIR} holds versions but no {POINTER}; restore the "
                                   "pointer (the newest complete version's name) before publishing again")
            return listing
        version = self.listing([f"{MARTS_DIR}/{current}"])
        if not version:
            raise RuntimeError(f"{self.url}: {POINTER} names {current}, which has no files")
        listing.update(version)
        listing[POINTER] = self.fs.info(self.remote(POINTER))
        return listing

    def _fetch(self, rels: list[str], listing: dict[str, dict], keys: dict[str, str]) -> None:
        tmp = Path(tempfile.mkdtemp(dir=self.cache / "downloads"))
        try:
            local = [str(tmp / keys[rel]) for rel in rels]
            # one call, so a store with an async client fetches them concurrently
            self.fs.get([self.remote(rel) for rel in rels], local)
            for rel, path in zip(rels, local):
                when = _modified(listing[rel]) or time.time()
                os.utime(path, (when, when))
                os.chmod(path, 0o444)  # shared by every checkout: nobody writes through it
                os.replace(path, self.objects / keys[rel])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def pull(self, prefixes: Sequence[str]) -> int:
        listing = self._listing(prefixes)
        keys = {rel: _key(rel, info) for rel, info in listing.items()}
        cached = set(os.listdir(self.objects))
        missing = [rel for rel in listing if keys[rel] not in cached]
        if missing:
            self._fetch(missing, listing, keys)
        folders = {posixpath.dirname(rel) for rel in listing}
        for folder in folders:
            os.makedirs(self.dir / folder, exist_ok=True)
        objects, root = str(self.objects), str(self.dir)
        for rel in listing:
            target, obj = f"{root}/{rel}", f"{objects}/{keys[rel]}"
            if _under(rel, IN_PLACE):
                shutil.copy2(obj, target)
                os.chmod(target, 0o644)
            else:
                try:
                    os.link(obj, target)
                except FileNotFoundError:  # evicted by another process since we listed the cache
                    self._fetch([rel], listing, keys)
                    os.link(obj, target)
            st = os.stat(target)
            self.pulled[rel] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self.keys = keys
        # a folder takes the time of its newest file, as on the store, not the time of the pull
        # (identity keeps a night's folder for so many days after it was written)
        newest: dict[str, int] = {}
        for rel, (_dev, _ino, _size, mtime_ns) in self.pulled.items():
            d = posixpath.dirname(rel)
            while d:
                if newest.get(d, -1) < mtime_ns:
                    newest[d] = mtime_ns
                d = posixpath.dirname(d)
        for d, mtime_ns in newest.items():
            os.utime(self.dir / d, ns=(mtime_ns, mtime_ns))
        pointer = self.dir / POINTER
        if pointer.exists():
            version = pointer.read_text().strip()
            os.symlink(f"_marts/{version}", self.dir / "warehouse" / "marts")
        log.info("checkout of %s: %d files (%d downloaded)", ", ".join(prefixes), len(listing), len(missing))
        return len(missing)

    def _still_as_pulled(self, rel: str) -> bool:
        try:
            info = self.fs.info(self.remote(rel))
        except FileNotFoundError:
            return False
        return _key(rel, info) == self.keys.get(rel)

    def push(self, prefixes: Sequence[str]) -> dict:
        by_inode = {(v[0], v[1]): rel for rel, v in self.pulled.items()}
        present: set[str] = set()
        uploads: list[str] = []
        copies: list[tuple[str, str]] = []      # from a pulled file, which the store already has
        late_copies: list[tuple[str, str]] = []  # from a file this push uploads
        markers: list[str] = []
        new_by_inode: dict[tuple[int, int], str] = {}
        for prefix in dict.fromkeys(prefixes):
            top = self.dir / prefix
            if not top.is_dir():
                continue
            for folder, _dirs, files in os.walk(top):
                for name in files:
                    path = Path(folder) / name
                    rel = path.relative_to(self.dir).as_posix()
                    if path.is_symlink() or _local_only(rel) or rel in present:
                        continue
                    present.add(rel)
                    st = path.stat()
                    inode = (st.st_dev, st.st_ino)
                    if self.pulled.get(rel) == (*inode, st.st_size, st.st_mtime_ns):
                        continue
                    if rel == POINTER or name in MARKER_NAMES:
                        markers.append(rel)
                    elif by_inode.get(inode) not in (None, rel) and self._unchanged(by_inode[inode]):
                        copies.append((by_inode[inode], rel))
                    elif inode in new_by_inode:
                        late_copies.append((new_by_inode[inode], rel))
                    else:
                        # new, replaced, or (a library's file) rewritten in place
                        uploads.append(rel)
                        new_by_inode[inode] = rel
        deleted = sorted(r for r in self.pulled if _under(r, prefixes) and r not in present and not _local_only(r))
        # object stores have no folders, but a filesystem behind fsspec (sftp, a mounted share) may
        targets = [*uploads, *markers, *(d for _, d in copies), *(d for _, d in late_copies)]
        for folder in sorted({posixpath.dirname(self.remote(r)) for r in targets}):
            self.fs.makedirs(folder, exist_ok=True)
        # a folder being replaced loses its old manifest first: a reader never takes new files
        # for the ones an old manifest describes
        stale_markers = [r for r in markers if r != POINTER and r in self.pulled]
        if stale_markers:
            self.fs.rm([self.remote(r) for r in stale_markers])
        for src, dst in copies:  # before the uploads, which may replace their source
            self.fs.copy(self.remote(src), self.remote(dst))
        if uploads:
            self.fs.put([str(self.dir / r) for r in uploads], [self.remote(r) for r in uploads])
        for src, dst in late_copies:
            self.fs.copy(self.remote(src), self.remote(dst))
        # manifests first, the marts pointer last: a reader that sees it finds all it points to
        for rel in sorted(markers, key=lambda r: r == POINTER):
            if rel == POINTER:
                self._check_pointer_unchanged()
            self.fs.put_file(str(self.dir / rel), self.remote(rel))
        # a file another task has written since we pulled it is theirs now
        gone = [r for r in deleted if self._still_as_pulled(r)]
        if gone:
            self.fs.rm([self.remote(r) for r in gone])
        if POINTER in markers:
            self._drop_old_versions()
        log.info("pushed %s: %d uploaded, %d copied on the store, %d markers, %d deleted",
                 ", ".join(prefixes), len(uploads), len(copies) + len(late_copies), len(markers), len(gone))
        return {"uploaded": len(uploads), "copied": len(copies) + len(late_copies), "markers": len(markers),
                "deleted": len(gone)}

    def _unchanged(self, rel: str) -> bool:
        """A pulled file still as it was pulled (a replaced one has a new inode; this catches one
        rewritten in place)."""
        path = self.dir / rel
        if not path.exists() or path.is_symlink():
            return False
        st = path.stat()
        return self.pulled[rel] == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _check_pointer_unchanged(self) -> None:
        """Two publishes at once (a hand-run ``rentan marts`` beside the nightly, a retry beside
        a task thought dead) would each build on the same version: the second to arrive stops."""
        try:
            now = self.fs.cat_file(self.remote(POINTER)).decode().strip()
        except FileNotFoundError:
            now = None
        if now != self.pulled_pointer:
            ours = {p.name for p in (self.dir / MARTS_DIR).iterdir() if p.is_dir()} - {self.pulled_pointer}
            for name in ours:  # the version this run uploaded, which nothing will point to
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(self.remote(f"{MARTS_DIR}/{name}"), recursive=True)
            raise RuntimeError(f"another run published the marts ({now}) while this one built on "
                               f"{self.pulled_pointer}; nothing of this run was published: rerun it")

    def _drop_old_versions(self) -> None:
        """The version this publish replaced is kept for readers still inside it; older ones go,
        as they do on local disk. Versions are named by their time: a newer one is never ours
        to remove."""
        previous = self.pulled_pointer
        if previous is None:
            return
        for name in self._versions():
            if name < previous:
                self.fs.rm(self.remote(f"{MARTS_DIR}/{name}"), recursive=True)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self._evict()

    def _evict(self) -> None:
        # a link made or removed updates the inode's ctime: ctime is when a checkout last used it
        cutoff = time.time() - CACHE_KEEP_SECONDS
        # what a killed task left (its checkout keeps its objects linked, so they would stay)
        for folder in ("checkouts", "downloads"):
            with os.scandir(self.cache / folder) as entries:
                for e in entries:
                    with contextlib.suppress(FileNotFoundError):
                        if e.stat(follow_symlinks=False).st_mtime < cutoff:
                            shutil.rmtree(e.path, ignore_errors=True)
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
    from rentan.core.settings import data_paths

    url = url or remote_url()
    push = pull if push is None else push
    outer = active()
    if outer is not None:
        # a stage called from a command that already checked out: only if that covers it all
        covered = _OUTER.get()
        if outer.remote != url or not all(_under(p, covered[0]) for p in pull) or \
                not all(_under(p, covered[1]) for p in push):
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
