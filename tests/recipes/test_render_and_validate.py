import json

import pytest

from recipes import precision
from recipes.render import METHODS, PREFERENCE_METHODS, RecipeError, load_layer, parse_overrides, recipe_text
from recipes.train import TrainRequest, plan

CPU = precision.Hardware(cuda=False, bf16=False)
OLD_GPU = precision.Hardware(cuda=True, bf16=False, name="Tesla T4")
NEW_GPU = precision.Hardware(cuda=True, bf16=True, name="A100")


@pytest.mark.parametrize("method", METHODS)
def test_every_shipped_recipe_renders_and_validates(method, tiny_qwen_path, train_dir, runs):
    text = recipe_text(method)
    assert text.startswith("#") and "Launch:" in text, "each recipe documents how to launch it"
    datasets = {"kto": "med_kto"}.get(method, "med_pref" if method in PREFERENCE_METHODS else "med_norm,med_mrg")
    resolved = plan(TrainRequest(method, model=str(tiny_qwen_path), datasets=datasets, dataset_dir=train_dir), CPU)
    assert resolved.findings.ok, resolved.findings.errors
    config = resolved.config
    assert config["output_dir"] == str(runs.resolve() / resolved.run_dir.name)
    assert config["bf16"] is False and config["fp16"] is False
    assert config["finetuning_type"] == {"qlora": "lora", **PREFERENCE_METHODS}.get(method, method)
    assert config["template"] == "qwen" and config["lr_scheduler_type"] == "cosine"
    assert not runs.exists(), "planning writes nothing"


def test_method_defaults_follow_the_design():
    lora, qlora, full = load_layer("lora"), load_layer("qlora"), load_layer("full")
    assert (lora["lora_rank"], lora["lora_alpha"], lora["lora_dropout"], lora["lora_target"]) == (16, 32, 0.05, "all")
    assert lora["learning_rate"] == qlora["learning_rate"] == 1e-4 and full["learning_rate"] == 1e-5
    assert qlora["quantization_bit"] == 4 and qlora["quantization_method"] == "bnb"
    base = load_layer("base")
    assert base["model_name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert base["dataset"] == "med_dialog,med_norm,med_mrg" and base["plot_loss"] is True


def test_overrides_are_typed():
    parsed = parse_overrides(["learning_rate=2e-4", "num_train_epochs=1", "bf16=false", "dataset=a,b", "x=1.5e3"])
    assert parsed == {"learning_rate": 2e-4, "num_train_epochs": 1, "bf16": False, "dataset": "a,b", "x": 1500.0}
    with pytest.raises(RecipeError, match="not key=value"):
        parse_overrides(["learning_rate"])


def test_all_problems_are_reported_at_once(tiny_qwen_path, train_dir, tmp_path, runs):
    request = TrainRequest("qlora", model=str(tmp_path / "no-model"), datasets="med_norm,med_nrom",
                           overrides={"learning_rat": 1e-4, "finetuning_type": "full", "bf16": True},
                           dataset_dir=train_dir)
    errors = "\n".join(plan(request, CPU).findings.errors)
    assert "unknown key 'learning_rat'; did you mean 'learning_rate'?" in errors
    assert "'med_nrom' is not registered" in errors and "did you mean 'med_norm'?" in errors
    assert "no-model does not exist" in errors
    assert "finetuning_type 'full' cannot train a quantised model" in errors
    assert "bf16: true but CPU has no bfloat16" in errors


def test_hub_id_offline_names_the_download(train_dir, runs, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    errors = plan(TrainRequest("lora", model="Qwen/NotDownloaded-0.5B", datasets="med_norm",
                               dataset_dir=train_dir), CPU).findings.errors
    assert any("huggingface-cli download Qwen/NotDownloaded-0.5B" in e for e in errors)


def test_precision_follows_the_hardware():
    assert precision.choose(NEW_GPU)[0] == {"bf16": True, "fp16": False}
    assert precision.choose(OLD_GPU)[0] == {"bf16": False, "fp16": True}
    assert precision.choose(CPU)[0] == {"bf16": False, "fp16": False}
    assert precision.problems({"bf16": True}, OLD_GPU) and precision.problems({"fp16": True}, CPU)
    assert not precision.problems({"bf16": True}, NEW_GPU)


def test_cutoff_len_comes_from_bridge_stats(tiny_qwen_path, train_dir, runs):
    stats = {"datasets": {"med_norm": {"total_tokens": {"p50": 40, "p90": 90, "p99": 300, "max": 410}},
                          "med_mrg": {"total_tokens": {"p50": 100, "p90": 500, "p99": 700, "max": 900}}}}
    (train_dir / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    try:
        auto = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm,med_mrg",
                                 dataset_dir=train_dir), CPU)
        assert auto.config["cutoff_len"] == 768 and any("p99" in n for n in auto.notes)
        short = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm,med_mrg",
                                  overrides={"cutoff_len": 512}, dataset_dir=train_dir), CPU)
        assert short.config["cutoff_len"] == 512 and short.findings.ok
        assert [w for w in short.findings.warnings if "med_mrg" in w and "700" in w]
    finally:
        (train_dir / "stats.json").unlink()


def test_memory_estimate_is_labelled(tiny_qwen_path, train_dir, runs):
    for method, model in (("full", "Qwen/Qwen2.5-7B-Instruct"), ("qlora", "Qwen/Qwen2.5-7B-Instruct")):
        notes = plan(TrainRequest(method, model=model, datasets="med_norm", dataset_dir=train_dir), NEW_GPU).notes
        line = next(n for n in notes if "rule-of-thumb" in n)
        assert "not a measurement" in line and "7,000.0 M parameters, from the model name" in line
    from recipes.memory import estimate

    full = estimate({"model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}, "full")
    qlora = estimate({"model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}, "qlora")
    assert full.total_gib > 100 > 20 > qlora.total_gib  # ~16 bytes/param vs 4-bit weights
