import json

from recipes import lossplot

HISTORY = [{"loss": 2.0, "step": 1}, {"loss": 1.5, "step": 2}, {"eval_loss": 1.8, "step": 2},
           {"loss": 1.0, "step": 3}, {"train_runtime": 3.0, "step": 3}]


def test_training_and_validation_curves_come_from_trainer_state(tmp_path):
    run = tmp_path / "my-run"
    run.mkdir()
    (run / "trainer_state.json").write_text(json.dumps({"log_history": HISTORY}), encoding="utf-8")
    found = lossplot.curves(run)
    assert found == {"loss": [(1, 2.0), (2, 1.5), (3, 1.0)], "eval_loss": [(2, 1.8)]}
    assert lossplot.title(found, run.name) == "run my-run: loss"
    assert lossplot.title({"loss": found["loss"]}, "x") == "run x: loss (no validation split: set VAL_SIZE=)"
    path = lossplot.write(run)
    assert path == run / "training_loss.png" and path.read_bytes().startswith(b"\x89PNG")
    assert lossplot.plot_png(found, run.name) == path.read_bytes(), "byte-identical redraws"


def test_an_interrupted_run_uses_its_last_checkpoint_and_no_log_draws_nothing(tmp_path):
    for step, loss in ((2, 9.0), (10, 1.0)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(
            json.dumps({"log_history": [{"loss": loss, "step": step}]}), encoding="utf-8")
    assert lossplot.curves(tmp_path) == {"loss": [(10, 1.0)]}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert lossplot.write(empty) is None and not (empty / "training_loss.png").exists()
