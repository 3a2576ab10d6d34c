"""A labelled rule-of-thumb GPU memory estimate for --dry-run (not a measurement)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
#: bytes per parameter of the frozen weights by method: bf16/fp16 weights; NF4 ≈ 4.5 bits with constants.
WEIGHT_BYTES = {"full": 2.0, "freeze": 2.0, "lora": 2.0, "qlora": 0.56}
#: extra bytes per *trainable* parameter beyond its weight: bf16 grad, fp32 master copy, Adam's two moments.
GRADIENT_BYTES, OPTIMIZER_BYTES = 2.0, 12.0
TRAINABLE_BYTES = GRADIENT_BYTES + OPTIMIZER_BYTES
#: What each DeepSpeed ZeRO setting (DS=) splits across the data-parallel GPUs, or moves to the CPU:
#: ZeRO-2 shards gradients and optimizer state; ZeRO-3 the weights too; the offload variant keeps the
#: optimizer state (and the parameters, which are gathered layer by layer) in CPU memory.
ZERO = {
    None: {"weights": "kept", "gradients": "kept", "optimizer": "kept"},
    "z2": {"weights": "kept", "gradients": "sharded", "optimizer": "sharded"},
    "z3": {"weights": "sharded", "gradients": "sharded", "optimizer": "sharded"},
    "z3_offload": {"weights": "sharded", "gradients": "sharded", "optimizer": "cpu"},
}


@dataclass(frozen=True)
class Estimate:
    """The pieces of the estimate, in GiB, and where the parameter count came from."""

    params: float
    params_source: str
    weights_gib: float
    trainable_gib: float
    activations_gib: float
    #: GPUs in all (GPUS × NNODES) and the DeepSpeed setting that decides what they share.
    gpus: int = 1
    zero: str | None = None

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.trainable_gib + self.activations_gib

    def describe(self) -> str:
        """One line, labelled as a rule of thumb and per GPU."""
        if self.zero:
            parts = ZERO[self.zero]
            shared = [k for k in ("weights", "gradients", "optimizer") if parts[k] == "sharded"]
            how = f"DS={self.zero} over {self.gpus} GPU(s): {', '.join(shared)} split {self.gpus} ways" + (
                "; optimizer state in CPU memory" if parts["optimizer"] == "cpu" else "")
        elif self.gpus > 1:
            how = f"{self.gpus} GPUs without DeepSpeed: each holds a full copy"
        else:
            how = "one GPU"
        return (
            f"rule-of-thumb GPU memory per GPU (not a measurement): ~{_size(self.total_gib)} = "
            f"weights {_size(self.weights_gib)} + trainable state {_size(self.trainable_gib)} + "
            f"activations {_size(self.activations_gib)} "
            f"[{how}; {self.params / 1e6:,.1f} M parameters, from {self.params_source}]"
        )


def _size(gib: float) -> str:
    return f"{gib:.1f} GiB" if gib >= 1 else f"{gib * 1024:.1f} MiB"


def count_parameters(model: str) -> tuple[float, str] | None:
    """Parameter count from a local model's config.json, else from a size in its name (``…-0.5B-…``)."""
    config_path = Path(model) / "config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        hidden = config.get("hidden_size")
        layers = config.get("num_hidden_layers")
        vocab = config.get("vocab_size", 0)
        inter = config.get("intermediate_size") or 4 * (hidden or 0)
        if hidden and layers:
            heads = config.get("num_attention_heads") or 1
            kv = config.get("num_key_value_heads") or heads
            attention = hidden * hidden * 2 + 2 * hidden * (hidden * kv // heads)
            per_layer = attention + 3 * hidden * inter
            embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
            return float(layers * per_layer + embeddings), "config.json"
    match = re.search(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", Path(model).name)
    if match:
        return float(match.group(1)) * 1e9, "the model name"
    return None


def estimate(config: dict, method: str, gpus: int = 1, zero: str | None = None) -> Estimate | None:
    """Memory on each GPU: frozen weights + trainable state + an activation term, for ``gpus`` GPUs in all
    (GPUS × NNODES) under the DeepSpeed setting ``zero`` (None, z2, z3, z3_offload; see ZERO: a sharded part
    is divided by ``gpus``, one in CPU memory counts 0).

    Trainable share: LoRA/QLoRA ≈ 1 %, freeze = trainable layers / all layers, full = 100 %.
    Activations ≈ batch × cutoff_len × hidden × layers × 34 bytes / 8 (the 34·s·b·h per-layer
    figure of Korthikanti et al. with flash attention, divided by ~8 for gradient checkpointing,
    which LLaMA-Factory enables by default).
    """
    counted = count_parameters(str(config.get("model_name_or_path", "")))
    if counted is None:
        return None
    params, source = counted
    model_config = {}
    config_path = Path(str(config.get("model_name_or_path", ""))) / "config.json"
    if config_path.exists():
        model_config = json.loads(config_path.read_text(encoding="utf-8"))
    layers = model_config.get("num_hidden_layers") or max(12, int((params / 1e9) ** 0.5 * 28))
    hidden = model_config.get("hidden_size") or int((params / (12 * layers)) ** 0.5)
    if method == "full":
        trainable = params
    elif method == "freeze":
        trainable = params * min(abs(int(config.get("freeze_trainable_layers", 2))), layers) / layers
    else:
        trainable = params * 0.01
    tokens = int(config.get("per_device_train_batch_size", 1)) * int(config.get("cutoff_len", 2048))
    activations = tokens * hidden * layers * 34 / 8
    gpus = max(1, int(gpus))
    parts = ZERO.get(zero, ZERO[None])

    def share(kind: str) -> float:
        return {"kept": 1.0, "sharded": 1.0 / gpus, "cpu": 0.0}[parts[kind]]

    return Estimate(
        params=params,
        params_source=source,
        weights_gib=params * WEIGHT_BYTES.get(method, 2.0) * share("weights") / GIB,
        trainable_gib=trainable * (GRADIENT_BYTES * share("gradients") + OPTIMIZER_BYTES * share("optimizer")) / GIB,
        activations_gib=activations / GIB,
        gpus=gpus,
        zero=zero if zero in ZERO else None,
    )
