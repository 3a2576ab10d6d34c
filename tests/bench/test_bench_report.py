import json

from bench import bench_report
from bench.common import results_dir


def test_the_report_bench_writes_a_page_and_saves_its_time():
    result = bench_report.main(quick=True)
    assert result["records"] == 200 and result["seconds"] > 0 and result["bytes"] > 100_000
    saved = json.loads((results_dir() / "report.json").read_text(encoding="utf-8"))
    assert saved["target_seconds"] == 2.0 and len(saved["all"]) == bench_report.REPEATS
