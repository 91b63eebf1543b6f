"""Received files are hashed and read in reader processes with a memory and a time budget.

A reader written in Rust or C does not raise when a file asks it for 500 GB: the allocation fails
and the process aborts. A read from a stale network mount does not return at all. Neither may take
the night's load task with it, so the read happens in child processes (started once per load, not
per file; several side by side) whose address space is capped; if a child dies or overruns its
time, the file is recorded as unreadable with that reason and a fresh child reads the next file.

Knobs (environment): ``RENTAN_READER_MEMORY_MB`` (default 3072), ``RENTAN_READER_SECONDS`` per
file (default 120), ``RENTAN_READERS`` (processes side by side; default the cores, at most 8),
``RENTAN_READER_GUARD=0`` reads in the task's own process (for profiling).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import resource
import signal
import time
from multiprocessing import connection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from rentan.core.settings import side_by_side
from rentan.ingest.errors import UnreadableFile

log = logging.getLogger(__name__)

MEMORY_MB = 3072
SECONDS = 120


def _budget() -> tuple[int, float]:
    return (int(os.environ.get("RENTAN_READER_MEMORY_MB", MEMORY_MB)),
            float(os.environ.get("RENTAN_READER_SECONDS", SECONDS)))


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _serve(conn, memory_mb: int, parent_ends=()) -> None:
    """The reader process: one request at a time, until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for end in parent_ends:
        # the fork copied the parent's ends of this pipe and of the other readers' pipes: while a
        # copy is open here, the parent closing its own never reaches that reader as the pipe's end
        end.close()
    # the cap is on top of what the process already maps: a budget for the file, not for Python
    limit = _vm_size() + memory_mb * (1 << 20)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from rentan.ingest import readers

    work = {"sha256": readers.sha256_of, "read": readers.read_table}
    while True:
        try:
            what, args = conn.recv()
        except (EOFError, OSError):
            return
        if what == "stop":
            return
        try:
            out = (True, work[what](*args))
        except UnreadableFile as bad:
            out = (False, bad)
        except MemoryError:
            out = (False, _out_of_memory(memory_mb))
        except OSError as exc:
            out = (False, os_error(exc))
        except Exception as exc:  # noqa: BLE001 - a reader's own bug on a strange file: that file fails, not the night
            out = (False, UnreadableFile(
                "reader_error",
                f"The file could not be read ({type(exc).__name__}). Open it, save it again as .xlsx or "
                ".csv and resend it.",
                "Berkas tidak dapat dibaca. Buka, simpan ulang sebagai .xlsx atau .csv, lalu kirim lagi."))
        try:
            conn.send(out)
        except Exception as exc:  # noqa: BLE001 - a result that cannot be sent back (too large): say so
            conn.send((False, UnreadableFile(
                "reader_error", f"The file's rows could not be passed on ({type(exc).__name__}).",
                "Isi berkas tidak dapat diteruskan untuk dimuat.")))


def _out_of_memory(memory_mb: int) -> UnreadableFile:
    return UnreadableFile(
        "reader_out_of_memory",
        f"Reading the file needed more than its memory budget ({memory_mb:,} MB); it is far larger than a "
        "list or an extract. Send only the list itself, without empty formatted areas.",
        "Membaca berkas ini memerlukan memori melebihi batas; berkas jauh lebih besar dari sebuah daftar. "
        "Kirim daftarnya saja, tanpa area kosong berformat.")


def os_error(exc: OSError) -> UnreadableFile:
    if isinstance(exc, FileNotFoundError):
        return UnreadableFile("vanished", "The file was removed or renamed while the night read the folder; "
                              "it is read again when it is back.",
                              "Berkas dihapus atau diganti namanya saat dibaca; akan dibaca lagi bila ada kembali.")
    if isinstance(exc, PermissionError):
        return UnreadableFile("permission_denied", "The night's account may not read this file; give it read "
                              "permission (chmod a+r) and rerun the night.",
                              "Berkas tidak boleh dibaca oleh sistem; beri izin baca lalu jalankan ulang.")
    return UnreadableFile("read_failed", f"The file could not be read from disk ({exc.strerror or type(exc).__name__}).",
                          "Berkas tidak dapat dibaca dari disk.")


def _readers() -> int:
    """How many reader processes a load runs side by side: all cores unless told."""
    wanted = os.environ.get("RENTAN_READERS")
    return max(1, int(wanted) if wanted else side_by_side())


class _Child:
    """One guarded reader process and its end of the pipe."""

    def __init__(self, memory_mb: int, others: list[_Child]):
        # forked: the child starts at once with the readers already imported, and touches nothing
        # of the parent's but the pipe (no logging, no database), so no lock it inherits matters
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        ends = [self.conn, *(o.conn for o in others)]
        self.proc = ctx.Process(target=_serve, args=(child, memory_mb, ends), name="rentan-reader", daemon=True)
        self.proc.start()
        child.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("stop", ()))
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.kill()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()

    def died(self, memory_mb: int) -> UnreadableFile:
        """Why the process ended while reading (it is gone afterwards)."""
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        self.kill()
        log.warning("the reader process ended with exit code %s", code)
        if code is not None and code < 0 and -code in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL):
            if -code in (signal.SIGABRT, signal.SIGKILL):
                return _out_of_memory(memory_mb)
            return UnreadableFile(
                "reader_crashed", "The file made the reader crash; open it, save it again and resend it.",
                "Berkas membuat pembaca berhenti mendadak; buka, simpan ulang, lalu kirim lagi.")
        return UnreadableFile(
            "reader_crashed", f"The reader stopped on this file (exit code {code}); open it, save it again "
            "and resend it.", "Berkas membuat pembaca berhenti mendadak; buka, simpan ulang, lalu kirim lagi.")


class Reader:
    """Hashes and reads files in guarded child processes, several side by side (``map``); use as a
    context manager. ``RENTAN_READERS`` sets how many (default: the machine's cores, at most 8)."""

    def __init__(self, guarded: bool | None = None, processes: int | None = None):
        self.guarded = os.environ.get("RENTAN_READER_GUARD", "1") != "0" if guarded is None else guarded
        self.memory_mb, self.seconds = _budget()
        self.processes = processes or _readers()
        self._children: list[_Child | None] = [None] * self.processes

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for child in self._children:
            if child is not None:
                child.close()
        self._children = [None] * self.processes

    def _timeout(self) -> UnreadableFile:
        return UnreadableFile(
            "reader_timeout",
            f"Reading the file took longer than {self.seconds:,.0f} seconds and was stopped (a file that "
            "never ends, a stalled network folder, or a file far larger than a list).",
            f"Membaca berkas melebihi {self.seconds:,.0f} detik dan dihentikan.")

    def map(self, what: str, paths: list[Path]) -> list[tuple[bool, Any]]:
        """``what`` ("sha256" or "read") of every path, in the paths' order, as (True, value) or
        (False, UnreadableFile): a file that fails costs only its own result."""
        if not self.guarded:
            return [self._in_process(what, p) for p in paths]
        out: list[tuple[bool, object] | None] = [None] * len(paths)
        todo = list(range(len(paths)))[::-1]
        busy: dict[int, tuple[int, float]] = {}  # child slot -> (path index, deadline)
        while todo or busy:
            for slot in range(min(self.processes, len(paths))):
                if slot in busy or not todo:
                    continue
                child = self._children[slot]
                if child is None or not child.proc.is_alive():
                    others = [c for c in self._children if c is not None and c is not child]
                    child = self._children[slot] = _Child(self.memory_mb, others)
                i = todo.pop()
                child.conn.send((what, (paths[i],)))
                busy[slot] = (i, time.monotonic() + self.seconds)
            wait_for = max(0.0, min(deadline for _, deadline in busy.values()) - time.monotonic())
            working = {slot: self._children[slot] for slot in busy}
            by_conn = {c.conn: slot for slot, c in working.items() if c is not None}
            for conn in connection.wait(list(by_conn), timeout=wait_for):
                slot = by_conn[cast(Connection, conn)]
                i, _ = busy.pop(slot)
                try:
                    out[i] = cast(Connection, conn).recv()
                except (EOFError, OSError):
                    out[i] = (False, cast(_Child, working[slot]).died(self.memory_mb))
                    self._children[slot] = None
            now = time.monotonic()
            for slot, (i, deadline) in list(busy.items()):
                if now >= deadline:
                    cast(_Child, working[slot]).kill()
                    self._children[slot] = None
                    busy.pop(slot)
                    out[i] = (False, self._timeout())
        return out  # type: ignore[return-value]

    def _in_process(self, what: str, path: Path) -> tuple[bool, Any]:
        from rentan.ingest import readers
        try:
            return True, {"sha256": readers.sha256_of, "read": readers.read_table}[what](path)
        except UnreadableFile as bad:
            return False, bad
        except OSError as exc:
            return False, os_error(exc)

    def _call(self, what: str, path: Path):
        ok, value = self.map(what, [path])[0]
        if not ok:
            raise cast(UnreadableFile, value)
        return value

    def sha256(self, path: Path) -> str:
        return self._call("sha256", path)

    def read(self, path: Path):
        return self._call("read", path)
