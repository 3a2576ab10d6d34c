"""Choose the training precision the hardware can run, and say why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    """What decides precision: is there a CUDA GPU, and does it do bf16 (Ampere or newer)."""

    cuda: bool
    bf16: bool
    name: str = "CPU"

    @classmethod
    def detect(cls) -> Hardware:
        """Read the hardware of this machine through torch."""
        import torch

        if not torch.cuda.is_available():
            return cls(cuda=False, bf16=False)
        return cls(cuda=True, bf16=torch.cuda.is_bf16_supported(), name=torch.cuda.get_device_name(0))


#: What a plan for GPUs assumes when it is made on a machine without one: bf16-capable (Ampere or newer).
TARGET_GPU = Hardware(cuda=True, bf16=True, name="the target GPUs (assumed Ampere or newer)")


def choose(hardware: Hardware) -> tuple[dict[str, bool], str]:
    """The ``bf16`` / ``fp16`` keys for ``hardware`` and a one-line explanation."""
    if hardware.bf16:
        return {"bf16": True, "fp16": False}, f"bf16: {hardware.name} supports bfloat16 (no loss scaling needed)"
    if hardware.cuda:
        return {"bf16": False, "fp16": True}, f"fp16: {hardware.name} has no bfloat16, so float16 with loss scaling"
    return {"bf16": False, "fp16": False}, "fp32: no CUDA GPU, and transformers rejects bf16/fp16 training on CPU"


def problems(config: dict, hardware: Hardware) -> list[str]:
    """Precision settings the hardware cannot run."""
    found = []
    if config.get("bf16") and not hardware.bf16:
        found.append(f"bf16: true but {hardware.name} has no bfloat16 support; use fp16=true on older GPUs, "
                     "or leave bf16/fp16 unset and medft chooses")
    if config.get("fp16") and not hardware.cuda:
        found.append("fp16: true needs a CUDA GPU; on CPU leave bf16/fp16 unset (fp32)")
    if config.get("bf16") and config.get("fp16"):
        found.append("bf16 and fp16 are both true; pick one")
    return found
