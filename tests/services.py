"""Airflow's own services (api-server, scheduler, dag-processor) started on loopback as an operator
would, for the tests that drive the DAG through them; and the small landing zone they run on."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rentan.exports.xlsx import write_xlsx

AIRFLOW = [sys.executable, "-m", "airflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MEMBERSHIP_HEADER = "KPJ,NIK,NAMA,TGL LAHIR,SEGMEN,PROGRAM,TGL KEPESERTAAN,STATUS,BLTH TERAKHIR,PEMBAYAR,KODE DESA PEMBAYAR\n"


CLAIMS_HEADER = "NO KLAIM,KPJ,NIK,JENIS KLAIM,TGL KEJADIAN,TGL BAYAR,NOMINAL,PENERIMA\n"


def landing(root: Path) -> set[str]:
    """Two proposals from one Lahat village, and every branch's membership and claims extracts,
    delivered before the snapshot."""
    land = root / "landing"
    niks = ["1604010102800001", "1604010203810002"]
    rows = pd.DataFrame({"NO": ["1", "2"], "NIK": niks, "NAMA": ["Budi Santoso", "Siti Aminah"],
                         "TGL LAHIR": ["01-02-1980", "02-03-1981"], "L/P": ["L", "P"],
                         "DESA": ["Kembang Ayun"] * 2, "KECAMATAN": ["Tanjung Sakti Pumi"] * 2,
                         "SUMBER DANA": ["ADD"] * 2}, dtype="string")
    write_xlsx(land / "submissions/lahat/usulan.xlsx", {"USULAN": rows}, created=dt.datetime(2025, 6, 1))
    (land / "membership/lahat").mkdir(parents=True)
    (land / "membership/lahat/kepesertaan.csv").write_text(
        MEMBERSHIP_HEADER + f"11111111111,{niks[1]},SITI AMINAH,02-03-1981,PU,\"JKK, JKM\",01-01-2020,AKTIF,2025-05,PT A,\n")
    for i, (branch, region) in enumerate((("muara-enim", "161201"), ("lampung-tengah", "180401"))):
        (land / f"membership/{branch}").mkdir(parents=True)
        (land / f"membership/{branch}/kepesertaan.csv").write_text(
            MEMBERSHIP_HEADER + f"2222222222{i},{region}0101700003,WARGA LAIN,01-01-1970,PU,\"JKK, JKM\",01-01-2020,"
            "AKTIF,2025-05,PT B,\n")
    for i, branch in enumerate(("lahat", "muara-enim", "lampung-tengah")):
        (land / f"claims/{branch}").mkdir(parents=True)
        (land / f"claims/{branch}/klaim.csv").write_text(
            CLAIMS_HEADER + f"K-{i}01,11111111111,{niks[1]},JKK,01-05-2025,20-05-2025,1500000,SITI AMINAH\n")
    t = dt.datetime(2025, 6, 2, 9, tzinfo=dt.UTC).timestamp()
    for p in land.rglob("*"):
        if p.is_file():
            os.utime(p, (t, t))
    return {niks[0]}  # Siti is an active PU member: only Budi is to enrol


class Services:
    def __init__(self, home: Path, env: dict):
        self.home, self.env, self.procs = home, env, []

    def start(self, *command: str) -> None:
        log = open(self.home / f"{command[0]}.log", "w")  # noqa: SIM115 - the service writes to it until stopped
        self.procs.append(subprocess.Popen([*AIRFLOW, *command], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(self.home.glob("*.log")))


def until(what, seconds: float, services: Services, pause: float = 2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got = what()
            if got:
                return got
        except OSError:
            pass  # not listening yet
        time.sleep(pause)
    pytest.fail(f"timed out waiting; service logs:\n{services.logs()}")
