"""The run directory is the source of truth: resolved train.yaml, manifest.json, LLaMA-Factory's outputs.

``runs/<name>/`` is also LLaMA-Factory's ``output_dir``: the adapter (or model), checkpoints,
``trainer_log.jsonl`` and ``training_loss.png`` land beside ``train.yaml`` and ``manifest.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

from medft.io import atomic_write_json, sha256_file
from medft.paths import PROJECT_ROOT

PACKAGES = ("llamafactory", "transformers", "peft", "trl", "torch", "datasets", "accelerate", "bitsandbytes")


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked."""


def locate(name_or_path: str | Path) -> Path:
    """A run directory from ``RUN=``: a path (``runs/lora-v1``) or a bare name under runs/ (``lora-v1``)."""
    from medft.paths import runs_dir

    path = Path(name_or_path)
    if path.is_dir():
        return path
    if len(path.parts) == 1 and (runs_dir() / path).is_dir():
        return runs_dir() / path
    raise RunDirError(f"no run directory {name_or_path!r} (looked for it as a path and under {runs_dir()})")


def default_name(method: str) -> str:
    """``<method>-<YYYYmmdd-HHMMSS>``: unique per second, sorts by time."""
    return f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"


def last_checkpoint(run_dir: Path) -> Path | None:
    """The highest-numbered ``checkpoint-N`` in a run directory."""
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


def force_refusal(run_dir: Path, root: Path | None = None) -> str | None:
    """Why ``FORCE=1`` must not delete ``run_dir``, or None when it may.

    It may only when ``run_dir`` is not a symlink, resolves to a directory strictly inside the runs
    directory ``root`` (default runs/), and holds the ``manifest.json`` medft writes for every run: so
    ``RUN=..``, ``RUN=.``, a symlink out of runs/, or a directory medft did not create are never deleted.
    """
    from medft.paths import runs_dir

    root = (root or runs_dir()).resolve()
    resolved = run_dir.resolve()
    if run_dir.is_symlink():
        return f"{run_dir} is a symbolic link (to {resolved})"
    if resolved == root:
        return f"{resolved} is the runs directory itself, not a run"
    if root not in resolved.parents:
        return f"{resolved} is not inside the runs directory {root}"
    manifest = resolved / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8")) if not manifest.is_symlink() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not (isinstance(data, dict) and {"method", "status"} <= data.keys()):
        return f"{resolved} holds no medft manifest.json, so medft did not create it"
    return None


def check_run_dir(run_dir: Path, resume: bool, force: bool, root: Path | None = None) -> list[str]:
    """Every reason the run directory cannot be used as asked (what a launch would refuse; empty if fine).

    A run directory is never clobbered by accident: an existing one needs ``resume`` (continue from
    its last checkpoint) or ``force`` (delete it and start over, see :func:`force_refusal`).
    """
    if resume and force:
        return ["RESUME=1 and FORCE=1 contradict each other; choose one"]
    if run_dir.exists() and not run_dir.is_dir():
        return [f"{run_dir} exists and is not a directory; pick another RUN=<name>"]
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if resume:
            if not (run_dir / "manifest.json").is_file():
                return [f"{run_dir} is not a medft run directory (no manifest.json): nothing to resume"]
            if last_checkpoint(run_dir) is None:
                return [f"{run_dir} has no checkpoint-* to resume from; use FORCE=1 to start over"]
            return []
        if not force:
            return [f"{run_dir} already exists: pick a new RUN=<name>, RESUME=1 to continue it, "
                    "or FORCE=1 to replace it"]
        refusal = force_refusal(run_dir, root)
        if refusal:
            return [f"FORCE=1: refusing to delete {run_dir.resolve()}: {refusal}. FORCE=1 only replaces a medft "
                    "run inside the runs directory; delete it yourself if you mean it, or pick another RUN="]
        return []
    if resume:
        return [f"RESUME=1 but {run_dir} does not exist"]
    return []


def prepare(run_dir: Path, resume: bool, force: bool, root: Path | None = None) -> Path | None:
    """Make ``run_dir`` ready; return the checkpoint to resume from, if resuming.

    Applies :func:`check_run_dir` (the same checks a dry run reports) and raises RunDirError on the
    first problem; ``force`` then deletes the old run.
    """
    problems = check_run_dir(run_dir, resume, force, root)
    if problems:
        raise RunDirError(problems[0])
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if resume:
            return last_checkpoint(run_dir)
        shutil.rmtree(run_dir.resolve())
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


# Mutation testing (`make mutation`) covers the deletion guards above; the rest is bookkeeping.
# pragma: no mutate block
def git_sha() -> str | None:
    """The commit medft runs from (with ``-dirty`` if the tree has changes), if in a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide a run's behaviour."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def dataset_records(names: list[str], dataset_dir: Path) -> dict[str, dict]:
    """Per dataset: its file and sha256 (from bridge's manifest when it describes the same file)."""
    from bridge.common import BridgeError
    from bridge.registry import load_dataset_info, load_manifest

    info = load_dataset_info(dataset_dir)  # pre-flight has already turned any problem here into an error
    try:
        bridge = load_manifest(dataset_dir)["datasets"]
    except BridgeError:
        bridge = {}
    records = {}
    for name in names:
        entry = info.get(name) if isinstance(info.get(name), dict) else {}
        if "file_name" not in entry:
            records[name] = {"source": {k: v for k, v in entry.items() if k.endswith("url")}}
            continue
        path = Path(entry["file_name"])
        path = path if path.is_absolute() else dataset_dir / path
        known = bridge.get(name) if isinstance(bridge.get(name), dict) else {}
        sha = known.get("sha256") if known.get("file_name") == entry["file_name"] else None
        records[name] = {"file": str(path), "sha256": sha or sha256_file(path)}
        if known.get("counts"):
            records[name]["counts"] = known["counts"]
    return records


def write_manifest(run_dir: Path, manifest: dict) -> None:
    """Write ``manifest.json`` atomically (it is rewritten as the run progresses)."""
    atomic_write_json(run_dir / "manifest.json", manifest)


def read_manifest(run_dir: Path) -> dict:
    """The manifest of a run directory, with a clear error when it is not one."""
    path = run_dir / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunDirError(f"{run_dir} is not a medft run directory (no manifest.json)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} is not valid UTF-8 JSON: {exc}") from exc
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise RunDirError(f"{path} is not a medft run manifest (a JSON {type(data).__name__}, not an object)")
    return data


def now() -> str:
    """Local time in ISO 8601 with offset, for the manifest."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
