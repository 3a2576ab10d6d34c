import json

from bench import bench_eval
from bench.common import results_dir


def test_naive_and_fast_lcs_agree_and_results_are_saved():
    a, b = list("患者发热三天伴咳嗽"), list("发热咳嗽两天")
    from eval.text import lcs_length

    assert bench_eval.lcs_table(a, b) == lcs_length(a, b) == 4
    bench_eval.main(quick=True)
    saved = json.loads((results_dir() / "eval.json").read_text(encoding="utf-8"))
    assert saved["pairs"] == 5 and saved["naive_seconds"] > 0 and saved["medft_seconds"] > 0
