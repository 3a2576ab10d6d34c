"""Plan and launch one fine-tuning run: resolve the recipe, validate it, then train in runs/<name>/."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medft.console import get_logger
from medft.io import atomic_write_text
from medft.paths import dataset_dir as default_dataset_dir
from medft.paths import runs_dir
from recipes import launch, precision, render, run, start, validate
from recipes.memory import ZERO, estimate

log = get_logger("recipes.train")


@dataclass
class TrainRequest:
    """Everything a user can say about a run (Make variables map one to one onto these)."""

    method: str
    model: str | None = None
    datasets: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    run_name: str | None = None
    resume: bool = False
    force: bool = False
    dataset_dir: Path | None = None
    deepspeed: str | None = None
    distributed: launch.Distributed = field(default_factory=launch.Distributed)
    #: Opt in to running the model's own Python code (TRUST_REMOTE_CODE=1); off by default.
    trust_remote_code: bool = False
    #: Opt in to training on a held-out set or few-shot pool (ALLOW_HELDOUT=1); refused by default.
    allow_heldout: bool = False
    #: Start from a finished SFT run (FROM=runs/NAME): its weights and template (recipes.start).
    from_run: str | None = None


@dataclass
class Plan:
    """The resolved run: config, where it goes, how it is launched, and what pre-flight found."""

    method: str
    config: dict[str, Any]
    run_dir: Path
    env: dict[str, str]
    findings: validate.Findings
    notes: list[str]

    def argv(self) -> list[str]:
        return launch.command("train", self.run_dir / "train.yaml")

    def shell_line(self) -> str:
        return launch.shell_line(self.argv(), self.env)

    def yaml_text(self) -> str:
        header = (f"medft {self.method} recipe, resolved. Launched with:\n  {self.shell_line()}\n"
                  "Edit the recipe or pass key=value overrides rather than this file.")
        return render.to_yaml(self.config, header)


def _recommended_cutoff(config: dict, dataset_dir: Path) -> tuple[int, str] | None:
    stats = validate.load_stats(dataset_dir)
    if not stats:
        return None
    p99s = [(stats.get("datasets", {}).get(name) or {}).get("total_tokens", {}).get("p99")
            for name in validate.dataset_names(config)]
    p99s = [p for p in p99s if p]
    if not p99s:
        return None
    cutoff = int(math.ceil(max(p99s) / 128) * 128)
    return cutoff, f"cutoff_len {cutoff}: p99 of prompt+response tokens ({max(p99s)}) rounded up to 128 (`make stats`)"


def plan(request: TrainRequest, hardware: precision.Hardware | None = None, dry_run: bool = False) -> Plan:
    """Resolve and validate a request; nothing is written and no model is loaded.

    With ``dry_run``, a missing DeepSpeed package is a warning: a plan for a GPU cluster can be
    checked on a laptop.
    """
    hardware = hardware or precision.Hardware.detect()
    planned_for_gpus = dry_run and not hardware.cuda and bool(
        request.distributed.gpus or request.deepspeed or (request.distributed.nnodes or 1) > 1)
    if planned_for_gpus:
        # A plan for GPUs made on a CPU machine: show what the GPUs will run, not what this CPU could.
        hardware = precision.TARGET_GPU
    dataset_dir = (request.dataset_dir or default_dataset_dir()).resolve()
    user: dict[str, Any] = {}
    if request.model:
        # A local path is made absolute: train.yaml must work from any directory.
        local = Path(request.model).expanduser()
        user["model_name_or_path"] = str(local.resolve()) if local.exists() else request.model
    if request.datasets:
        user["dataset"] = request.datasets
    if request.trust_remote_code:
        user["trust_remote_code"] = True
    user.update(request.overrides)
    config = render.merge(request.method, user)
    notes: list[str] = []
    findings = validate.Findings()
    if request.from_run:
        begun = start.start_from(request.from_run, config, user)
        config.update(begun.keys)
        notes += begun.notes
        findings.errors += begun.errors

    if "output_dir" in user:
        findings.errors.append("output_dir is the run directory runs/<name>: choose it with RUN=<name>, not ARGS")
    name = request.run_name or run.default_name(request.method)
    if "/" not in name and name in ("", ".", ".."):
        findings.errors.append(f"RUN={name!r} is not a run name: use a plain name (runs/<name>) or a path")
    run_dir = (runs_dir() / name).resolve() if "/" not in name else Path(name).resolve()
    # The same checks the launch applies, so a dry run refuses what the launch would.
    findings.errors += run.check_run_dir(run_dir, request.resume, request.force)
    config["dataset_dir"] = str(user.get("dataset_dir", dataset_dir))
    config["output_dir"] = str(run_dir)
    # The run directory is fresh or being resumed on purpose: never let LLaMA-Factory wipe it.
    config["overwrite_output_dir"] = False

    if "bf16" not in user and "fp16" not in user:
        chosen, why = precision.choose(hardware)
        config.update(chosen)
        notes.append(f"precision {why}" + ("; planned on a machine without a GPU, for the GPUs the launch will "
                                            "use (older ones without bf16, e.g. V100 or T4: ARGS=\"fp16=true\")"
                                            if planned_for_gpus else ""))
    if "cutoff_len" not in user:
        recommended = _recommended_cutoff(config, Path(config["dataset_dir"]))
        if recommended:
            config["cutoff_len"], why = recommended
            notes.append(why)

    if request.deepspeed:
        if request.deepspeed not in launch.DEEPSPEED_STAGES:
            findings.errors.append(f"DS={request.deepspeed!r}: choose one of {', '.join(launch.DEEPSPEED_STAGES)}")
        else:
            config["deepspeed"] = str(run_dir / f"ds_{request.deepspeed}.json")
    try:
        env = request.distributed.env()
    except launch.LaunchError as exc:
        findings.errors.append(str(exc))
        env = {}

    checked = validate.validate(config, Path(config["dataset_dir"]), hardware, allow_heldout=request.allow_heldout)
    if dry_run:
        planned_only = [e for e in checked.errors if e.startswith("deepspeed is set")]
        checked.errors = [e for e in checked.errors if e not in planned_only]
        findings.warnings += planned_only
    if request.from_run and not request.model and "model_name_or_path" not in begun.keys:
        # FROM could not name the model: the recipe's default hub id is not what the user meant, so its
        # "not on this machine" would be a second, misleading line beside FROM's own.
        checked.errors = [e for e in checked.errors if not e.startswith("model_name_or_path:")]
    findings.errors += checked.errors
    findings.warnings += checked.warnings
    notes += checked.notes
    if request.deepspeed and (planned_for_gpus or not hardware.cuda):
        findings.warnings.append("DeepSpeed needs CUDA GPUs: this machine has none, so this run can only be planned")
    gpus = (request.distributed.gpus or 1) * (request.distributed.nnodes or 1)
    zero = request.deepspeed if request.deepspeed in ZERO else None
    memory = estimate(config, render.tuning_method(request.method), gpus, zero)
    notes.append(memory.describe() if memory else "memory estimate unavailable (model size unknown)")
    return Plan(request.method, config, run_dir, env, findings, notes)


def launch_plan(p: Plan, request: TrainRequest) -> int:
    """Create the run directory and train; return llamafactory-cli's exit code (130 if interrupted)."""
    resumed_from = run.prepare(p.run_dir, resume=request.resume, force=request.force)
    if resumed_from:
        # Explicit rather than LLaMA-Factory's silent pick-up, so train.yaml says what happened.
        p.config["resume_from_checkpoint"] = str(resumed_from)
    atomic_write_text(p.run_dir / "train.yaml", p.yaml_text())
    if request.deepspeed:
        launch.write_deepspeed_config(request.deepspeed, p.run_dir)
    datasets = validate.dataset_names(p.config)
    manifest = {
        "name": p.run_dir.name,
        "method": p.method,
        "base_model": p.config["model_name_or_path"],
        "template": p.config.get("template"),
        "finetuning_type": p.config.get("finetuning_type"),
        "stage": p.config.get("stage"),
        # The SFT run a preference run started from (FROM=runs/NAME), and the reference model it trained against.
        "from_run": str(run.locate(request.from_run).resolve()) if request.from_run else None,
        "reference_model": start.reference_of(p.config),
        # export / chat load the model the same way: they follow this opt-in unless told otherwise.
        "trust_remote_code": p.config.get("trust_remote_code") is True,
        # Scores on a held-out set this run trained on mean nothing: the opt-in stays on record.
        "allow_heldout": request.allow_heldout,
        "datasets": run.dataset_records(datasets, Path(p.config["dataset_dir"])),
        "seed": p.config.get("seed"),
        "command": p.shell_line(),
        "env": p.env,
        "git_sha": run.git_sha(),
        "packages": run.package_versions(),
        "notes": p.notes,
        "status": "running",
        "start_time": run.now(),
    }
    if resumed_from:
        manifest = {**run.read_manifest(p.run_dir), **manifest, "resumed_from": str(resumed_from)}
    run.write_manifest(p.run_dir, manifest)
    code, interrupted = launch.run_streaming(p.argv(), p.env, p.run_dir / "train.log")
    from recipes import lossplot  # LLaMA-Factory's own plot is titled with the absolute path: redraw it

    lossplot.write(p.run_dir)
    manifest.update(
        end_time=run.now(),
        exit_code=code,
        status="interrupted" if interrupted else ("success" if code == 0 else "failed"),
    )
    run.write_manifest(p.run_dir, manifest)
    return 130 if interrupted and code == 0 else code
