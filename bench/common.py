"""What every benchmark shares: a description of the machine and where results are saved."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from medft.io import atomic_write_json

RESULTS_DIR = Path(__file__).parent / "results"


def machine_info() -> dict:
    """CPU model, core count, Python version and date: recorded with every result."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "nproc": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def machine_line() -> str:
    """The machine as one line, the header of every benchmark run."""
    info = machine_info()
    return f"{info['cpu']}, {info['nproc']} cores, {info['date']}"


def save_results(name: str, payload: dict) -> Path:
    """Write ``bench/results/<name>.json`` (git-ignored); BENCHMARKS.md records the figures by hand."""
    path = RESULTS_DIR / f"{name}.json"
    atomic_write_json(path, payload)
    return path
