"""`make sweep` on a real tiny LoRA run with checkpoints and a validation split: every point evaluated,
metric vs step beside the loss, the best checkpoint named with its paired Δ against the final model."""

import json

import pytest
from click.testing import CliRunner

from eval.cli import eval_group
from eval.sweep import BASE, FINAL, SweepError, points
from recipes.cli import recipes
from tests.datasets import write_dataset_dir
from tests.recipes.conftest import NORM, TINY_ARGS

pytestmark = pytest.mark.slow

HELDOUT = [{"instruction": f"原始词：高血压病{i}级\n该词的标准术语为：", "input": "", "output": "高血压"}
           for i in range(6)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_qwen_path):
    root = tmp_path_factory.mktemp("sweep")
    data = write_dataset_dir(root / "data", {"med_norm": ("norm_train.jsonl", NORM * 2),
                                             "med_norm_test": ("norm_test.jsonl", HELDOUT)})
    result = CliRunner().invoke(recipes, [
        "train", "lora", "--model", str(tiny_qwen_path), "--datasets", "med_norm", "--dataset-dir", str(data),
        "--run", str(root / "runs" / "swept"), *TINY_ARGS, "val_size=0.25", "eval_strategy=steps", "eval_steps=1"])
    assert result.exit_code == 0, result.output[-3000:]
    return root / "runs" / "swept", data


def test_sweep_evaluates_every_checkpoint_and_names_the_best(trained):
    run_dir, data = trained
    assert [(p.label, p.step) for p in points(run_dir)] == [(BASE, 0), ("step-1", 1), ("step-2", 2), (FINAL, 2)]
    result = CliRunner().invoke(eval_group, ["sweep", str(run_dir), "--dataset", "med_norm_test", "--dataset-dir",
                                             str(data), "--max-new-tokens", "4", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    out = run_dir / "sweep"
    summary = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert [p["label"] for p in summary["points"]] == [BASE, "step-1", "step-2", FINAL]
    assert summary["best"]["label"] in {"step-1", "step-2", FINAL}
    assert set(summary["best_vs_final"]["med_norm_test"]) == {"value", "ci", "significant"}
    assert [s for s, _ in summary["loss"]["eval_loss"]] == [1, 2], "the validation loss at every step"
    assert f"best: {summary['best']['label']}" in result.output
    assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")
    assert "★" in (out / "sweep.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"Best checkpoint: <b>{summary['best']['label']}</b>" in page and "sweep.png" in page
    assert (out / "report.html").exists() and set(json.loads((out / "report.json").read_text())["results"]) == {
        BASE, "step-1", "step-2", FINAL}
    plot = run_dir / "training_loss.png"
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(SweepError, match="not a medft run directory"):
        points(tmp_path)
    result = CliRunner().invoke(eval_group, ["sweep", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "no run directory" in result.output


def test_the_best_point_has_the_highest_mean_headline_and_ties_go_to_the_earlier_step():
    from eval.models import ModelSpec
    from eval.sweep import Point, best_point

    def entry(task, metric, value):
        return {"task": task, "metrics": {metric: value}, "ci": {metric: [value, value]}}

    sweep = [Point(label, step, ModelSpec(label, "m")) for label, step in
             ((BASE, 0), ("step-5", 5), ("step-10", 10), (FINAL, 12))]
    values = {BASE: (0.9, 0.9), "step-5": (0.5, 0.3), "step-10": (0.6, 0.3), FINAL: (0.3, 0.5)}
    results = {label: {"med_norm_test": entry("norm", "accuracy", a), "med_dialog_test": entry("dialog", "rougeL", b)}
               for label, (a, b) in values.items()}
    datasets = ["med_norm_test", "med_dialog_test"]
    best = best_point(results, sweep, datasets)
    assert best.label == "step-10", "mean 0.45 beats 0.40; the base (0.9) is never chosen"
    results[FINAL]["med_dialog_test"] = entry("dialog", "rougeL", 0.6)
    assert best_point(results, sweep, datasets).label == "step-10", "a tie at 0.45 goes to the earlier step"
