"""Where medft keeps things. Every default can be moved with an environment variable."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

#: The repository (or working directory) medft runs in; Make targets run from the repo root.
PROJECT_ROOT = Path(os.environ.get("MEDFT_ROOT", Path(__file__).resolve().parent.parent))


def _env_path(var: str, default: Path) -> Path:
    return Path(os.environ[var]) if os.environ.get(var) else default


def dataset_dir() -> Path:
    """LLaMA-Factory's ``dataset_dir``: converted jsonl files and ``dataset_info.json``."""
    return _env_path("MEDFT_DATASET_DIR", PROJECT_ROOT / "dataset_info")


def raw_dir() -> Path:
    """Where raw downloads are unpacked (git-ignored)."""
    return _env_path("MEDFT_RAW_DIR", PROJECT_ROOT / "raw")


def runs_dir() -> Path:
    """Where each training run gets its own directory."""
    return _env_path("MEDFT_RUNS_DIR", PROJECT_ROOT / "runs")


def cache_dir() -> Path:
    """Git-ignored cache: built tiny models and other derived artefacts."""
    return _env_path("MEDFT_CACHE", PROJECT_ROOT / ".cache")


def find_executable(name: str) -> str | None:
    """A console script of the running environment: beside ``sys.executable`` first, then on PATH.

    So a venv's interpreter finds its own tools (llamafactory-cli, modelscope) even when the venv
    is not activated, as under `make` or `.venv/bin/python -m ...`.
    """
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)
