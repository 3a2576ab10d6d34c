"""Pre-flight checks: every problem in a resolved recipe, found before any model loads."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from recipes import contamination, guards, precision

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass
class Findings:
    """What pre-flight found: errors stop a launch; warnings and notes are printed."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@cache
def known_keys() -> frozenset[str]:
    """Every key ``llamafactory-cli train`` accepts: the fields of its argument dataclasses."""
    from llamafactory.hparams import (
        DataArguments,
        FinetuningArguments,
        GeneratingArguments,
        ModelArguments,
        RayArguments,
        TrainingArguments,
    )

    classes = (ModelArguments, DataArguments, TrainingArguments, FinetuningArguments, GeneratingArguments,
               RayArguments)
    return frozenset(f.name for cls in classes for f in dataclasses.fields(cls))


def check_keys(config: dict) -> list[str]:
    """Unknown keys, each with a "did you mean" when a known key is close."""
    errors = []
    for key in config:
        if key in known_keys():
            continue
        close = difflib.get_close_matches(key, sorted(known_keys()), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        errors.append(f"unknown key {key!r}{hint} (LLaMA-Factory rejects keys its arguments do not define)")
    return errors


def dataset_names(config: dict, key: str = "dataset") -> list[str]:
    """The comma-separated dataset names under ``key``."""
    value = config.get(key) or ""
    items = value if isinstance(value, list) else str(value).split(",")
    return [name.strip() for name in items if str(name).strip()]


def check_datasets(config: dict, dataset_dir: Path) -> list[str]:
    """Every dataset named in the recipe is registered and its file exists."""
    names = {key: dataset_names(config, key) for key in ("dataset", "eval_dataset")}
    if not names["dataset"]:
        return ["no dataset: set DATASETS=med_norm,... (names from dataset_info/dataset_info.json)"]
    from bridge.common import BridgeError
    from bridge.registry import load_dataset_info, pending_names

    info_path = dataset_dir / "dataset_info.json"
    if not info_path.exists():
        return [f"{info_path} does not exist: run `make data` (or `python -m bridge convert`) first"]
    try:
        info = load_dataset_info(dataset_dir)  # bridge's reader: GBK, a directory, not an object -> one line
        half = pending_names(dataset_dir)
    except BridgeError as exc:
        return [exc.message]
    if half:
        return [f"{dataset_dir}: a conversion of {', '.join(half)} was interrupted while replacing its files; "
                "run `python -m bridge recover` to finish it, then train"]
    errors = []
    for key, datasets in names.items():
        for name in datasets:
            if name not in info:
                close = difflib.get_close_matches(name, sorted(info), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; registered: {', '.join(sorted(info))}"
                errors.append(f"{key}: {name!r} is not registered in {info_path}{hint}")
                continue
            entry = info[name]
            if not isinstance(entry, dict):
                errors.append(f"{key}: the entry of {name!r} in {info_path} is not a JSON object")
                continue
            if "file_name" not in entry:
                continue  # hub/script datasets: LLaMA-Factory fetches them itself
            path = Path(entry["file_name"])
            path = path if path.is_absolute() else dataset_dir / path
            if not path.exists():
                errors.append(f"{key}: {name!r} is registered but {path} does not exist; run `make data`")
    return errors


def check_training_data(config: dict, dataset_dir: Path, allow_heldout: bool = False) -> tuple[list[str], list[str]]:
    """(errors, warnings): held-out sets used for training, and datasets the ``stage`` cannot read (recipes.guards).

    Held-out means what bridge recorded in its manifest (bridge.heldout); an unreadable dataset_info.json
    is check_datasets' finding, not repeated here.
    """
    from bridge.common import BridgeError
    from bridge.heldout import heldout_names
    from bridge.registry import load_dataset_info

    try:
        info = load_dataset_info(dataset_dir)
        heldout = heldout_names(dataset_dir)
    except BridgeError:
        return [], []
    names = {key: dataset_names(config, key) for key in ("dataset", "eval_dataset")}
    errors, warnings = guards.check_heldout(names["dataset"], heldout, allow_heldout)
    return errors + guards.check_stage(config, info, names), warnings


def hf_cached(repo_id: str) -> bool:
    """Whether a hub model's config is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def check_model(config: dict, key: str = "model_name_or_path") -> list[str]:
    """The model is a local model directory, or a hub id that is cached (or downloadable when online)."""
    model = str(config.get(key) or "")
    if not model:
        return [f"{key} is not set: MODEL=/path/to/model"]
    path = Path(model).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "config.json").exists():
            return [f"{key}: {model} has no config.json; point MODEL at a Hugging Face model directory"]
        return []
    if HUB_ID.match(model) and not model.startswith((".", "/", "~")):
        if hf_cached(model):
            return []
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
            return [f"{key}: {model!r} is not on this machine and medft runs offline (HF_HUB_OFFLINE=1). "
                    f"Download it once (`huggingface-cli download {model} --local-dir /models/{model.split('/')[-1]}`"
                    f" or `modelscope download --model {model} --local_dir ...`) and set MODEL to that "
                    "directory, or set HF_HUB_OFFLINE=0 to let LLaMA-Factory download it"]
        return []
    return [f"{key}: {model} does not exist"]


def check_method(config: dict) -> list[str]:
    """Method combinations LLaMA-Factory refuses, or that need a missing package."""
    errors = []
    finetuning = config.get("finetuning_type", "lora")
    if config.get("quantization_bit") is not None:
        if finetuning not in ("lora", "oft"):
            errors.append(f"quantization_bit (QLoRA) trains adapters only: finetuning_type {finetuning!r} cannot "
                          "train a quantised model; use finetuning_type=lora or drop quantization_bit")
        method = config.get("quantization_method", "bnb")
        if method == "bnb" and importlib.util.find_spec("bitsandbytes") is None:
            errors.append("QLoRA with quantization_method bnb needs bitsandbytes: pip install bitsandbytes")
    if config.get("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        errors.append("deepspeed is set but the deepspeed package is not installed: pip install deepspeed "
                      "(on the GPU machine; it needs CUDA to build its ops)")
    return errors


def check_template(config: dict) -> list[str]:
    """The chat template exists in LLaMA-Factory."""
    from llamafactory.data.template import TEMPLATES

    name = config.get("template")
    if name is None or name in TEMPLATES:
        return []
    close = difflib.get_close_matches(str(name), sorted(TEMPLATES), n=1)
    return [f"template {name!r} does not exist in LLaMA-Factory" + (f"; did you mean {close[0]!r}?" if close else "")]


def load_stats(dataset_dir: Path) -> dict | None:
    """``bridge stats`` output (``<dataset_dir>/stats.json``), if it has been computed (and reads as such)."""
    try:
        data = json.loads((dataset_dir / "stats.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("datasets", {}), dict) else None


def model_config(model: str) -> dict | None:
    """The model's config.json (a local directory, or a hub id already in the cache), if readable."""
    path = Path(model).expanduser() / "config.json"
    if not path.is_file() and HUB_ID.match(model):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        path = Path(cached) if isinstance(cached, str) else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def check_remote_code(config: dict) -> tuple[list[str], list[str]]:
    """(warnings, notes) about custom model code: a config.json with ``auto_map`` names Python files that
    run only with ``trust_remote_code`` (medft's default is off, as LLaMA-Factory's)."""
    model = str(config.get("model_name_or_path") or "")
    auto_map = (model_config(model) or {}).get("auto_map") if model else None
    trusted = config.get("trust_remote_code") is True
    if not auto_map:
        return [], (["trust_remote_code is on: any custom code the model ships would run"] if trusted else [])
    targets = auto_map.values() if isinstance(auto_map, dict) else [auto_map]
    code = sorted({str(t).split("--")[-1].rsplit(".", 1)[0] for v in targets for t in (
        v if isinstance(v, list) else [v]) if t})
    where = f"{model} ships custom code (auto_map in config.json: {', '.join(code)})"
    if trusted:
        return [], [f"trust_remote_code is on: {where}; it will run when the model loads"]
    return [f"{where}; it does not run unless you opt in with TRUST_REMOTE_CODE=1 (or trust_remote_code=true), "
            "and loading may fail without it"], []


def cutoff_advice(config: dict, stats: dict | None) -> list[str]:
    """Warn when cutoff_len would cut off the response of more than 1 % of a dataset's samples."""
    if not stats or "cutoff_len" not in config:
        return []
    warnings = []
    for name in dataset_names(config):
        lengths = (stats.get("datasets", {}).get(name) or {}).get("total_tokens")
        if lengths and lengths.get("p99", 0) > config["cutoff_len"]:
            warnings.append(
                f"cutoff_len {config['cutoff_len']} < p99 length {lengths['p99']} of {name} (max {lengths.get('max')}):"
                " over 1 % of its samples lose the end of the response (`make stats`)"
            )
    return warnings


def validate(config: dict, dataset_dir: Path, hardware: precision.Hardware | None = None,
             allow_heldout: bool = False) -> Findings:
    """Run every check on a resolved config and gather all findings at once.

    ``allow_heldout`` (ALLOW_HELDOUT=1) turns training on a held-out set from an error into a warning.
    """
    hardware = hardware or precision.Hardware.detect()
    findings = Findings()
    findings.errors += check_keys(config)
    findings.errors += check_datasets(config, dataset_dir)
    errors, warnings = check_training_data(config, dataset_dir, allow_heldout)
    findings.errors += errors
    findings.warnings += warnings
    findings.errors += check_model(config)
    findings.errors += check_template(config)
    findings.errors += check_method(config)
    findings.errors += precision.problems(config, hardware)
    findings.warnings += cutoff_advice(config, load_stats(dataset_dir))
    findings.warnings += contamination.overlap_warnings(dataset_names(config), dataset_dir)
    warnings, notes = check_remote_code(config)
    findings.warnings += warnings
    findings.notes += notes
    return findings
