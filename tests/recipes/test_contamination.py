"""recipes.contamination: pre-flight warns when a run's training set overlaps a held-out set (saved audit)."""

from __future__ import annotations

from recipes.contamination import overlap_warnings
from tests.bridge.audit_fixture import audited_dir


def test_warns_for_flagged_training_sets_only(tmp_path):
    dataset_dir = audited_dir(tmp_path)
    warnings = overlap_warnings(["mine"], dataset_dir)
    assert warnings == ["training set mine overlaps held-out mine_test: 1 exact and 0 13-gram item(s) (bridge audit); "
                        "scores on mine_test would be inflated. Remove them with `make audit AUDIT_ARGS=--fix`"]
    assert overlap_warnings(["med_norm"], dataset_dir) == []
    assert overlap_warnings(["mine"], tmp_path / "nowhere") == []  # no audit saved: nothing to say


def test_warns_when_the_training_file_changed_since_the_audit(tmp_path):
    dataset_dir = audited_dir(tmp_path)
    with open(tmp_path / "mine.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"instruction": "新加的一条", "output": "好"}\n')
    assert overlap_warnings(["mine"], dataset_dir)[-1] == (
        "training set mine changed since the last audit: run `make audit` to check it against the held-out sets")
