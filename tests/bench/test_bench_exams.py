import json

from bench import bench_exams
from bench.common import results_dir


def test_questions_are_exam_records_and_results_are_saved():
    records = bench_exams.questions(5)
    assert len(records) == 5 and all(r["exam"] == "cmb" and r["answer"] in r["options"] for r in records)
    bench_exams.main(quick=True)
    saved = json.loads((results_dir() / "exams.json").read_text(encoding="utf-8"))
    assert saved["questions"] == 24
    assert set(saved["results"]) == {"loglik", "generate (64 tokens)", "generate (8 tokens)"}
    assert all(row["questions_per_s"] > 0 for row in saved["results"].values())
