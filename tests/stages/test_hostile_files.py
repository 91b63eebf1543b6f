"""Hostile but plausible deliveries: each gives its file a clear reason and the rest of the area loads.

Real files on disk through the real ingest (reader process, ledger, bronze Parquet); and the
readers fuzzed with hypothesis on random and mutated xlsx and csv bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rentan.core.ledger import Ledger
from rentan.core.settings import data_paths
from rentan.ingest import ingest
from rentan.ingest.errors import UnreadableFile
from rentan.ingest.guard import Reader
from rentan.ingest.readers import read_table

GOOD = "NO,NIK,NAMA,TANGGAL LAHIR,DESA\n1,1604014507850001,Budi Santoso,1985-07-05,Kota Lahat\n"


def _xlsx(path: Path, rows: list[list], **sheet) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for k, v in sheet.items():
        setattr(ws, k, v)
    wb.save(path)
    return path


def _hostile(folder: Path, outside: Path) -> dict[str, str | None]:
    """Writes the corpus into one village's folder; returns file -> expected reason code (None: loads)."""
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str | None] = {}

    def put(name: str, data: bytes | str, code: str | None) -> None:
        p = folder / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        expect[name] = code

    put("good.csv", GOOD, None)
    wb = openpyxl.Workbook()
    wb.active["XFD1048576"] = "x"
    wb.save(folder / "far_cell.xlsx")
    expect["far_cell.xlsx"] = "xlsx_too_large"
    put("encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024), "xlsx_encrypted")
    put("not_a_zip.xlsx", b"PK\x03\x04 half a zip", "corrupt_xlsx")
    put("long_field.csv", "NO,NIK,NAMA\n1,1604014507850002," + "a" * 200_000 + "\n", "csv_malformed")
    put("open_quote.csv", 'NO,NIK,NAMA\n1,1604014507850003,"Budi\n2,1604014507850004,Ani\n3,1604014507850005,Sri\n',
        "csv_rows_swallowed")
    put("binary.csv", b"\x00\x01\x02\x03garbage\x00" * 50, "not_text")
    put("utf16.csv", GOOD.replace("0001", "0006").encode("utf-16"), None)
    put("utf16_nobom.csv", GOOD.replace("0001", "0007").encode("utf-16-le"), None)
    put("cp1252.csv", GOOD.replace("0001", "0008").replace("Budi", "Bud\xed").encode("cp1252"), None)
    put("dup_headers.csv", "NIK,NO HP,NO HP,NO HP_2,NAMA\n1604014507850009,0811,0812,0813,Ani\n", None)
    put("two_row_header.csv", "NO,NAMA,IDENTITAS,,DESA\n,,NIK,NO KK,\n1,Ani,1604014507850010,1604010101010001,X\n",
        None)
    put("empty.csv", b"", "empty_file")
    put(".DS_Store", b"\x00\x00\x00\x01Bud1", "ignored")
    put("~$good.xlsx", b"\x05owner", "ignored")
    _xlsx(folder / "hidden_first.xlsx", [["NO", "NIK", "NAMA"], [1, "1604014507850011", "Ani"]])
    wb = openpyxl.load_workbook(folder / "hidden_first.xlsx")
    wb.active.sheet_state = "hidden"
    vis = wb.create_sheet("usulan")
    vis.append(["NO", "NIK", "NAMA"])
    vis.append([1, "1604014507850012", "Sri"])
    wb.save(folder / "hidden_first.xlsx")
    expect["hidden_first.xlsx"] = None
    (outside / "secret.csv").write_text(GOOD.replace("0001", "0013"))
    os.symlink(outside / "secret.csv", folder / "link_out.csv")
    expect["link_out.csv"] = "symlink_outside"
    os.symlink(folder / "nowhere.csv", folder / "dangling.csv")
    expect["dangling.csv"] = "symlink_invalid"
    os.mkfifo(folder / "pipe.csv")
    expect["pipe.csv"] = "not_regular_file"
    return expect


@pytest.fixture()
def hostile_landing(data_root: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = data_root / "landing" / "submissions" / "lahat" / "kota-lahat"
    return _hostile(folder, outside)


def test_each_hostile_file_gets_its_reason_and_the_rest_loads(data_root, hostile_landing):
    rep = ingest(data_paths(data_root), load_id="night-1")
    led = {Path(e.file).name: e for e in Ledger(data_paths(data_root).ledger_url).entries()}
    got = {name: (None if e.status == "loaded" else e.reason_code) for name, e in led.items()}
    assert got == hostile_landing
    for name, e in led.items():
        if e.status != "loaded":
            assert e.reason and e.alasan, f"{name} has no reason in both languages"
    assert "hidden sheet" in led["hidden_first.xlsx"].warnings and led["hidden_first.xlsx"].sheet == "usulan"
    assert "NO HP" in led["dup_headers.csv"].warnings
    # nothing outside the landing zone reached bronze, and what loaded is whole
    bronze = [data_paths(data_root).root / e.bronze_path for e in led.values() if e.bronze_path]
    rows = duckdb.sql(f"select fields from read_parquet({[str(p) for p in bronze]})").fetchall()
    niks = sorted(dict(r[0])["NIK"] for r in rows)
    assert "1604014507850013" not in niks
    assert niks == ["1604014507850001", "1604014507850006", "1604014507850007", "1604014507850008",
                    "1604014507850009", "1604014507850010", "1604014507850012"]
    keys = {k for r in rows for k in dict(r[0])}
    assert {"NO HP", "NO HP_2", "NO HP_3", "NO KK"} <= keys
    assert rep.loaded == 7
    # a second night records nothing again
    again = ingest(data_paths(data_root), load_id="night-2")
    assert again.loaded == again.unreadable == again.ignored == 0


def test_a_reader_that_dies_or_hangs_costs_only_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RENTAN_READER_MEMORY_MB", "64")
    big = tmp_path / "big.csv"
    # parses to far more than 64 MB of Python objects: the budget stops it, not the machine
    big.write_text("NIK,NAMA,DESA\n" + "1604014507850001,Budi Santoso,Kota Lahat\n" * 400_000)
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    with Reader() as reader:
        with pytest.raises(UnreadableFile) as bad:
            reader.read(big)
        assert bad.value.code in ("reader_out_of_memory", "reader_crashed")
        assert reader.read(good).n_rows == 1  # a fresh reader process takes the next file
    monkeypatch.setenv("RENTAN_READER_SECONDS", "2")
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    with Reader() as reader:
        with pytest.raises(UnreadableFile) as slow:
            reader.sha256(fifo)  # opening a pipe with no writer never returns
        assert slow.value.code == "reader_timeout"
        assert reader.read(good).n_rows == 1


def test_files_read_side_by_side_keep_their_own_results_in_order(tmp_path, monkeypatch):
    """Several reader processes at once: a file that hangs or blows its budget costs its own result
    only, the others come back whole and in the order asked, and the readers end with the load."""
    monkeypatch.setenv("RENTAN_READER_MEMORY_MB", "64")
    monkeypatch.setenv("RENTAN_READER_SECONDS", "6")  # under a busy machine the memory cap must still come first
    goods = []
    for i in range(6):
        p = tmp_path / f"good{i}.csv"
        p.write_text(GOOD.replace("Budi Santoso", f"Warga {i}"))
        goods.append(p)
    big = tmp_path / "big.csv"
    big.write_text("NIK,NAMA,DESA\n" + "1604014507850001,Budi Santoso,Kota Lahat\n" * 400_000)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with Reader(processes=3) as reader:
        hashed = reader.map("sha256", [goods[0], fifo, goods[1], goods[2]])  # opening the pipe never returns
        got = reader.map("read", [goods[0], big, goods[1], goods[2], goods[3], goods[4], goods[5]])
        children = [c.proc for c in reader._children if c is not None]
    assert [ok for ok, _ in hashed] == [True, False, True, True]
    assert hashed[1][1].code == "reader_timeout"
    assert [v for _, v in hashed[::2]] == [hashlib.sha256(goods[i].read_bytes()).hexdigest() for i in (0, 1)]
    assert [ok for ok, _ in got] == [True, False, True, True, True, True, True]
    assert got[1][1].code in ("reader_out_of_memory", "reader_crashed")
    names = [value.columns[value.header.index("NAMA")][0] for ok, value in got if ok]
    assert names == [f"Warga {i}" for i in range(6)]
    # they end of themselves when the load closes them, not killed after a wait
    assert children and [p.exitcode for p in children] == [0] * len(children)


def _valid_xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    for r in [["NO", "NIK", "NAMA"], [1, "1604014507850001", "Budi"], [2, 1604014507850002, "Ani"]]:
        wb.active.append(r)
    wb.save(buf)
    return buf.getvalue()


XLSX = _valid_xlsx_bytes()
CSV = GOOD.encode() + b'2,"1604014507850002",Ani;x,1990-01-01,"Desa, X"\n'


def _read(tmp_path: Path, name: str, data: bytes) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    try:
        read_table(p)
    except UnreadableFile as bad:
        assert bad.code and bad.reason and bad.alasan


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_csv_bytes_never_crash_the_reader(tmp_path, data):
    base = data.draw(st.sampled_from([CSV, CSV.decode().encode("utf-16"), b""]))
    cuts = data.draw(st.lists(st.tuples(st.integers(0, max(len(base), 1)), st.binary(max_size=8)), max_size=6))
    out = bytearray(base)
    for at, junk in cuts:
        out[at:at + len(junk)] = junk
    _read(tmp_path, "f.csv", bytes(out))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_xlsx_bytes_never_crash_the_reader(tmp_path, data):
    mode = data.draw(st.sampled_from(["bytes", "part"]))
    if mode == "bytes":
        out = bytearray(XLSX)
        for at, junk in data.draw(st.lists(st.tuples(st.integers(0, len(XLSX) - 1), st.binary(min_size=1, max_size=8)),
                                           min_size=1, max_size=4)):
            out[at:at + len(junk)] = junk
        blob = bytes(out)
    else:  # a well-formed zip whose sheet XML is mutated: the reader's XML paths, not the zip's
        src = zipfile.ZipFile(io.BytesIO(XLSX))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename.endswith("sheet1.xml"):
                    at = data.draw(st.integers(0, len(body) - 1))
                    body = body[:at] + data.draw(st.binary(max_size=16)) + body[at + data.draw(st.integers(0, 8)):]
                dst.writestr(info, body)
        blob = buf.getvalue()
    _read(tmp_path, "f.xlsx", blob)


def test_a_file_removed_while_the_night_reads_the_folder_is_recorded_not_fatal(data_root, monkeypatch):
    import rentan.ingest as ingest_module

    folder = data_root / "landing" / "submissions" / "lahat" / "kota-lahat"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(GOOD)
    victim = folder / "ditarik.csv"
    victim.write_text(GOOD.replace("0001", "0099"))
    listed = ingest_module.discover

    def listed_then_removed(paths, config):  # the sender takes the file back between the listing and the read
        found = listed(paths, config)
        victim.unlink()
        return found

    monkeypatch.setattr(ingest_module, "discover", listed_then_removed)
    rep = ingest(data_paths(data_root), load_id="night-1")
    led = {Path(e.file).name: e for e in Ledger(data_paths(data_root).ledger_url).entries()}
    assert rep.loaded == 1 and led["good.csv"].status == "loaded"
    assert led["ditarik.csv"].reason_code == "vanished" and "removed or renamed" in led["ditarik.csv"].reason
