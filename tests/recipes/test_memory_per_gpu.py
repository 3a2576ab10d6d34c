"""The memory estimate is per GPU and divides what ZeRO divides; a GPU plan made on a CPU shows bf16."""

import pytest

from recipes import precision
from recipes.launch import Distributed
from recipes.memory import GIB, estimate
from recipes.train import TrainRequest, plan

CPU = precision.Hardware(cuda=False, bf16=False)
MODEL = {"model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}  # 7e9 parameters, from the name
P = 7e9


@pytest.mark.parametrize(("gpus", "zero", "weights", "trainable"), [
    (1, None, P * 2, P * 14),
    (8, None, P * 2, P * 14),                    # plain data parallel: every GPU holds everything
    (8, "z2", P * 2, P * (2 / 8 + 12 / 8)),      # gradients and optimizer state split 8 ways
    (8, "z3", P * 2 / 8, P * (2 / 8 + 12 / 8)),  # the weights too
    (16, "z3_offload", P * 2 / 16, P * 2 / 16),  # optimizer state in CPU memory
])
def test_full_fine_tuning_per_gpu(gpus, zero, weights, trainable):
    got = estimate(MODEL, "full", gpus, zero)
    single = estimate(MODEL, "full")
    assert got.weights_gib == pytest.approx(weights / GIB, rel=1e-12)
    assert got.trainable_gib == pytest.approx(trainable / GIB, rel=1e-12)
    assert got.activations_gib == single.activations_gib  # per-device batch: the same on each GPU
    assert "per GPU" in got.describe() and "not a measurement" in got.describe()


def test_the_issue_example_is_labelled_and_sharded():
    line = estimate(MODEL, "full", 8, "z3").describe()
    assert line.startswith("rule-of-thumb GPU memory per GPU (not a measurement): ~14.7 GiB = weights 1.6 GiB + "
                           "trainable state 11.4 GiB + activations 1.7 GiB [DS=z3 over 8 GPU(s): weights, gradients, "
                           "optimizer split 8 ways;")
    assert "optimizer state in CPU memory" in estimate(MODEL, "full", 8, "z3_offload").describe()
    assert "8 GPUs without DeepSpeed: each holds a full copy" in estimate(MODEL, "full", 8).describe()


def test_a_plan_counts_gpus_times_nodes(tmp_path):
    request = TrainRequest("full", model="Qwen/Qwen2.5-7B-Instruct", datasets="med_norm", dataset_dir=tmp_path,
                           deepspeed="z3", distributed=Distributed(gpus=8, nnodes=2, master_addr="n0"))
    line = next(n for n in plan(request, CPU, dry_run=True).notes if "rule-of-thumb" in n)
    assert "DS=z3 over 16 GPU(s)" in line


def test_a_gpu_plan_made_on_a_cpu_shows_bf16_and_says_so(tmp_path):
    request = TrainRequest("full", model="Qwen/Qwen2.5-7B-Instruct", datasets="med_norm", dataset_dir=tmp_path,
                           deepspeed="z3", distributed=Distributed(gpus=8))
    planned = plan(request, CPU, dry_run=True)
    assert planned.config["bf16"] is True and planned.config["fp16"] is False
    note = next(n for n in planned.notes if n.startswith("precision"))
    assert "planned on a machine without a GPU" in note and "fp16=true" in note
    assert not any("bf16" in e for e in planned.findings.errors)
    # A single-process plan on this CPU is for this CPU: fp32, as before.
    local = plan(TrainRequest("lora", model="Qwen/Qwen2.5-7B-Instruct", datasets="med_norm", dataset_dir=tmp_path),
                 CPU, dry_run=True)
    assert local.config["bf16"] is False and local.config["fp16"] is False
    # The user's own choice stands.
    own = TrainRequest("full", model="Qwen/Qwen2.5-7B-Instruct", datasets="med_norm", dataset_dir=tmp_path,
                       distributed=Distributed(gpus=8), overrides={"fp16": True})
    assert plan(own, CPU, dry_run=True).config["fp16"] is True
