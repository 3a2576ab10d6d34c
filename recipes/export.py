"""Merge a run's LoRA/QLoRA adapter into its base (``runs/<name>/merged``) and chat with a run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from medft.console import get_logger
from medft.io import atomic_write_text
from medft.llamafactory import child_env
from recipes import launch, render, run

log = get_logger("recipes.export")
WHOLE_MODEL_METHODS = ("full", "freeze")


def _trust(manifest: dict, trust_remote_code: bool | None) -> bool:
    # The run's own opt-in (recorded at training) unless the caller says otherwise; off by default.
    return bool(manifest.get("trust_remote_code", False)) if trust_remote_code is None else trust_remote_code


def _base_inference_config(manifest: dict, run_dir: Path, trust_remote_code: bool | None = None) -> dict:
    """Model + adapter keys for loading a run; QLoRA loads its base unquantised (merging needs it).

    ``trust_remote_code``: None follows the run's manifest (True only if training opted in).
    """
    config = {"model_name_or_path": manifest["base_model"], "template": manifest.get("template") or "qwen",
              "trust_remote_code": _trust(manifest, trust_remote_code)}
    if manifest["method"] in WHOLE_MODEL_METHODS:
        config["model_name_or_path"] = str(run_dir)
    else:
        config.update(adapter_name_or_path=str(run_dir), finetuning_type="lora")
    return config


def export_run(run_dir: Path, trust_remote_code: bool | None = None) -> Path:
    """Merge the adapter of ``run_dir`` into ``run_dir/merged``; return the model directory.

    Full and freeze runs already hold a whole model in the run directory: nothing to merge. LLaMA-
    Factory refuses to merge into a quantised model, so a QLoRA adapter is merged into the base
    loaded in 16-bit (the adapter was trained against the dequantised weights' values).
    The merge is written to ``merged.tmp`` and renamed, so a failed export leaves no half model.
    """
    manifest = run.read_manifest(run_dir)
    if manifest.get("status") != "success":
        status = manifest.get("status")
        raise run.RunDirError(f"{run_dir} did not finish training (status {status!r}); nothing to export")
    if manifest["method"] in WHOLE_MODEL_METHODS:
        log.info("%s is a %s run: the run directory already holds the whole model", run_dir, manifest["method"])
        return run_dir
    merged, tmp = run_dir / "merged", run_dir / "merged.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    import torch

    config = {**_base_inference_config(manifest, run_dir, trust_remote_code), "export_dir": str(tmp), "export_size": 5,
              "export_device": "auto" if torch.cuda.is_available() else "cpu", "export_legacy_format": False}
    atomic_write_text(run_dir / "export.yaml", render.to_yaml(config, f"medft export of {run_dir.name}"))
    argv = launch.command("export", run_dir / "export.yaml")
    code, interrupted = launch.run_streaming(argv, {}, run_dir / "export.log")
    if code != 0 or interrupted:
        shutil.rmtree(tmp, ignore_errors=True)
        raise run.RunDirError(f"llamafactory-cli export failed (exit {code}); see {run_dir / 'export.log'}")
    shutil.rmtree(merged, ignore_errors=True)
    tmp.rename(merged)
    manifest["export"] = {"merged_dir": str(merged), "time": run.now(), "command": launch.shell_line(argv, {})}
    run.write_manifest(run_dir, manifest)
    return merged


def chat(run_dir: Path, extra: dict | None = None, trust_remote_code: bool | None = None) -> int:
    """Open ``llamafactory-cli chat`` on a run (its merged model when exported); return the exit code."""
    manifest = run.read_manifest(run_dir)
    config = _base_inference_config(manifest, run_dir, trust_remote_code)
    if (run_dir / "merged" / "config.json").exists():
        config = {"model_name_or_path": str(run_dir / "merged"), "template": config["template"],
                  "trust_remote_code": config["trust_remote_code"]}
    config.update(extra or {})
    atomic_write_text(run_dir / "chat.yaml", render.to_yaml(config, f"medft chat with {run_dir.name}"))
    # Interactive: the child owns the terminal (stdin, and Ctrl-C goes straight to it).
    return subprocess.call(launch.command("chat", run_dir / "chat.yaml"), env=child_env())
