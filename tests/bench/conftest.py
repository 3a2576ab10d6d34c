"""Benchmark smoke tests save their (quick-size) results in a temp dir, never over ``bench/results/``."""

import pytest

from bench.common import RESULTS_ENV


@pytest.fixture(autouse=True)
def _bench_results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "bench-results"))
