"""Smoke run of the bridge benchmark at quick size: both sides produce the same split sizes, results saved."""

import json

import pytest

from bench import bench_bridge
from bench.common import results_dir


@pytest.mark.slow
def test_quick_bridge_bench_runs_both_sides():
    result = bench_bridge.main(quick=True)
    rows = {(row["bench"], row["impl"]): row for row in result["rows"]}
    assert rows[("dialog", "medft")]["rows"] == {"train": 5000, "test": 100}
    assert rows[("dialog", "tutorial")]["rows"] == {"train": 5000, "test": 100}
    assert all(row["peak_rss_mb"] > 0 and len(row["all_seconds"]) == 1 for row in result["rows"])
    saved = json.loads((results_dir() / "bridge.json").read_text(encoding="utf-8"))
    assert saved["quick"] is True and set(saved["speedups"]) == {"dialog", "norm", "stats"}
