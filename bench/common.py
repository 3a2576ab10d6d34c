"""What every benchmark shares: a description of the machine and where results are saved."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from medft.io import atomic_write_json

RESULTS_DIR = Path(__file__).parent / "results"
RESULTS_ENV = "MEDFT_BENCH_RESULTS"


def results_dir() -> Path:
    """Where results are saved: ``bench/results/``, or ``$MEDFT_BENCH_RESULTS`` when set.

    The test suite points it at a temp dir, so its quick smoke runs never overwrite the full-size
    figures that ``make bench`` saved.
    """
    override = os.environ.get(RESULTS_ENV)
    return Path(override) if override else RESULTS_DIR


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


def peak_rss_mb() -> float | None:
    """This process's own peak resident set (``VmHWM`` in /proc/self/status), in MB.

    Why not ``os.wait4``'s ``ru_maxrss`` of a child: Linux folds the forking parent's high-water mark
    into the child's (the pre-exec address space counts), so a parent holding 1.2 GB makes a child that
    really peaks at 11 MB report 1.2 GB. Each benchmark child reports its own VmHWM instead.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return None


def save_results(name: str, payload: dict) -> Path:
    """Write ``<results_dir()>/<name>.json`` (git-ignored); BENCHMARKS.md records the figures by hand."""
    path = results_dir() / f"{name}.json"
    atomic_write_json(path, payload)
    return path
