"""``make bench-identity``: the identity stage alone at national sizes.

Writes synthetic silver (N proposals from villages all over Indonesia and N BPJS members, with
3% duplicate proposals and 1% mistyped NIKs of members), vectorised, then times ``resolve`` in a
child process and reports its peak memory. Usage: ``python -m rentan.bench_identity 1000000 5000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rentan.bench import _measure
from rentan.reference import villages

CHUNK = 250_000


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    from faker import Faker

    fake = Faker("id_ID")
    fake.seed_instance(1)
    first = np.array(sorted({fake.first_name().upper() for _ in range(3000)}))
    last = np.array(sorted({fake.last_name().upper() for _ in range(3000)}))
    return np.char.add(np.char.add(rng.choice(first, n), " "), rng.choice(last, n))


def synthesise(root: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    desa = villages(desa_only=True)
    n_people = int(n * 1.6)
    home = rng.integers(0, len(desa), n_people)
    region = desa["district_code"].str.replace(".", "", regex=False).to_numpy()[home]
    birth = np.datetime64("1962-01-01") + rng.integers(0, 43 * 365, n_people).astype("timedelta64[D]")
    female = rng.random(n_people) < 0.5
    b = pd.to_datetime(birth)
    day = b.day.to_numpy() + np.where(female, 40, 0)
    serial = rng.integers(1, 10_000, n_people)
    nik = (pd.Series(region) + pd.Series(day).map("{:02d}".format) + pd.Series(b.month).map("{:02d}".format)
           + pd.Series(b.year % 100).map("{:02d}".format) + pd.Series(serial).map("{:04d}".format)).to_numpy()
    names = _names(rng, n_people)

    # proposals: people 0..n-1, 3% of them proposed again by another village, 1% with two digits swapped
    n_dup = int(n * 0.03)
    who = np.arange(n - n_dup)
    dup = rng.choice(len(who), n_dup, replace=False)
    rows = np.concatenate([who, dup])
    sub_nik = nik[rows].astype(object)
    typo = rng.choice(len(rows), int(n * 0.01), replace=False)
    sub_nik[typo] = [s[:14] + s[15] + s[14] for s in sub_nik[typo]]
    vcode = desa["code"].to_numpy()[home[rows]]
    vcode[len(who):] = desa["code"].to_numpy()[rng.integers(0, len(desa), len(rows) - len(who))]
    subs = pd.DataFrame({
        "source_file": [f"submissions/bench/file_{i // 100:06d}.xlsx" for i in range(len(rows))],
        "row_number": (np.arange(len(rows)) % 100 + 2).astype("int32"),
        "file_sha256": [f"{i // 100:064d}" for i in range(len(rows))],
        "nik": sub_nik, "name": names[rows], "name_norm": names[rows], "birth_date": birth[rows],
        "sex": np.where(female[rows], "P", "L"), "village_code": vcode,
        "district_code": pd.Series(vcode).str[:8].to_numpy(), "regency_code": pd.Series(vcode).str[:5].to_numpy(),
        "funding_source": "ADD",
    })
    # members: the mistyped ones (so their true NIK is known) and others, N in all
    members = np.unique(np.concatenate([rows[typo], rng.choice(n_people, n, replace=False)]))[:n]
    seg = rng.choice(np.array(["PU", "BPU"]), len(members), p=[0.8, 0.2])
    mem = pd.DataFrame({
        "kpj": pd.Series(np.arange(len(members)) + 10_000_000_000).astype(str).to_numpy(), "nik": nik[members],
        "name": names[members], "name_norm": names[members], "birth_date": birth[members], "segment": seg,
        "status": rng.choice(np.array(["AKTIF", "NON AKTIF"]), len(members), p=[0.7, 0.3]),
        "payer": "PT X", "payer_village_code": None, "registered_on": np.datetime64("2020-01-01"),
    })
    for name, frame in (("submissions", subs), ("membership", mem)):
        folder = root / "warehouse" / "silver" / name / "area=lahat"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(frame), CHUNK):
            pq.write_table(pa.Table.from_pandas(frame.iloc[i:i + CHUNK], preserve_index=False),
                           folder / f"part-{i // CHUNK:04d}.parquet")


def _resolve(root: str) -> dict:
    from rentan.identity import resolve
    from rentan.settings import data_paths

    r = resolve(data_paths(root), load_id="bench", snapshot=dt.date(2025, 6, 30))
    return {k: r[k] for k in ("records", "persons", "fuzzy_links", "review_pairs")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rentan-bench-identity", description=__doc__)
    parser.add_argument("sizes", type=int, nargs="*", default=[1_000_000])
    args = parser.parse_args(argv)
    print(f"{'proposals':>10} {'members':>10} {'write s':>8} {'resolve s':>10} {'peak MB':>8}  result")
    for n in args.sizes:
        root = Path(tempfile.mkdtemp(prefix=f"rentan-bench-identity-{n}-"))
        try:
            made = _measure(synthesise, root, n)
            run = _measure(_resolve, str(root))
            print(f"{n:>10,} {n:>10,} {made['seconds']:>8} {run['seconds']:>10} {run['peak_rss_mb']:>8}  {run['result']}",
                  flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
