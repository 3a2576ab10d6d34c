"""Smoke run of the audit benchmark at quick size: every row measured, medft agrees with the naive pass."""

import json

import pytest

from bench import bench_audit
from bench.common import results_dir


@pytest.mark.slow
def test_quick_audit_bench_runs_both_sides():
    result = bench_audit.main(quick=True)
    rows = {(row["bench"], row["impl"]): row for row in result["rows"]}
    assert rows[("held-out pass", "medft")]["agrees_with_naive"] is True
    assert rows[("held-out pass", "naive")]["flagged_pairs"] == rows[("held-out pass", "medft")]["flagged_pairs"]
    assert rows[("100k", "medft")]["planted_found"] == bench_audit.PLANTED  # every planted exam question found
    assert all(row["peak_rss_mb"] > 0 for row in result["rows"])
    saved = json.loads((results_dir() / "audit.json").read_text(encoding="utf-8"))
    assert saved["quick"] is True and saved["planted"] == bench_audit.PLANTED
