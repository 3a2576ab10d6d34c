import json

import pytest
from click.testing import CliRunner

from recipes.cli import recipes
from recipes.launch import DEEPSPEED_STAGES, Distributed, LaunchError, write_deepspeed_config


def _invoke(*args):
    return CliRunner().invoke(recipes, list(args))


def test_invalid_recipe_fails_before_launch_and_leaves_no_run_dir(tiny_qwen_path, train_dir, runs, tmp_path):
    result = _invoke("train", "qlora", "--model", str(tmp_path / "missing"), "--datasets", "med_nrom",
                     "--dataset-dir", str(train_dir), "--run", "bad", "finetuning_type=full", "lerning_rate=1e-4")
    assert result.exit_code != 0
    out = result.output
    assert "4 problem(s)" in out or out.count("error") >= 4
    for expected in ("did you mean 'learning_rate'", "'med_nrom' is not registered", "missing does not exist",
                     "cannot train a quantised model"):
        assert expected in out
    assert "nothing was launched" in out
    assert not runs.exists()


def test_dry_run_prints_yaml_command_and_memory(tiny_qwen_path, train_dir, runs):
    result = _invoke("train", "lora", "--model", str(tiny_qwen_path), "--datasets", "med_norm",
                     "--dataset-dir", str(train_dir), "--run", "plan", "--dry-run", "learning_rate=2e-4")
    assert result.exit_code == 0, result.output
    assert "learning_rate: 0.0002" in result.output and "lora_target: all" in result.output
    assert "llamafactory-cli train" in result.output and "rule-of-thumb GPU memory" in result.output
    assert "precision fp32" in result.output
    assert not runs.exists(), "a dry run writes nothing"


def test_dry_run_multi_gpu_and_deepspeed(tiny_qwen_path, train_dir, runs):
    result = _invoke("train", "full", "--model", str(tiny_qwen_path), "--datasets", "med_norm",
                     "--dataset-dir", str(train_dir), "--run", "big", "--dry-run", "--gpus", "8", "--ds", "z3",
                     "--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.1", "--master-port", "29500")
    assert result.exit_code == 0, result.output
    assert ("FORCE_TORCHRUN=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 NNODES=2 NODE_RANK=1 NPROC_PER_NODE=8 "
            in result.output)
    assert f"deepspeed: {runs.resolve() / 'big' / 'ds_z3.json'}" in result.output
    assert "DeepSpeed needs CUDA GPUs" in result.output
    assert not runs.exists()


def test_distributed_settings_that_do_not_fit():
    with pytest.raises(LaunchError, match="MASTER_ADDR"):
        Distributed(nnodes=2).env()
    with pytest.raises(LaunchError, match="USE_RAY"):
        Distributed(gpus=2, use_ray=True).env()
    assert Distributed(use_ray=True).env() == {"USE_RAY": "1"}
    assert Distributed().env() == {}


@pytest.mark.parametrize("stage", sorted(DEEPSPEED_STAGES))
def test_deepspeed_configs(stage, tmp_path):
    config = json.loads(write_deepspeed_config(stage, tmp_path).read_text())
    assert config["zero_optimization"]["stage"] == (2 if stage == "z2" else 3)
    assert ("offload_optimizer" in config["zero_optimization"]) == stage.endswith("offload")
    assert config["bf16"] == {"enabled": "auto"}


def test_render_prints_the_commented_recipe():
    result = _invoke("render", "qlora")
    assert result.exit_code == 0 and "quantization_bit: 4" in result.output and "# QLoRA" in result.output


def test_export_refuses_a_failed_or_foreign_run(tmp_path):
    result = _invoke("export", str(tmp_path))
    assert result.exit_code != 0 and "not a medft run directory" in result.output
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "failed", "method": "lora"}))
    result = _invoke("export", str(tmp_path))
    assert result.exit_code != 0 and "did not finish training" in result.output


def test_export_finds_a_run_by_name(tmp_path, runs):
    (runs / "full-1").mkdir(parents=True)
    (runs / "full-1" / "manifest.json").write_text(json.dumps({"status": "success", "method": "full",
                                                               "base_model": "x"}))
    result = _invoke("export", "full-1")
    assert result.exit_code == 0 and "full-1" in result.output
    missing = _invoke("export", "nope")
    assert missing.exit_code != 0 and "no run directory 'nope'" in missing.output


def test_export_of_a_full_run_is_the_run_itself(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "success", "method": "full",
                                                        "base_model": "x"}))
    result = _invoke("export", str(tmp_path))
    assert result.exit_code == 0 and str(tmp_path) in result.output
    assert not (tmp_path / "merged").exists()
