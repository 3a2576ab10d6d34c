"""``FROM=runs/NAME``: start a run (usually a preference run) from a finished SFT run's weights and template.

What the SFT run left decides what the new run loads (read in this order, as eval's model resolution does):

- ``merged/`` (``make export``): the merged model is the new base; a LoRA recipe trains a new adapter on it.
  LLaMA-Factory's reference model for a LoRA policy is that policy with its adapter switched off
  (``train/dpo/trainer.py``: ``disable_adapter()``) — here exactly the SFT model, as DPO wants.
- an adapter (``adapter_config.json``, a LoRA / QLoRA run): its base is the new base and the adapter is
  trained further (``adapter_name_or_path``; LLaMA-Factory resumes the last adapter when it trains). Switching
  that adapter off would leave the bare base as the reference, not the SFT model, so for stages with a
  reference model (``dpo`` with a sigmoid / hinge / ipo loss, ``kto``) medft names it explicitly:
  ``ref_model`` = the base, ``ref_model_adapters`` = the SFT adapter (``train/trainer_utils.py``
  ``create_ref_model``). ORPO and SimPO have no reference model.
- a whole model (``config.json``: a full or freeze run): the new base; LLaMA-Factory copies it as the
  reference of a full / freeze policy, and switches the adapter off for a LoRA one — both the SFT model.

The run's template comes along (eval builds prompts with it too); a different ``template=`` is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes.render import RecipeError, read_yaml
from recipes.run import RunDirError, locate

#: Stages whose trainer compares the policy with a reference model (FinetuningArguments.use_ref_model for dpo;
#: the kto workflow always creates one when training).
REFERENCE_FREE_LOSSES = ("orpo", "simpo")


def uses_reference(config: dict[str, Any]) -> bool:
    """Whether LLaMA-Factory trains this config against a reference model."""
    stage = config.get("stage", "sft")
    return stage == "kto" or (stage == "dpo" and config.get("pref_loss", "sigmoid") not in REFERENCE_FREE_LOSSES)


def reference_of(config: dict[str, Any]) -> str | None:
    """What the run is compared against, in words for its manifest (None: no reference model)."""
    if not uses_reference(config):
        return None
    if config.get("ref_model"):
        adapters = config.get("ref_model_adapters")
        return f"{config['ref_model']}" + (f" + adapter {adapters}" if adapters else "")
    if config.get("finetuning_type", "lora") == "lora":
        return f"{config.get('model_name_or_path')} (the policy with its new adapter switched off)"
    return f"{config.get('model_name_or_path')} (a frozen copy of the starting model)"


@dataclass
class Start:
    """What ``FROM`` contributes to a config: keys to set, notes, and errors that stop the launch."""

    keys: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _adapter_base(adapter_dir: Path) -> str | None:
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return base if isinstance(base, str) and base else None


def _run_yaml(run_dir: Path) -> dict[str, Any]:
    try:
        return read_yaml(run_dir / "train.yaml") if (run_dir / "train.yaml").is_file() else {}
    except RecipeError:
        return {}


def start_from(from_run: str, config: dict[str, Any], user: dict[str, Any]) -> Start:
    """The keys that make ``config`` (resolved, before FROM) start from the SFT run ``from_run``.

    ``user`` holds what the user set explicitly (MODEL, ARGS): FROM chooses the model, so a MODEL beside it is
    an error, as is a ``template`` other than the run's.
    """
    start = Start()
    try:
        run_dir = locate(from_run).resolve()
    except RunDirError as exc:
        start.errors.append(f"FROM={from_run}: {exc}")
        return start
    if "model_name_or_path" in user:
        start.errors.append(f"FROM={from_run} chooses the model (the SFT run's weights): drop MODEL=, or drop FROM "
                            "to start from MODEL")
    trained = _run_yaml(run_dir)
    template = trained.get("template")
    if template:
        if "template" in user and user["template"] != template:
            start.errors.append(f"template {user['template']!r} differs from the template of FROM={from_run} "
                                f"({template!r}): the SFT model answers in its own template; drop template=")
        else:
            start.keys["template"] = template
    finetuning = config.get("finetuning_type", "lora")
    reference = "; the reference model is that SFT model" if uses_reference(config) else ""
    if (run_dir / "merged" / "config.json").is_file():
        start.keys["model_name_or_path"] = str(run_dir / "merged")
        start.notes.append(f"FROM {run_dir.name}: its merged model (merged/) is the base{reference}")
    elif (run_dir / "adapter_config.json").is_file():
        base = _adapter_base(run_dir)
        if base is None:
            start.errors.append(f"FROM={from_run}: {run_dir}/adapter_config.json names no base_model_name_or_path")
            return start
        if finetuning != "lora":
            start.keys["model_name_or_path"] = base  # the one problem is the method, not the model
            start.errors.append(f"FROM={from_run} is a LoRA adapter and finetuning_type is {finetuning}: merge it "
                                f"first (make export RUN={run_dir.name}), then start from the merged model")
            return start
        start.keys.update(model_name_or_path=base, adapter_name_or_path=str(run_dir))
        if uses_reference(config):
            start.keys.update(ref_model=base, ref_model_adapters=str(run_dir))
        start.notes.append(f"FROM {run_dir.name}: its adapter is trained further on {base}"
                           + ("; the reference model is base + that adapter (the SFT model)"
                              if uses_reference(config) else ""))
    elif (run_dir / "config.json").is_file():
        start.keys["model_name_or_path"] = str(run_dir)
        start.notes.append(f"FROM {run_dir.name}: its whole model is the base{reference}")
    else:
        start.errors.append(f"FROM={from_run}: {run_dir} holds no model yet (no merged/, adapter_config.json or "
                            "config.json): did its training finish?")
    return start
