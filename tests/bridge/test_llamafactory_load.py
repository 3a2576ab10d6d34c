"""LLaMA-Factory is the real client of dataset_info.json: a real `llamafactory-cli train` step on every med_* set."""

import json
import subprocess

import pytest

from medft.llamafactory import child_env, cli_path

pytestmark = pytest.mark.slow


def test_every_registered_dataset_trains_one_step(converted_dir, tiny_qwen_path, tmp_path):
    info = json.loads((converted_dir / "dataset_info.json").read_text(encoding="utf-8"))
    names = [name for name in info if name.startswith("med_")]
    assert len(names) == 16  # 4 sources x (train, test) + cmb/cmexam (train, test, dev) + cmmlu (test, dev)
    config = tmp_path / "train.yaml"
    out = tmp_path / "out"
    # JSON is valid YAML; LLaMA-Factory loads every listed dataset (and tokenizes it) before step 1.
    config.write_text(json.dumps({
        "model_name_or_path": str(tiny_qwen_path), "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "lora_target": "all", "dataset": ",".join(names), "dataset_dir": str(converted_dir), "template": "qwen",
        "cutoff_len": 512, "preprocessing_num_workers": 1, "overwrite_cache": True, "output_dir": str(out),
        "overwrite_output_dir": True, "max_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1,
        "bf16": False, "fp16": False, "report_to": "none", "seed": 42,
    }), encoding="utf-8")
    proc = subprocess.run([cli_path(), "train", str(config)], env=child_env(), capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    rows = sum(len((converted_dir / info[n]["file_name"]).read_text(encoding="utf-8").splitlines()) for n in names)
    assert f"Num examples = {rows:,}" in log or f"Num examples = {rows}" in log, log[-3000:]
    assert (out / "adapter_model.safetensors").exists()
