"""Received files are hashed and read in a reader process with a memory and a time budget.

A reader written in Rust or C does not raise when a file asks it for 500 GB: the allocation fails
and the process aborts. A read from a stale network mount does not return at all. Neither may take
the night's load task with it, so the read happens in a child process (started once per load, not
per file) whose address space is capped; if the child dies or overruns its time, the file is
recorded as unreadable with that reason and a fresh child reads the next file.

Knobs (environment): ``RENTAN_READER_MEMORY_MB`` (default 3072), ``RENTAN_READER_SECONDS`` per
file (default 120), ``RENTAN_READER_GUARD=0`` reads in the task's own process (for profiling).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import resource
import signal
from pathlib import Path

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


def _serve(conn, memory_mb: int) -> None:
    """The reader process: one request at a time, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # the cap is on top of what the process already maps: a budget for the file, not for Python
    limit = _vm_size() + memory_mb * (1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    from rentan.ingest import readers

    work = {"sha256": readers.sha256_of, "read": readers.read_table}
    while True:
        try:
            what, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            out = (True, work[what](*args))
        except UnreadableFile as bad:
            out = (False, bad)
        except MemoryError:
            out = (False, _out_of_memory(memory_mb))
        except OSError as exc:
            out = (False, os_error(exc))
        except Exception as exc:  # a reader's own bug on a strange file: that file fails, not the night
            out = (False, UnreadableFile(
                "reader_error",
                f"The file could not be read ({type(exc).__name__}). Open it, save it again as .xlsx or "
                ".csv and resend it.",
                "Berkas tidak dapat dibaca. Buka, simpan ulang sebagai .xlsx atau .csv, lalu kirim lagi."))
        try:
            conn.send(out)
        except Exception as exc:  # a result that cannot be sent back (too large): say so
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


class Reader:
    """Hashes and reads files in a guarded child process; use as a context manager."""

    def __init__(self, guarded: bool | None = None):
        self.guarded = os.environ.get("RENTAN_READER_GUARD", "1") != "0" if guarded is None else guarded
        self.memory_mb, self.seconds = _budget()
        self._proc = None
        self._conn = None

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc = self._conn = None

    def _start(self) -> None:
        # forked: the child starts at once with the readers already imported, and touches nothing
        # of the parent's but the pipe (no logging, no database), so no lock it inherits matters
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.memory_mb), name="rentan-reader", daemon=True)
        self._proc.start()
        child.close()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def _call(self, what: str, path: Path):
        if not self.guarded:
            from rentan.ingest import readers
            try:
                return {"sha256": readers.sha256_of, "read": readers.read_table}[what](path)
            except OSError as exc:
                raise os_error(exc) from exc
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((what, (path,)))
        if not self._conn.poll(self.seconds):
            self._kill()
            raise UnreadableFile(
                "reader_timeout",
                f"Reading the file took longer than {self.seconds:,.0f} seconds and was stopped (a file that "
                "never ends, a stalled network folder, or a file far larger than a list).",
                f"Membaca berkas melebihi {self.seconds:,.0f} detik dan dihentikan.")
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(timeout=5)
            code = self._proc.exitcode
            self._kill()
            log.warning("the reader process ended with exit code %s", code)
            if code is not None and code < 0 and -code in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL):
                raise _out_of_memory(self.memory_mb) if -code in (signal.SIGABRT, signal.SIGKILL) else UnreadableFile(
                    "reader_crashed", "The file made the reader crash; open it, save it again and resend it.",
                    "Berkas membuat pembaca berhenti mendadak; buka, simpan ulang, lalu kirim lagi.")
            raise UnreadableFile(
                "reader_crashed", f"The reader stopped on this file (exit code {code}); open it, save it again "
                "and resend it.", "Berkas membuat pembaca berhenti mendadak; buka, simpan ulang, lalu kirim lagi.")
        if not ok:
            raise value
        return value

    def sha256(self, path: Path) -> str:
        return self._call("sha256", path)

    def read(self, path: Path):
        return self._call("read", path)
