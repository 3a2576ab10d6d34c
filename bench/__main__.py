"""Run every ``bench/bench_*.py`` (or those named on the command line) and print their tables.

Each benchmark module exposes ``main(quick: bool) -> None``; it prints a rich table and writes
``bench/results/<name>.json``. ``--quick`` uses small inputs for a smoke run.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from bench.common import machine_line
from medft.console import console


def _discover() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def main() -> None:
    """Parse arguments and run the selected benchmarks in order."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {_discover()})")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    args = parser.parse_args()
    names = args.names or _discover()
    if not names:
        console.print("no benchmarks under bench/ yet")
        return
    console.print(f"[bold]medft benchmarks[/] on {machine_line()}")
    for name in names:
        module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
        module.main(quick=args.quick)


if __name__ == "__main__":
    main()
