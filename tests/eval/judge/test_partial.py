"""Judging when one model has predictions for only part of the records: named with counts, refused unless
--allow-partial (then the common records are judged, with a warning)."""

import json

import pytest
from click.testing import CliRunner

from eval.cli import eval_group
from eval.judge.run import JudgeError, load_answers
from tests.datasets import write_dataset_dir

DIALOG = [{"instruction": f"主题：胃疼{i}", "input": "", "output": f"答{i}"} for i in range(10)]


@pytest.fixture
def out(tmp_path):
    """An eval OUT where base scored all 10 records and tuned only the first 4 (as after `--limit 4`)."""
    data = write_dataset_dir(tmp_path / "data", {"med_dialog_test": ("d.jsonl", DIALOG)})
    out = tmp_path / "out"
    for label, count in (("base", 10), ("tuned", 4)):
        path = out / "scores" / label / "med_dialog_test.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps({"index": i, "prediction": f"{label}{i}", "reference": f"答{i}"},
                                           ensure_ascii=False) + "\n" for i in range(count)), encoding="utf-8")
    (out / "report.json").write_text(json.dumps({"models": {"base": {}, "tuned": {}}, "datasets": ["med_dialog_test"],
                                                 "dataset_dir": str(data), "results": {}}), encoding="utf-8")
    return out


def test_missing_predictions_are_named_with_counts_and_refused(out):
    with pytest.raises(JudgeError) as info:
        load_answers(out)
    assert str(info.value) == (
        "med_dialog_test: the models have predictions for different numbers of its 10 records (base 10, tuned 4); "
        "only the first 4 could be judged. Rerun eval for the missing ones (same OUT: answers already there are "
        "reused), or pass --allow-partial (ALLOW_PARTIAL=1) to judge those 4")


def test_allow_partial_judges_the_common_records_and_warns(out):
    warnings = []
    models, answers = load_answers(out, allow_partial=True, warn=warnings.append)
    assert models == ["base", "tuned"] and len(answers["med_dialog_test"].records) == 4
    assert answers["med_dialog_test"].predictions == {"base": ["base0", "base1", "base2", "base3"],
                                                      "tuned": ["tuned0", "tuned1", "tuned2", "tuned3"]}
    assert warnings == ["med_dialog_test: the models have predictions for different numbers of its 10 records "
                        "(base 10, tuned 4); only the first 4 could be judged"]


def test_a_limit_within_every_model_is_not_partial(out):
    _, answers = load_answers(out, limit=3)
    assert len(answers["med_dialog_test"].records) == 3


def test_the_command_line_refuses_then_allows(out):
    args = ["judge", str(out), "--judge", "http://127.0.0.1:9/v1#j", "--mode", "pairwise", "--dry-run"]
    refused = CliRunner().invoke(eval_group, args)
    assert refused.exit_code == 1 and "(base 10, tuned 4)" in refused.output and "--allow-partial" in refused.output
    assert "Traceback" not in refused.output
    allowed = CliRunner().invoke(eval_group, [*args, "--allow-partial"])
    assert allowed.exit_code == 0, allowed.output
    text = " ".join(allowed.output.split())
    assert "warning med_dialog_test:" in text and "8 judge calls" in text  # 4 records x 2 orders
