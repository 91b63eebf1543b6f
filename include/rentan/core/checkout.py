"""The checkout behind ``rentan.core.storage.workspace``: a private local copy of some prefixes of
a data root on object storage, pulled through this machine's cache and pushed back when the work
succeeds (the design is told in ``rentan.core.storage``)."""

from __future__ import annotations

import contextlib
import dataclasses
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

# the name operators know these records by, from before the checkout had a module of its own
log = logging.getLogger("rentan.core.storage")

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


def under(rel: str, prefixes: Sequence[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def _local_only(rel: str) -> bool:
    name = posixpath.basename(rel)
    return name.startswith(".") or name.endswith(".tmp") or name in LOCAL_ONLY_NAMES


@dataclasses.dataclass
class Changes:
    """What a push finds in a checkout; each list keeps the order its files go up in."""

    # every file the checkout holds: a pulled one missing from it was removed
    present: set[str] = dataclasses.field(default_factory=set)
    uploads: list[str] = dataclasses.field(default_factory=list)
    # from a pulled file, which the store already has
    copies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # from a file this push uploads
    late_copies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    markers: list[str] = dataclasses.field(default_factory=list)


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
                if info.get("type", "file") == "file" and rel and under(rel, [prefix]):
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
        if not any(under(MARTS_DIR, [p]) or under(p, [MARTS_DIR]) for p in prefixes):
            return self.listing(prefixes)
        try:
            current = self.fs.cat_file(self.remote(POINTER)).decode().strip()
        except FileNotFoundError:
            current = None
        self.pulled_pointer = current
        listing = {r: i for r, i in self.listing(prefixes).items() if not under(r, [MARTS_DIR])}
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
            if under(rel, IN_PLACE):
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
        changes = self._changes(prefixes)
        deleted = sorted(r for r in self.pulled if under(r, prefixes) and r not in changes.present and not _local_only(r))
        self._send(changes)
        # a file another task has written since we pulled it is theirs now
        gone = [r for r in deleted if self._still_as_pulled(r)]
        if gone:
            self.fs.rm([self.remote(r) for r in gone])
        if POINTER in changes.markers:
            self._drop_old_versions()
        copied = len(changes.copies) + len(changes.late_copies)
        log.info("pushed %s: %d uploaded, %d copied on the store, %d markers, %d deleted",
                 ", ".join(prefixes), len(changes.uploads), copied, len(changes.markers), len(gone))
        return {"uploaded": len(changes.uploads), "copied": copied, "markers": len(changes.markers),
                "deleted": len(gone)}

    def _files(self, prefixes: Sequence[str]) -> Iterator[tuple[str, os.stat_result]]:
        """Each file of the checkout under ``prefixes`` that the store is to hold, once."""
        seen: set[str] = set()
        for prefix in dict.fromkeys(prefixes):
            top = self.dir / prefix
            if not top.is_dir():
                continue
            for folder, _dirs, files in os.walk(top):
                for name in files:
                    path = Path(folder) / name
                    rel = path.relative_to(self.dir).as_posix()
                    if path.is_symlink() or _local_only(rel) or rel in seen:
                        continue
                    seen.add(rel)
                    yield rel, path.stat()

    def _changes(self, prefixes: Sequence[str]) -> Changes:
        """How the files under ``prefixes`` differ from what was pulled."""
        by_inode = {(v[0], v[1]): rel for rel, v in self.pulled.items()}
        new_by_inode: dict[tuple[int, int], str] = {}
        changes = Changes()
        for rel, st in self._files(prefixes):
            changes.present.add(rel)
            inode = (st.st_dev, st.st_ino)
            if self.pulled.get(rel) == (*inode, st.st_size, st.st_mtime_ns):
                continue
            if rel == POINTER or posixpath.basename(rel) in MARKER_NAMES:
                changes.markers.append(rel)
            elif by_inode.get(inode) not in (None, rel) and self._unchanged(by_inode[inode]):
                changes.copies.append((by_inode[inode], rel))
            elif inode in new_by_inode:
                changes.late_copies.append((new_by_inode[inode], rel))
            else:
                # new, replaced, or (a library's file) rewritten in place
                changes.uploads.append(rel)
                new_by_inode[inode] = rel
        return changes

    def _send(self, changes: Changes) -> None:
        """Everything of ``changes`` but the deletions, markers after the files they describe."""
        markers = changes.markers
        # object stores have no folders, but a filesystem behind fsspec (sftp, a mounted share) may
        targets = [*changes.uploads, *markers, *(d for _, d in changes.copies), *(d for _, d in changes.late_copies)]
        for folder in sorted({posixpath.dirname(self.remote(r)) for r in targets}):
            self.fs.makedirs(folder, exist_ok=True)
        # a folder being replaced loses its old manifest first: a reader never takes new files
        # for the ones an old manifest describes
        stale_markers = [r for r in markers if r != POINTER and r in self.pulled]
        if stale_markers:
            self.fs.rm([self.remote(r) for r in stale_markers])
        for src, dst in changes.copies:  # before the uploads, which may replace their source
            self.fs.copy(self.remote(src), self.remote(dst))
        if changes.uploads:
            self.fs.put([str(self.dir / r) for r in changes.uploads], [self.remote(r) for r in changes.uploads])
        for src, dst in changes.late_copies:
            self.fs.copy(self.remote(src), self.remote(dst))
        # manifests first, the marts pointer last: a reader that sees it finds all it points to
        for rel in sorted(markers, key=lambda r: r == POINTER):
            if rel == POINTER:
                self._check_pointer_unchanged()
            self.fs.put_file(str(self.dir / rel), self.remote(rel))

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

