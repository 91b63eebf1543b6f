"""A branch's package folder is replaced in one step: a reader never finds it missing."""

from __future__ import annotations

import threading

from rentan.core.files import replace_dir


def test_a_replaced_folder_is_never_missing(tmp_path):
    target = tmp_path / "2025-06-30"
    target.mkdir()
    (target / "manifest.json").write_text("0")
    missing, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            if not (target / "manifest.json").exists():
                missing.append(1)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(1, 300):
            built = tmp_path / f".2025-06-30.{i}.tmp"
            built.mkdir()
            (built / "manifest.json").write_text(str(i))
            replace_dir(built, target)
            assert not built.exists(), "the old folder is removed"
    finally:
        stop.set()
        t.join()
    assert (target / "manifest.json").read_text() == "299"
    assert missing == [], f"the folder was missing {len(missing)} times"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-06-30"]


def test_a_first_package_is_moved_in(tmp_path):
    built = tmp_path / "built"
    built.mkdir()
    (built / "a.csv").write_text("x")
    replace_dir(built, tmp_path / "new")
    assert (tmp_path / "new" / "a.csv").read_text() == "x" and not built.exists()
