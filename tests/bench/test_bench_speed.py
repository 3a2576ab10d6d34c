"""Smoke runs of the eval speed benchmarks (quick sizes): they run, agree with the naive side, save results.

No timing is asserted here: the figures live in BENCHMARKS.md, measured by `make bench`.
"""

import json

import pytest

from bench import bench_bertscore, bench_bootstrap, bench_predict
from bench.common import peak_rss_mb, results_dir


def test_bootstrap_bench_agrees_with_the_loop():
    result = bench_bootstrap.main(quick=True)
    assert result["metrics"] == 17 and result["loop_seconds"] > 0
    assert json.loads((results_dir() / "bootstrap.json").read_text(encoding="utf-8"))["records"] == 200


@pytest.mark.slow
def test_predict_and_bertscore_benches_run():
    assert bench_predict.main(quick=True)["records"] == 24
    assert bench_bertscore.main(quick=True)["rows"]["bert_score.score per pair"]["pairs"] == 8


def test_peak_rss_is_this_process_own():
    assert peak_rss_mb() > 1


def test_smoke_runs_save_beside_not_over_the_recorded_results(tmp_path):
    from bench.common import RESULTS_DIR, save_results

    path = save_results("smoke", {"quick": True})
    assert path == tmp_path / "bench-results" / "smoke.json" and path.is_file()
    assert not (RESULTS_DIR / "smoke.json").exists()
