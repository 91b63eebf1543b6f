"""The landing zone as found: every file under ``landing/<source>/<area>/``, with what its folder
says and, for what may not be read (a link out of the zone, a pipe, an editor's lock file), why."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from rentan.config import Config
from rentan.core.paths import DataPaths
from rentan.ingest.errors import UnreadableFile
from rentan.ingest.guard import os_error


@dataclass
class Landed:
    """A file found in the landing zone."""

    path: Path
    rel: str
    source: str
    area: str
    problem: UnreadableFile | None = None
    stat: os.stat_result | None = None


MISFILED = ("unknown_source", "no_area_folder", "unknown_area")  # what load_unfiled records


# paths never opened: their ledger key is made from the path and its status, not its content
UNREAD = ("ignored", "symlink_invalid", "symlink_outside", "not_regular_file", "vanished", "permission_denied",
          "read_failed")


def _folder_problem(item: Landed, config: Config) -> UnreadableFile | None:
    source, area = item.source, item.area
    if source not in config.sources:
        return UnreadableFile(
            "unknown_source",
            f"Folder landing/{source}/ is not a known source; expected one of {sorted(config.sources)}.",
            f"Folder landing/{source}/ bukan sumber data yang dikenal.",
        )
    if not area:
        return UnreadableFile(
            "no_area_folder",
            f"The file lies directly in landing/{source}/; put it in the folder of its "
            f"{config.sources[source]} (one of {config.areas(source)}).",
            f"Berkas harus diletakkan di folder wilayahnya di bawah landing/{source}/.",
        )
    if area not in config.areas(source):
        return UnreadableFile(
            "unknown_area",
            f"Folder {area!r} is not a configured {config.sources[source]} for {source}; "
            f"expected one of {config.areas(source)}.",
            f"Folder {area!r} bukan wilayah yang terdaftar untuk {source}.",
        )
    return None


def _boundary_problem(path: Path, root: Path, name: str) -> tuple[UnreadableFile | None, os.stat_result | None]:
    """Whether a path may be read: only regular files inside the landing zone are. The path's own
    status (lstat) is what decides, so a link is judged before anything follows it."""
    if name.startswith((".", "~$")):
        what = "an Excel lock file (~$...)" if name.startswith("~$") else "a hidden file (its name starts with a dot)"
        return UnreadableFile("ignored", f"Not read: {what}, left by an editor or the operating system.",
                              "Tidak dibaca: berkas tersembunyi atau berkas kunci Excel."), None
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                return UnreadableFile("symlink_invalid", "A link whose target does not exist (or links to "
                                      "itself); put the file itself in the folder.",
                                      "Tautan yang tujuannya tidak ada; letakkan berkasnya sendiri di folder."), st
            if not target.is_relative_to(root.resolve()):
                return UnreadableFile("symlink_outside", "A link to a file outside the landing zone; it is not "
                                      "followed. Copy the file itself into the folder.",
                                      "Tautan ke berkas di luar folder penerimaan tidak diikuti; salin berkasnya "
                                      "ke folder."), st
            st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return UnreadableFile("not_regular_file", "Not a regular file (a pipe, a device, a socket or a "
                                  "linked folder); only files are read.",
                                  "Bukan berkas biasa; hanya berkas yang dibaca."), st
        return None, st
    except OSError as exc:
        return os_error(exc), None


def discover(paths: DataPaths, config: Config) -> list[Landed]:
    """Every file under landing/, with the source and area its folder says, in a stable order.
    Links are not followed into folders; what may not be read carries its problem."""
    found: list[Landed] = []
    root = paths.landing
    if not root.exists():
        return found

    def walk_error(exc: OSError) -> None:  # a folder that cannot be listed is a delivery we cannot see
        if exc.filename:
            p = Path(exc.filename)
            rel = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name
            parts = rel.split("/")
            item = Landed(p, rel, parts[0], parts[1] if len(parts) > 2 else "")
            item.problem = _folder_problem(item, config) or os_error(exc)
            found.append(item)

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        # a linked folder shows as a folder here: it is recorded like a file, never entered
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in linked)
        for name in sorted(filenames + linked):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            parts = rel.split("/")
            source, area = ([*parts, "", ""])[:2]
            item = Landed(path, rel, source, area if len(parts) > 2 else "")
            folder = _folder_problem(item, config)
            boundary, item.stat = _boundary_problem(path, root, name)
            if folder is not None and boundary is not None:
                # outside any area, and not readable either: load_unfiled records it with both words
                folder = UnreadableFile(folder.code, f"{folder.reason} {boundary.reason}",
                                        f"{folder.alasan} {boundary.alasan}")
            item.problem = folder or boundary
            found.append(item)
    return found


def unread_key(item: Landed) -> str:
    """The ledger's content key for a path that is not read (a link, a pipe, a dot-file): the same
    path in the same state is recorded once, not every night."""
    st = item.stat
    seed = f"{item.rel}\0{item.problem.code if item.problem else ''}\0{st.st_size if st else ''}\0{st.st_mtime_ns if st else ''}"
    return "unread-" + hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:57]


def unread(item: Landed) -> bool:
    return item.problem is not None and item.problem.code in UNREAD
