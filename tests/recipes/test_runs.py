"""Real llamafactory-cli runs on CPU with the tiny model: each leaves a complete run directory."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from transformers import AutoModelForCausalLM, AutoTokenizer

from recipes.cli import recipes
from tests.recipes.conftest import TINY_ARGS

pytestmark = pytest.mark.slow


def _train(method, run, model, data, *extra):
    args = ["train", method, "--model", str(model), "--datasets", "med_norm,med_mrg", "--dataset-dir", str(data),
            "--run", run, *TINY_ARGS, *extra]
    return CliRunner().invoke(recipes, args)


def _manifest(run_dir):
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


def _steps(run_dir):
    """Steps that logged a training loss (the log's last line repeats the final step as a summary)."""
    entries = [json.loads(line) for line in (run_dir / "trainer_log.jsonl").read_text(encoding="utf-8").splitlines()]
    return [entry["current_steps"] for entry in entries if "loss" in entry]


@pytest.mark.parametrize("method,weights", [
    ("qlora", "adapter_model.safetensors"),
    ("full", "model.safetensors"),
    ("freeze", "model.safetensors"),
])
def test_method_leaves_a_complete_run(method, weights, tiny_qwen_path, train_dir, runs):
    extra = ["freeze_trainable_layers=1"] if method == "freeze" else []
    result = _train(method, "r", tiny_qwen_path, train_dir, *extra)
    assert result.exit_code == 0, result.output[-3000:]
    run_dir = runs / "r"
    manifest = _manifest(run_dir)
    assert manifest["status"] == "success" and manifest["exit_code"] == 0 and manifest["method"] == method
    assert set(manifest["datasets"]) == {"med_norm", "med_mrg"}
    assert all(len(d["sha256"]) == 64 for d in manifest["datasets"].values())
    assert manifest["packages"]["llamafactory"] == "0.9.5" and manifest["seed"] == 42
    for name in ("train.yaml", "train.log", "trainer_log.jsonl", "training_loss.png", weights):
        assert (run_dir / name).exists(), name
    assert _steps(run_dir) == [1, 2]
    if method == "qlora":
        assert "quantization_bit: 4" in (run_dir / "train.yaml").read_text()
        # LLaMA-Factory cannot merge into a 4-bit model: export merges into the 16-bit base instead.
        exported = CliRunner().invoke(recipes, ["export", str(run_dir)])
        assert exported.exit_code == 0, exported.output[-3000:]
        assert (run_dir / "merged" / "config.json").exists()
        assert "quantization_bit" not in (run_dir / "export.yaml").read_text()


@pytest.fixture(scope="module")
def lora_run(tiny_qwen_path, train_dir, tmp_path_factory):
    """One LoRA run shared by the resume / export / clobber tests of this module."""
    runs = tmp_path_factory.mktemp("lora-runs")
    os.environ["MEDFT_RUNS_DIR"] = str(runs)
    try:
        result = _train("lora", "lora-run", tiny_qwen_path, train_dir)
        assert result.exit_code == 0, result.output[-3000:]
    finally:
        del os.environ["MEDFT_RUNS_DIR"]
    return runs / "lora-run"


def test_lora_run_directory(lora_run, tiny_qwen_path):
    manifest = _manifest(lora_run)
    assert manifest["status"] == "success" and manifest["base_model"] == str(tiny_qwen_path)
    assert manifest["command"].endswith(f"train {lora_run / 'train.yaml'}")
    assert (lora_run / "adapter_model.safetensors").exists() and (lora_run / "checkpoint-2").is_dir()
    train_yaml = (lora_run / "train.yaml").read_text(encoding="utf-8")
    assert train_yaml.startswith("# medft lora recipe, resolved.") and "lora_target: all" in train_yaml


def test_existing_run_is_never_clobbered(lora_run, tiny_qwen_path, train_dir, monkeypatch):
    monkeypatch.setenv("MEDFT_RUNS_DIR", str(lora_run.parent))
    before = (lora_run / "manifest.json").read_bytes()
    result = _train("lora", lora_run.name, tiny_qwen_path, train_dir)
    assert result.exit_code != 0 and "already exists" in result.output and "FORCE=1" in result.output
    assert (lora_run / "manifest.json").read_bytes() == before


def test_resume_continues_from_the_last_checkpoint(lora_run, tiny_qwen_path, train_dir, monkeypatch, tmp_path):
    import shutil

    resumed = tmp_path / "runs" / "resumed"
    shutil.copytree(lora_run, resumed)
    monkeypatch.setenv("MEDFT_RUNS_DIR", str(resumed.parent))
    result = _train("lora", "resumed", tiny_qwen_path, train_dir, "--resume", "max_steps=4")
    assert result.exit_code == 0, result.output[-3000:]
    manifest = _manifest(resumed)
    assert manifest["status"] == "success" and manifest["resumed_from"].endswith("checkpoint-2")
    assert "resume_from_checkpoint:" in (resumed / "train.yaml").read_text()
    assert _steps(resumed) == [1, 2, 3, 4], "steps 3-4 continue the log of steps 1-2"
    assert "Resuming training from checkpoint" in (resumed / "train.log").read_text()


def test_export_merges_and_the_model_generates(lora_run):
    result = CliRunner().invoke(recipes, ["export", str(lora_run)])
    assert result.exit_code == 0, result.output[-3000:]
    merged = lora_run / "merged"
    assert not (lora_run / "merged.tmp").exists()
    assert _manifest(lora_run)["export"]["merged_dir"] == str(merged)
    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    inputs = tokenizer("<|im_start|>user\n原始词：头痛<|im_end|>\n<|im_start|>assistant\n", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_chat_answers_on_stdin(lora_run):
    proc = subprocess.run([sys.executable, "-m", "recipes", "chat", str(lora_run)], input="你好\nexit\n",
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Assistant:" in proc.stdout


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# "ignored": started the way a script's background job or nohup starts it, with SIGINT ignored, which a child
# inherits. The launcher still stops on SIGINT, and so must the trainer it spawned (red before the launcher
# installed its handler ahead of spawning: the trainer kept training for 2 minutes after the forwarded SIGINT).
@pytest.mark.parametrize("started", ["normally", "ignored"])
def test_ctrl_c_is_forwarded_and_recorded(tiny_qwen_path, train_dir, runs, started):
    args = [sys.executable, "-m", "recipes", "train", "lora", "--model", str(tiny_qwen_path),
            "--datasets", "med_norm,med_mrg", "--dataset-dir", str(train_dir), "--run", "stopped",
            *[a for a in TINY_ARGS if not a.startswith("max_steps")], "max_steps=100000"]
    # Output goes to a file, not a pipe nobody reads while training runs (a full pipe would block the trainer
    # mid-write: a hang for a reason other than the one under test).
    output = runs.parent / "stopped.out"
    with output.open("wb") as sink:
        proc = subprocess.Popen(args, env={**os.environ, "MEDFT_RUNS_DIR": str(runs)}, stdout=sink,
                                stderr=subprocess.STDOUT,
                                preexec_fn=_ignore_ctrl_c if started == "ignored" else None)
    log = runs / "stopped" / "trainer_log.jsonl"
    deadline = time.monotonic() + 240
    while not (log.exists() and log.stat().st_size) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, output.read_text(encoding="utf-8", errors="replace")[-2000:]
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("Ctrl-C did not stop the run within 120 s:\n"
                             + output.read_text(encoding="utf-8", errors="replace")[-2000:]) from None
    manifest = _manifest(runs / "stopped")
    assert code != 0 and manifest["status"] == "interrupted" and "end_time" in manifest
