"""Pre-flight refuses training on held-out sets (unless opted in) and stages whose data cannot work, one line each,
before any model loads; the stage rules agree with LLaMA-Factory's own loader."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.heldout import heldout_names
from bridge.pipeline import convert_source
from bridge.userdata import register_file
from recipes import guards, precision
from recipes.cli import recipes
from recipes.train import TrainRequest, plan

CPU = precision.Hardware(cuda=False, bf16=False)
SUPERVISED = {"file_name": "s.jsonl", "formatting": "alpaca",
              "columns": {"prompt": "instruction", "query": "input", "response": "output"}}
NO_COLUMNS = {"file_name": "s.jsonl"}  # LLaMA-Factory's defaults: instruction / input / output, a supervised set
RANKING = {"file_name": "r.jsonl", "ranking": True,
           "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}}
KTO = {"file_name": "k.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages", "kto_tag": "label"}}
TEXT = {"file_name": "t.jsonl", "columns": {"prompt": "text"}}
SHAREGPT = {"file_name": "c.jsonl", "formatting": "sharegpt", "columns": {"messages": "conversations"}}
INFO = {"sup": SUPERVISED, "nocol": NO_COLUMNS, "rank": RANKING, "kto": KTO, "text": TEXT, "chat": SHAREGPT}
#: stage -> the entries it can train on (every other one must be refused).
ACCEPTS = {"sft": {"sup", "nocol", "chat", "text"}, "ppo": {"sup", "nocol", "chat", "text"}, "pt": {"text"},
           "dpo": {"rank"}, "rm": {"rank"}, "kto": {"kto"}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A dataset_dir as `make data` leaves it for norm and cmb (train, test and the cmb dev pool), from samples."""
    from bridge.samples import write_samples

    root = tmp_path_factory.mktemp("guards")
    write_samples(root / "raw", seed=0, sizes={"norm_train": 60, "norm_val": 30})
    for source in ("norm", "cmb"):
        convert_source(source, root / "data", raw_dir=root / "raw")
    return root / "data"


def _plan(model, dataset_dir, datasets, **kwargs):
    return plan(TrainRequest("lora", model=str(model), datasets=datasets, dataset_dir=dataset_dir, **kwargs), CPU)


@pytest.mark.parametrize(("dataset", "what"), [("med_norm_test", "a held-out test set"),
                                               ("med_cmb_test", "a held-out test set"),
                                               ("med_cmb_dev", "a few-shot pool (dev)")])
def test_heldout_sets_are_refused_in_one_line(dataset, what, tiny_qwen_path, converted, runs):
    findings = _plan(tiny_qwen_path, converted, f"med_norm,{dataset}").findings
    assert findings.errors == [f"dataset: {dataset!r} is {what} registered by bridge, not training data; train on "
                               "its training split, or opt in with ALLOW_HELDOUT=1 (--allow-heldout)"]


def test_the_opt_in_passes_with_a_warning(tiny_qwen_path, converted, runs):
    findings = _plan(tiny_qwen_path, converted, "med_norm_test", allow_heldout=True).findings
    assert findings.errors == []
    assert any("training on 'med_norm_test'" in w and "ALLOW_HELDOUT=1" in w for w in findings.warnings)
    assert _plan(tiny_qwen_path, converted, "med_norm,med_cmb").findings.errors == []  # training splits pass


def test_cli_refuses_before_any_model_loads_and_the_flag_opts_in(tiny_qwen_path, converted, runs):
    args = ["train", "lora", "--model", str(tiny_qwen_path), "--datasets", "med_norm_test", "--dataset-dir",
            str(converted), "--run", "g", "--dry-run"]
    refused = CliRunner().invoke(recipes, args)
    assert refused.exit_code == 2
    assert [line for line in refused.output.splitlines() if line.startswith("error")] == [
        "error   dataset: 'med_norm_test' is a held-out test set registered by bridge, not training data; train on "
        "its training split, or opt in with ALLOW_HELDOUT=1 (--allow-heldout)"]
    allowed = CliRunner().invoke(recipes, [*args, "--allow-heldout"])
    assert allowed.exit_code == 0, allowed.output


def test_a_register_test_file_copy_is_held_out(tmp_path, tiny_qwen_path, runs):
    records = [{"instruction": f"问题{i}", "input": "", "output": f"答案{i}"} for i in range(6)]
    train, test = tmp_path / "mine.jsonl", tmp_path / "heldout.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:4]), encoding="utf-8")
    test.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[4:]), encoding="utf-8")
    data = tmp_path / "data"
    register_file("mine", train, data, test_path=test)
    assert heldout_names(data) == {"mine_test": "test"}
    errors = _plan(tiny_qwen_path, data, "mine,mine_test").findings.errors
    assert len(errors) == 1 and "'mine_test' is a held-out test set" in errors[0]


def test_the_manifest_decides_not_the_name(tmp_path, converted):
    data = tmp_path / "data"
    shutil.copytree(converted, data)
    manifest = json.loads((data / ".medft-manifest.json").read_text(encoding="utf-8"))
    info = json.loads((data / "dataset_info.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["med_norm_test"]["split"] == "test"
    # A held-out set under a name without the suffix is still held out...
    for blob in (manifest["datasets"], info):
        blob["norm_heldout"] = blob.pop("med_norm_test")
    # ...a training set a user happened to call *_test is not...
    manifest["datasets"]["my_test"] = {**manifest["datasets"]["med_norm"], "split": "train"}
    info["my_test"] = info["med_norm"]
    # ...and an entry written before bridge recorded splits is judged by its converter's naming.
    del manifest["datasets"]["med_cmb_dev"]["split"], manifest["datasets"]["med_cmb"]["split"]
    # A dataset bridge never registered is judged by its name.
    info["other_dev"] = info["med_norm"]
    (data / ".medft-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (data / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    assert heldout_names(data) == {"norm_heldout": "test", "med_cmb_test": "test", "med_cmb_dev": "dev",
                                   "other_dev": "dev"}


@pytest.mark.parametrize("stage", sorted(ACCEPTS))
def test_stage_rules(stage):
    names = {"dataset": sorted(INFO)}
    refused = {line.split("'")[1] for line in guards.check_stage({"stage": stage}, INFO, names)}
    assert refused == set(INFO) - ACCEPTS[stage]
    assert len(guards.check_stage({"stage": stage}, INFO, names)) == len(refused)  # one line per dataset


def test_stage_rules_cover_eval_dataset_and_unknown_stages():
    errors = guards.check_stage({"stage": "sft"}, INFO, {"dataset": ["sup"], "eval_dataset": ["rank"]})
    assert errors == ["eval_dataset: 'rank' is preference (ranking) data, which stage sft cannot read; "
                      "train it with stage=dpo or stage=rm"]
    assert guards.check_stage({"stage": "grpo"}, INFO, {"dataset": ["sup"]}) == [
        "stage 'grpo' is not a LLaMA-Factory stage; choose one of pt, sft, rm, ppo, dpo, kto"]


def test_dpo_on_an_sft_dataset_is_one_line_before_any_model_loads(tiny_qwen_path, converted, runs):
    findings = _plan(tiny_qwen_path, converted, "med_norm", overrides={"stage": "dpo"}).findings
    assert findings.errors == [
        "dataset: stage dpo needs preference data (\"ranking\": true with chosen/rejected columns in "
        "dataset_info.json); 'med_norm' is supervised data — use stage=sft for it"]
    pt = _plan(tiny_qwen_path, converted, "med_norm", overrides={"stage": "pt"}).findings
    assert len(pt.errors) == 1 and "drop every response" in pt.errors[0]


def _write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def test_the_ranking_rule_is_llamafactorys(tmp_path):
    """LLaMA-Factory's loader raises for exactly the stage/ranking pairs the guard refuses."""
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    _write(tmp_path / "s.jsonl", [{"instruction": "问", "input": "", "output": "答"}] * 2)
    _write(tmp_path / "r.jsonl", [{"instruction": "问", "input": "", "chosen": "好", "rejected": "坏"}] * 2)
    (tmp_path / "dataset_info.json").write_text(json.dumps({"sup": SUPERVISED, "rank": RANKING}), encoding="utf-8")
    model_args = ModelArguments(model_name_or_path="unused")
    training_args = Seq2SeqTrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    # dpo and kto load their data as these loader stages (train/dpo/workflow.py, train/kto/workflow.py).
    for stage, loader_stage in {"sft": "sft", "pt": "pt", "rm": "rm", "dpo": "rm", "kto": "kto", "ppo": "ppo"}.items():
        for name in ("sup", "rank"):
            data_args = DataArguments(dataset=name, dataset_dir=str(tmp_path), preprocessing_num_workers=None)
            try:
                _get_merged_dataset([name], model_args, data_args, training_args, loader_stage)
                lf_refuses = False
            except ValueError as exc:
                assert "not applicable in the current training stage" in str(exc)
                lf_refuses = True
            ours = guards.check_stage({"stage": stage}, INFO, {"dataset": [name]})
            guard_ranking = any("ranking" in line or "preference" in line for line in ours)
            assert lf_refuses == guard_ranking, (stage, name)


def test_make_passes_allow_heldout_to_the_cli():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "ALLOW_HELDOUT"}

    def shown(*variables):
        return subprocess.run(["make", "-n", "train-lora", "VENV=/nonexistent", "DATASETS=med_norm_test", *variables],
                              cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, env=env,
                              check=True).stdout
    assert "--allow-heldout" in shown("ALLOW_HELDOUT=1")
    assert "--allow-heldout" not in shown() and "--allow-heldout" not in shown("ALLOW_HELDOUT=0")


@pytest.mark.slow
def test_the_pt_rule_is_llamafactorys(tmp_path, tiny_qwen_path, monkeypatch):
    """LLaMA-Factory's pt processor keeps ``instruction\\ninput`` of a supervised record and drops its response,
    which is why the guard refuses pt on supervised data and accepts a prompt-only text set."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    _write(tmp_path / "s.jsonl", [{"instruction": "问题甲", "input": "补充乙", "output": "回答丙"}])
    _write(tmp_path / "t.jsonl", [{"text": "纯文本己"}])
    (tmp_path / "dataset_info.json").write_text(json.dumps({"sup": {**SUPERVISED, "file_name": "s.jsonl"},
                                                            "text": {**TEXT, "file_name": "t.jsonl"}}),
                                                encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    seen = {}
    for name in ("sup", "text"):
        model_args, data_args, training_args, _, _ = get_train_args({
            "model_name_or_path": str(tiny_qwen_path), "stage": "pt", "do_train": True, "finetuning_type": "lora",
            "dataset": name, "dataset_dir": str(tmp_path), "template": "qwen", "cutoff_len": 64,
            "output_dir": str(tmp_path / "out"), "overwrite_cache": True, "report_to": "none", "packing": False})
        tokenizer_module = load_tokenizer(model_args)
        template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
        dataset = get_dataset(template, model_args, data_args, training_args, stage="pt", **tokenizer_module)
        seen[name] = [tokenizer_module["tokenizer"].decode(ids) for ids in dataset["train_dataset"]["input_ids"]]
    assert seen == {"sup": ["问题甲\n补充乙<|im_end|>"], "text": ["纯文本己<|im_end|>"]}
    assert [bool(guards.check_stage({"stage": "pt"}, INFO, {"dataset": [n]})) for n in ("sup", "text")] == [True, False]
