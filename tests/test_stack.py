"""The pinned stack works end to end on CPU: real llamafactory-cli train (LoRA) and export on the tiny model."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from medft.llamafactory import child_env, cli_path

pytestmark = pytest.mark.slow

RECORDS = [
    {"instruction": "原始词：高血压病3级（极高危）\n该词的标准术语为：", "input": "", "output": "高血压"},
    {"instruction": "主题：胃疼反酸烧心是胃炎吗\n内容：饭后经常胃疼", "input": "", "output": "建议做胃镜检查。"},
] * 4


def _write_yaml(path, mapping):
    # LLaMA-Factory reads YAML; JSON is valid YAML and needs no extra dependency here.
    path.write_text(json.dumps(mapping, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _run(args, log):
    proc = subprocess.run([cli_path(), *args], env=child_env(), capture_output=True, text=True, timeout=600)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"llamafactory-cli {args[0]} failed:\n{(proc.stdout + proc.stderr)[-3000:]}"


def test_lora_train_export_generate(tiny_qwen_path, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "toy.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8"
    )
    (data / "dataset_info.json").write_text(json.dumps({
        "toy": {"file_name": "toy.jsonl", "formatting": "alpaca",
                "columns": {"prompt": "instruction", "query": "input", "response": "output"}},
    }), encoding="utf-8")
    adapter, merged = tmp_path / "adapter", tmp_path / "merged"

    train_cfg = _write_yaml(tmp_path / "train.yaml", {
        "model_name_or_path": str(tiny_qwen_path), "stage": "sft", "do_train": True,
        "finetuning_type": "lora", "lora_target": "all", "lora_rank": 8,
        "dataset": "toy", "dataset_dir": str(data), "template": "qwen", "cutoff_len": 128,
        "preprocessing_num_workers": 1, "overwrite_cache": True,
        "output_dir": str(adapter), "overwrite_output_dir": True, "max_steps": 3, "logging_steps": 1,
        "per_device_train_batch_size": 2, "learning_rate": 1e-3, "bf16": False, "fp16": False,
        "report_to": "none", "seed": 42,
    })
    _run(["train", str(train_cfg)], tmp_path / "train.log")
    assert (adapter / "adapter_model.safetensors").exists()
    log = [json.loads(line) for line in (adapter / "trainer_log.jsonl").read_text().splitlines()]
    assert [entry["current_steps"] for entry in log if "loss" in entry] == [1, 2, 3]

    export_cfg = _write_yaml(tmp_path / "export.yaml", {
        "model_name_or_path": str(tiny_qwen_path), "adapter_name_or_path": str(adapter),
        "template": "qwen", "finetuning_type": "lora", "export_dir": str(merged),
        "export_device": "cpu", "export_legacy_format": False,
    })
    _run(["export", str(export_cfg)], tmp_path / "export.log")

    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen_path)
    # Merging changed the weights: the LoRA update really landed in the exported model.
    assert any(
        not torch.equal(p, base.state_dict()[name]) for name, p in model.state_dict().items() if "proj" in name
    )
    prompt = (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{RECORDS[0]['instruction']}<|im_end|>\n<|im_start|>assistant\n"
    )
    inputs = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    assert isinstance(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:]), str)
