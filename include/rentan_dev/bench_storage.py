"""``make bench``: what a task pays for working on object storage, beyond moving the bytes.

A warehouse of N small files on a store that is a local folder behind fsspec (so the network
is out of the figures and what remains is ours: listing, cache keys, hard links, the walk that
finds changes; fsspec's in-memory store would not do, its lookups scan every key). Times a cold
checkout (every file downloaded into the cache), a warm one (all cached: list and link), a push
with nothing changed and a push with 1% new files. Usage: ``python -m rentan_dev.bench_storage 84000``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time


def run(n: int) -> list[tuple[str, float, int]]:
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    from rentan.core.storage import Checkout

    class BenchStore(LocalFileSystem):
        protocol = "benchstore"

    fsspec.register_implementation("benchstore", BenchStore, clobber=True)
    os.environ["RENTAN_CACHE"] = tempfile.mkdtemp(prefix="rentan-bench-cache-")
    store = tempfile.mkdtemp(prefix="rentan-bench-store-")
    base = f"{store}/data"
    body = b"x" * 2048
    for i in range(n):
        # one file per village and source, as bronze and silver hold them
        path = f"{base}/warehouse/silver/t{i % 4}/area=a{i % 50}/{i:07d}.parquet"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(body)
    url = f"benchstore://{base}"
    out = []

    def timed(label, fn):
        t = time.perf_counter()
        result = fn()
        out.append((label, time.perf_counter() - t, result))

    try:
        first = Checkout(url)
        timed("checkout, cold cache", lambda: first.pull(["warehouse"]))
        first.discard()
        warm = Checkout(url)
        timed("checkout, warm cache", lambda: warm.pull(["warehouse"]))
        timed("push, nothing changed", lambda: sum(warm.push(["warehouse"]).values()))
        new = max(1, n // 100)
        for i in range(new):
            (warm.dir / f"warehouse/silver/new/{i:07d}.parquet").parent.mkdir(parents=True, exist_ok=True)
            (warm.dir / f"warehouse/silver/new/{i:07d}.parquet").write_bytes(body)
        timed("push, 1% new files", lambda: warm.push(["warehouse"])["uploaded"])
        warm.discard()
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(os.environ["RENTAN_CACHE"], ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=int, default=[84_000])
    args = parser.parse_args()
    print("| files | step | seconds | files moved |\n|---|---|---|---|")
    for n in args.files:
        for label, seconds, moved in run(n):
            print(f"| {n:,} | {label} | {seconds:.2f} | {moved:,} |")


if __name__ == "__main__":
    main()
