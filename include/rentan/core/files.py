"""Files and folders put in place whole: a reader sees the old one or the new one, never half."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange(a: Path, b: Path) -> None:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); OSError where
    the kernel, C library or filesystem cannot."""
    if _renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(a), None, str(b))


def replace_dir(built: Path, target: Path) -> None:
    """Put the folder ``built`` at ``target``. A reader (a branch's file sync, say) sees the old
    folder or the new one, never none: the two are exchanged in one step, then the old one is
    removed. Where the filesystem cannot exchange, the old folder is renamed aside first and is
    missing between the two renames."""
    if not target.exists():
        os.rename(built, target)
        return
    try:
        exchange(built, target)
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        aside = built.with_name(built.name + ".old")
        os.rename(target, aside)
        os.rename(built, target)
        built = aside
    shutil.rmtree(built, ignore_errors=True)  # the old folder, now under the built one's name


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_parquet(table, target: Path, work: Path, tag: str = "") -> None:
    """Write ``table`` to ``target`` whole: into ``work`` (``tag`` keeps two writers of one name
    apart), then renamed over it, so a reader never sees a half-written file."""
    import pyarrow.parquet as pq

    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"{tag}{target.stem}.{os.getpid()}.parquet"
    pq.write_table(table, tmp, compression="zstd")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
