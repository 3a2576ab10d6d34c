"""Preference recipes (dpo, orpo, simpo, kto): FROM=runs/NAME starts from an SFT run with the right reference model;
pre-flight refuses a stage on data of the wrong kind, and a FROM that cannot work, in one line each."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from bridge import prefs
from recipes import precision, start
from recipes.cli import recipes
from recipes.render import PREFERENCE_METHODS, load_layer, merge
from recipes.train import TrainRequest, plan
from tests.datasets import write_dataset_dir

CPU = precision.Hardware(cuda=False, bf16=False)
PAIR = prefs.ranking_record("问题：高血压首选哪个科室？\nA. 心内科\nB. 眼科", "A", "B")


@pytest.fixture
def data(tmp_path):
    """A supervised set, a ranking set and a kto set, registered as bridge and `eval prefs` leave them."""
    data = write_dataset_dir(tmp_path / "data", {"med_norm": ("norm.jsonl", [{"instruction": "问", "input": "",
                                                                             "output": "答"}] * 2)})
    info = json.loads((data / "dataset_info.json").read_text(encoding="utf-8"))
    for name, kind, rows in (("med_pref", "ranking", [PAIR] * 2), ("med_kto", "kto", prefs.kto_records(PAIR))):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
        info[name] = prefs.entry(f"{name}.jsonl", kind)
    (data / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return data


def _run(runs, name, tiny_qwen_path, kind, template="qwen"):
    """A finished SFT run of ``kind``: ``adapter`` (LoRA, not merged), ``merged`` (exported), ``full``."""
    run = runs / name
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"method": "lora", "status": "success"}), encoding="utf-8")
    (run / "train.yaml").write_text(f"template: {template}\noutput_dir: {run}\n", encoding="utf-8")
    if kind in ("adapter", "merged"):
        (run / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_qwen_path)}),
                                                 encoding="utf-8")
    if kind == "merged":
        shutil.copytree(tiny_qwen_path, run / "merged")
    if kind == "full":
        shutil.copy(tiny_qwen_path / "config.json", run / "config.json")
    return run


def _plan(method, data, datasets="med_pref", **kwargs):
    return plan(TrainRequest(method, datasets=datasets, dataset_dir=data, **kwargs), CPU)


def test_the_recipes_stack_on_lora_and_set_their_loss():
    for method in PREFERENCE_METHODS:
        config = merge(method, {})
        assert config["finetuning_type"] == "lora" and config["lora_target"] == "all", method
        assert config["learning_rate"] == 5e-6
    assert (merge("dpo", {})["stage"], merge("dpo", {})["pref_loss"]) == ("dpo", "sigmoid")
    assert (load_layer("orpo")["stage"], load_layer("orpo")["pref_loss"]) == ("dpo", "orpo")
    assert (load_layer("simpo")["pref_loss"], load_layer("simpo")["simpo_gamma"]) == ("simpo", 0.5)
    assert load_layer("kto")["stage"] == "kto"


def test_from_an_adapter_trains_it_further_against_the_sft_model(data, runs, tiny_qwen_path):
    run = _run(runs, "sft", tiny_qwen_path, "adapter")
    resolved = _plan("dpo", data, from_run="sft")
    assert resolved.findings.ok, resolved.findings.errors
    config = resolved.config
    assert config["model_name_or_path"] == str(tiny_qwen_path)
    assert config["adapter_name_or_path"] == str(run.resolve())
    # Switching the adapter off (LLaMA-Factory's LoRA reference) would leave the bare base: named explicitly.
    assert (config["ref_model"], config["ref_model_adapters"]) == (str(tiny_qwen_path), str(run.resolve()))
    assert config["template"] == "qwen"
    assert any("reference model is base + that adapter" in note for note in resolved.notes)
    kto = _plan("kto", data, datasets="med_kto", from_run="sft").config
    assert kto["ref_model_adapters"] == str(run.resolve())
    assert start.reference_of(config) == f"{tiny_qwen_path} + adapter {run.resolve()}"
    assert start.reference_of({**config, "pref_loss": "orpo"}) is None


@pytest.mark.parametrize("method", ["orpo", "simpo"])
def test_reference_free_losses_get_no_reference_model(method, data, runs, tiny_qwen_path):
    _run(runs, "sft", tiny_qwen_path, "adapter")
    config = _plan(method, data, from_run="sft").config
    assert "adapter_name_or_path" in config and "ref_model" not in config


def test_from_a_merged_or_whole_model_starts_a_new_adapter_on_it(data, runs, tiny_qwen_path):
    merged = _run(runs, "exported", tiny_qwen_path, "merged")
    config = _plan("dpo", data, from_run=str(merged)).config
    assert config["model_name_or_path"] == str(merged.resolve() / "merged")
    assert "adapter_name_or_path" not in config and "ref_model" not in config
    full = _run(runs, "full", tiny_qwen_path, "full", template="llama3")
    resolved = _plan("dpo", data, from_run="full")
    assert (resolved.config["model_name_or_path"], resolved.config["template"]) == (str(full.resolve()), "llama3")
    assert "FROM full: its whole model is the base; the reference model is that SFT model" in resolved.notes
    assert "FROM full: its whole model is the base" in _plan("orpo", data, from_run="full").notes


def test_a_from_that_cannot_work_is_one_line_each(data, runs, tiny_qwen_path):
    _run(runs, "sft", tiny_qwen_path, "adapter")
    (runs / "empty").mkdir()

    def errors(**kwargs):
        return _plan("dpo", data, **kwargs).findings.errors

    assert errors(from_run="sft", overrides={"template": "llama3"}) == [
        "template 'llama3' differs from the template of FROM=sft ('qwen'): the SFT model answers in its own "
        "template; drop template="]
    assert errors(from_run="sft", model=str(tiny_qwen_path)) == [
        "FROM=sft chooses the model (the SFT run's weights): drop MODEL=, or drop FROM to start from MODEL"]
    assert errors(from_run="sft", overrides={"finetuning_type": "full"}) == [
        "FROM=sft is a LoRA adapter and finetuning_type is full: merge it first (make export RUN=sft), then start "
        "from the merged model"]
    assert errors(from_run="empty") == [
        f"FROM=empty: {(runs / 'empty').resolve()} holds no model yet (no merged/, adapter_config.json or "
        "config.json): did its training finish?"]
    missing = errors(from_run="nope")
    assert len(missing) == 1 and missing[0].startswith("FROM=nope: no run directory 'nope'")


@pytest.mark.parametrize(("method", "datasets", "expected"), [
    ("dpo", "med_norm", "dataset: stage dpo needs preference data (\"ranking\": true with chosen/rejected columns in "
                        "dataset_info.json); 'med_norm' is supervised data — use stage=sft for it"),
    ("orpo", "med_kto", "dataset: stage dpo needs preference data (\"ranking\": true with chosen/rejected columns in "
                        "dataset_info.json); 'med_kto' is kto data — use stage=sft for it"),
    ("kto", "med_pref", "dataset: 'med_pref' is preference (ranking) data, which stage kto cannot read; train it "
                        "with stage=dpo or stage=rm"),
    ("kto", "med_norm", "dataset: stage kto needs a boolean kto_tag column (columns.kto_tag in dataset_info.json) "
                        "marking each answer good or bad; 'med_norm' has none"),
    ("lora", "med_pref", "dataset: 'med_pref' is preference (ranking) data, which stage sft cannot read; train it "
                         "with stage=dpo or stage=rm"),
])
def test_a_stage_on_the_wrong_kind_of_data_is_one_line(method, datasets, expected, data, tiny_qwen_path, runs):
    findings = plan(TrainRequest(method, model=str(tiny_qwen_path), datasets=datasets, dataset_dir=data), CPU).findings
    assert findings.errors == [expected]


def test_the_cli_shows_the_reference_model_in_a_dry_run(data, runs, tiny_qwen_path):
    _run(runs, "sft", tiny_qwen_path, "adapter")
    result = CliRunner().invoke(recipes, ["train", "dpo", "--from", "sft", "--datasets", "med_pref", "--dataset-dir",
                                          str(data), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "stage: dpo" in result.output and f"ref_model: {tiny_qwen_path}" in result.output
    refused = CliRunner().invoke(recipes, ["train", "dpo", "--from", "sft", "--datasets", "med_norm", "--dataset-dir",
                                           str(data), "--dry-run"])
    assert refused.exit_code == 2 and "stage dpo needs preference data" in refused.output


def test_uses_reference_follows_llamafactory():
    from llamafactory.hparams import FinetuningArguments

    for stage, loss in (("dpo", "sigmoid"), ("dpo", "ipo"), ("dpo", "orpo"), ("dpo", "simpo")):
        lf = FinetuningArguments(stage=stage, pref_loss=loss).use_ref_model
        assert start.uses_reference({"stage": stage, "pref_loss": loss}) == lf, (stage, loss)
    assert start.uses_reference({"stage": "kto"}) and not start.uses_reference({"stage": "sft"})


def test_make_passes_from_and_builds_each_kind_of_preference_set():
    import os
    import subprocess
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}

    def shown(target, *variables):
        return subprocess.run(["make", "-n", target, "VENV=/nonexistent", *variables],
                              cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, env=env,
                              check=True).stdout

    assert "recipes train dpo" in shown("train-dpo", "FROM=runs/sft") and "--from runs/sft" in shown(
        "train-dpo", "FROM=runs/sft")
    assert "--from" not in shown("train-lora")
    exam = shown("prefs", "FROM=runs/sft", "EXAM=cmb", "K=6", "KIND=kto")
    assert "-m eval prefs exam med_cmb --model \"runs/sft\"" in exam and "--k 6" in exam and "--kind kto" in exam
    assert "-m eval prefs judge \"reports/x\"" in shown("prefs", "JUDGED=reports/x", "NAME=mine")
    assert "-m eval prefs file \"mine\" \"my.jsonl\"" in shown("prefs", "PREF_FILE=my.jsonl", "NAME=mine")
