"""How the nightly DAG shares a night's areas among its mapped tasks (``tasks:`` in the configuration)."""

from __future__ import annotations

import pytest
import yaml

from rentan.config import DEFAULT_CONFIG, _parse, groups


@pytest.mark.parametrize("n, most", [(3, 32), (32, 32), (33, 32), (434, 32), (514, 7), (5, 1), (1, 1)])
def test_groups_keep_every_area_once_in_order_within_the_maximum(n, most):
    areas = [f"area-{i:03d}" for i in range(n)]
    got = groups(areas, most)
    assert [a for g in got for a in g] == areas
    assert 1 <= len(got) <= most
    assert max(map(len, got)) - min(map(len, got[:-1] or got)) == 0, "all groups but the last are the same size"
    if n <= most:
        assert got == [[a] for a in areas], "one area a task while the tasks suffice"


def test_no_areas_no_groups():
    assert groups([], 32) == []


def test_the_shipped_configuration_maps_one_regency_a_task_and_bad_settings_are_refused():
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config = _parse(raw)
    assert config.tasks.max_load_tasks_per_source >= len(config.regencies)
    with pytest.raises(ValueError, match="unknown setting"):
        _parse({**raw, "tasks": {"max_loads": 3}})
    with pytest.raises(ValueError, match="at least 1"):
        _parse({**raw, "tasks": {"max_export_tasks": 0}})
