"""eval.contamination: a report notes held-out sets the saved audit found in a run's training data."""

from __future__ import annotations

from eval.contamination import markdown, notes
from eval.models import resolve
from tests.bridge.audit_fixture import audited_dir


def test_notes_name_model_training_set_and_counts(tmp_path):
    dataset_dir = audited_dir(tmp_path)
    found = notes(dataset_dir, ["mine_test", "med_norm_test"], {"base": [], "tuned": ["mine", "med_norm"]})
    note = ("tuned was trained on mine, which holds 1 exact and 0 13-gram match(es) of mine_test items (bridge audit): "
            "its score here may be inflated")
    assert found == {"mine_test": [note]}
    assert markdown(found) == f"## Contamination\n\n- **mine_test**: {note}\n"
    assert notes(dataset_dir, ["mine_test"], {"base": []}) == {} and markdown({}) == ""


def test_a_run_directory_tells_what_it_trained_on(tmp_path, tiny_qwen_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.yaml").write_text(f"model_name_or_path: {tiny_qwen_path}\noutput_dir: {tiny_qwen_path}\n"
                                    "dataset: med_cmb, mine\ntemplate: qwen\n", encoding="utf-8")
    assert resolve("tuned", str(run)).trained_on == ("med_cmb", "mine")
    assert resolve("base", str(tiny_qwen_path)).trained_on == ()


def test_report_md_and_json_carry_the_notes(tmp_path):
    import json

    from eval.report import write_reports

    results = {"tuned": {"mine_test": {"task": "norm", "n": 2, "metrics": {"accuracy": 0.5}}}}
    found = {"mine_test": ["tuned was trained on mine, which holds 1 exact and 0 13-gram match(es) of mine_test "
                           "items (bridge audit): its score here may be inflated"]}
    write_reports(results, tmp_path, {"contamination": found})
    assert (tmp_path / "report.md").read_text(encoding="utf-8").endswith(markdown(found))
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["contamination"] == found
    write_reports(results, tmp_path, {})
    assert "Contamination" not in (tmp_path / "report.md").read_text(encoding="utf-8")
