"""The data root on object storage: an in-memory fsspec filesystem, reached through Airflow's
ObjectStoragePath, stands in for s3://. The night run there must equal the same night on local
disk, a second worker with an empty cache must carry on from what the store holds, and a task
must push only what it changed, and nothing when it fails."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import uuid
from pathlib import Path

import duckdb
import fsspec
import pyarrow.parquet as pq
import pytest

from rentan.core.night import WIB
from rentan.core.settings import data_paths
from rentan.core.storage import Checkout, workspace
from rentan.marts import MARTS
from tests.nightly import night_outputs, run_checked

MEM = fsspec.filesystem("memory")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh root on the in-memory filesystem, with this machine's cache in tmp_path."""
    name = f"rentan-{uuid.uuid4().hex[:8]}"
    url = f"memory://{name}/data"
    monkeypatch.setenv("RENTAN_CACHE", str(tmp_path / "cache"))
    yield url, f"/{name}/data"
    if MEM.exists(f"/{name}"):
        MEM.rm(f"/{name}", recursive=True)


def _created(path: str) -> float:
    return MEM.info(path)["created"]


def test_a_checkout_pulls_with_receipt_times_and_pushes_only_its_changes(store):
    url, base = store
    for rel, body in {"landing/a.csv": b"a\n", "warehouse/silver/keep.parquet": b"k",
                      "warehouse/silver/old.parquet": b"o", "warehouse/silver/edit.parquet": b"e1"}.items():
        MEM.pipe(f"{base}/{rel}", body)
    kept_at = _created(f"{base}/warehouse/silver/keep.parquet")
    with workspace(("landing", "warehouse"), url=url) as paths:
        assert paths.remote == url and data_paths() == paths
        received = dt.datetime.fromtimestamp((paths.landing / "a.csv").stat().st_mtime, dt.UTC)
        assert abs((received - MEM.modified(f"{base}/landing/a.csv")).total_seconds()) < 0.01, \
            "a landing file's mtime is the object's time, which ingest takes as its time of receipt"
        silver = paths.warehouse / "silver"
        (silver / "old.parquet").unlink()
        tmp = silver / ".edit.parquet.tmp"
        tmp.write_bytes(b"e2")
        os.replace(tmp, silver / "edit.parquet")
        (silver / "new.parquet").write_bytes(b"n")
        (paths.warehouse / "rentan.duckdb").write_bytes(b"local paths")
        (paths.work / "scratch").mkdir(parents=True)
        (paths.work / "scratch" / "spill.bin").write_bytes(b"s")
        checkout_dir = paths.root
    files = {f[len(base) + 1:] for f in MEM.find(base)}
    assert files == {"landing/a.csv", "warehouse/silver/keep.parquet", "warehouse/silver/edit.parquet",
                     "warehouse/silver/new.parquet"}, "removed goes, new comes, scratch and local paths stay home"
    assert MEM.cat(f"{base}/warehouse/silver/edit.parquet") == b"e2"
    assert _created(f"{base}/warehouse/silver/keep.parquet") == kept_at, "an unchanged file is not uploaded again"
    assert not checkout_dir.exists(), "the checkout is removed when the work is done"


def test_a_failed_task_pushes_nothing(store):
    url, base = store
    MEM.pipe(f"{base}/warehouse/silver/a.parquet", b"a")
    with pytest.raises(RuntimeError, match="load broke"), workspace(("warehouse",), url=url) as paths:
        (paths.warehouse / "silver" / "a.parquet").unlink()
        (paths.warehouse / "silver" / "half.parquet").write_bytes(b"half")
        raise RuntimeError("load broke")
    assert MEM.find(base) == [f"{base}/warehouse/silver/a.parquet"]


def test_tasks_side_by_side_each_push_their_own_changes(store):
    url, base = store
    MEM.pipe(f"{base}/warehouse/silver/shared.parquet", b"s")
    first, second = Checkout(url), Checkout(url)
    try:
        first.pull(["warehouse"])
        second.pull(["warehouse"])
        (first.dir / "warehouse/silver/lahat.parquet").write_bytes(b"l")
        (second.dir / "warehouse/silver/pali.parquet").write_bytes(b"p")
        first.push(["warehouse"])
        second.push(["warehouse"])  # it never saw lahat.parquet, so it must not remove it
    finally:
        first.discard()
        second.discard()
    assert sorted(f.rsplit("/", 1)[1] for f in MEM.find(base)) == ["lahat.parquet", "pali.parquet", "shared.parquet"]


def test_a_hard_link_is_copied_on_the_store_not_uploaded(store):
    url, base = store
    MEM.pipe(f"{base}/warehouse/_marts/v0/m/a.parquet", b"older")
    MEM.pipe(f"{base}/warehouse/_marts/v1/m/a.parquet", b"data")
    MEM.pipe(f"{base}/warehouse/_marts/CURRENT", b"v1\n")
    checkout = Checkout(url)
    try:
        checkout.pull(["warehouse"])
        assert not (checkout.dir / "warehouse/_marts/v0").exists(), "only the current version is pulled"
        assert (checkout.dir / "warehouse/marts").resolve() == (checkout.dir / "warehouse/_marts/v1").resolve()
        target = checkout.dir / "warehouse/_marts/v2/m/a.parquet"
        target.parent.mkdir(parents=True)
        os.link(checkout.dir / "warehouse/_marts/v1/m/a.parquet", target)
        assert checkout.push(["warehouse"]) == {"uploaded": 0, "copied": 1, "markers": 0, "deleted": 0}
    finally:
        checkout.discard()
    assert MEM.cat(f"{base}/warehouse/_marts/v2/m/a.parquet") == b"data"


def test_a_file_rewritten_in_place_is_uploaded_and_the_cache_stays_as_pulled(store):
    """Great Expectations rewrites its Data Docs in place: that is a change to push, and it must
    not write through into the copy the next checkout on this machine starts from."""
    url, base = store
    MEM.pipe(f"{base}/gx/data_docs/index.html", b"OLD")
    with workspace(("gx",), url=url) as paths, open(paths.root / "gx/data_docs/index.html", "r+b") as fh:
        fh.write(b"NEW")
    assert MEM.cat(f"{base}/gx/data_docs/index.html") == b"NEW"
    MEM.pipe(f"{base}/warehouse/silver/a.parquet", b"A")
    with workspace(("warehouse", "gx"), url=url) as paths:
        # shared with the cache: read-only, so a writer that tried to change it in place would
        # fail (as the airflow user) rather than change what the next checkout starts from
        assert (paths.warehouse / "silver/a.parquet").stat().st_mode & 0o222 == 0
        assert (paths.root / "gx/data_docs/index.html").stat().st_nlink == 1, "a library's files are copies"


def test_two_publishes_at_once_the_second_stops_and_the_first_stands(store):
    import datetime as dt

    from rentan.marts.publish import publish

    url, base = store
    MEM.pipe(f"{base}/warehouse/_marts/v0/m/snapshot_date=2025-01-01/a.parquet", b"jan1")
    MEM.pipe(f"{base}/warehouse/_marts/CURRENT", b"v0\n")
    a, b = Checkout(url), Checkout(url)
    try:
        for co, day, tag in ((a, dt.date(2025, 1, 2), "a"), (b, dt.date(2025, 1, 3), "b")):
            co.pull(["warehouse/_marts"])
            staging = co.dir / "work" / tag / "m"
            staging.mkdir(parents=True)
            (staging / "x.parquet").write_bytes(tag.encode())
            publish(co.dir / "warehouse", staging.parent, day, tag, {})
        a.push(["warehouse/_marts"])
        with pytest.raises(RuntimeError, match="another run published the marts"):
            b.push(["warehouse/_marts"])
    finally:
        a.discard()
        b.discard()
    current = MEM.cat(f"{base}/warehouse/_marts/CURRENT").decode().strip()
    assert current.endswith("-a")
    assert sorted(f.split(current + "/")[1] for f in MEM.find(f"{base}/warehouse/_marts/{current}")) == [
        "_version.json", "m/snapshot_date=2025-01-01/a.parquet", "m/snapshot_date=2025-01-02/x.parquet"]
    versions = {p["name"].rsplit("/", 1)[1] for p in MEM.ls(f"{base}/warehouse/_marts", detail=True)
                if p["type"] == "directory"}
    assert versions == {"v0", current}, "the second run's unpointed version is removed"


def test_the_ledger_must_be_a_shared_database_on_object_storage(store, monkeypatch, capsys):
    from rentan.cli import main

    url, _ = store
    monkeypatch.delenv("RENTAN_LEDGER_URL", raising=False)
    with workspace((), url=url) as paths, pytest.raises(RuntimeError, match="RENTAN_LEDGER_URL"):
        _ = paths.ledger_url
    assert main(["--data", url, "ingest"]) == 2
    assert "set RENTAN_LEDGER_URL" in capsys.readouterr().err, "the command line says what to set, not a traceback"


# --- the nightly DAG on the store ------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    from rentan_dev.sample import generate

    root = tmp_path_factory.mktemp("store-sample") / "data"
    generate(root, seed=11, scale=0.05, villages_limit=4)
    return root


def _run(dagbag, env: dict, day: dt.date) -> None:
    run_checked(dagbag, env, {"snapshot_date": day.isoformat()})


def _remote_night(base: str, day: dt.date) -> dict:
    current = MEM.cat(f"{base}/warehouse/_marts/CURRENT").decode().strip()
    out = {}
    for m in MARTS:
        rows = []
        for f in sorted(MEM.glob(f"{base}/warehouse/_marts/{current}/{m}/snapshot_date={day}/*.parquet")):
            rows += [tuple(r.values()) for r in pq.read_table(io.BytesIO(MEM.cat(f))).to_pylist()]
        out[m] = sorted(rows, key=repr)
    for f in sorted(MEM.glob(f"{base}/exports/bpjs/*/{day}/manifest.json")):
        m = json.loads(MEM.cat(f))
        out[f"exports/{m['branch']}"] = {k: v["sha256"] for k, v in m["files"].items()}
    return out


@pytest.mark.e2e
def test_the_night_on_object_storage_equals_the_night_on_local_disk(dagbag, sample, store, tmp_path, capsys):
    url, base = store
    MEM.put(str(sample / "landing"), f"{base}/landing", recursive=True)
    # the store stamps each object with its upload time: the night is the one that sees them all
    day = max(MEM.modified(f) for f in MEM.find(f"{base}/landing")).astimezone(WIB).date()

    # the same files on local disk, received at the same times
    local = tmp_path / "local"
    checkout = Checkout(url)
    try:
        checkout.pull(["landing"])
        for f in (checkout.dir / "landing").rglob("*"):
            if f.is_file():
                target = local / f.relative_to(checkout.dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.read_bytes())
                os.utime(target, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
    finally:
        checkout.discard()
    _run(dagbag, {"RENTAN_DATA": str(local), "RENTAN_LEDGER_URL": None}, day)

    on_store = {"RENTAN_DATA": url, "RENTAN_LEDGER_URL": f"sqlite:///{tmp_path / 'shared-ledger.sqlite'}",
                "RENTAN_CACHE": str(tmp_path / "worker-1")}
    _run(dagbag, on_store, day)
    expected = night_outputs(local, day)
    assert sum(len(v) for k, v in expected.items() if k in MARTS) > 0 and any(k.startswith("exports/") for k in expected)
    assert _remote_night(base, day) == expected

    stored = {f[len(base) + 1:] for f in MEM.find(base)}
    assert "warehouse/_marts/CURRENT" in stored
    assert not any(f.startswith("work/") or f.endswith("rentan.duckdb") for f in stored), \
        "scratch files and machine-bound databases stay on the worker"
    leftovers = list((tmp_path / "worker-1").glob("*/checkouts/*"))
    assert leftovers == [], "every task removed its checkout"

    # a second worker, with nothing cached, reruns the night from what the store holds: the same
    # figures, nothing loaded twice, and the store keeps the current marts and the ones before
    _run(dagbag, {**on_store, "RENTAN_CACHE": str(tmp_path / "worker-2")}, day)
    assert _remote_night(base, day) == expected
    versions = {p["name"].rsplit("/", 1)[1] for p in MEM.ls(f"{base}/warehouse/_marts", detail=True)
                if p["type"] == "directory"}
    assert len(versions) == 2

    # an analyst queries the published marts on the store with the command line
    from rentan.cli import main

    with pytest.MonkeyPatch.context() as mp:
        for k, v in on_store.items():
            mp.setenv(k, v)
        assert main(["query", "select sum(proposed) as n from coverage_regency", "--csv"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    with duckdb.connect() as con:
        want = con.execute(f"select sum(proposed) from read_parquet('{local}/warehouse/marts/coverage_regency/"
                           f"snapshot_date={day}/*.parquet')").fetchall()[0][0]
    assert float(printed[-1]) == want > 0
