"""What a training run logged: the loss curves and steps in Hugging Face's ``trainer_state.json``.

LLaMA-Factory's ``output_dir`` (a medft run directory) holds ``trainer_state.json`` after training and a
copy in every ``checkpoint-<step>/``. recipes draws the loss plot from it and eval's checkpoint sweep
draws it beside the metric; both read it here.
"""

from __future__ import annotations

import json
from pathlib import Path

STATE = "trainer_state.json"
CHECKPOINT_PREFIX = "checkpoint-"


def checkpoint_step(name: str) -> int:
    """The step of a ``checkpoint-<step>`` folder name (-1 for anything else)."""
    head, _, tail = name.rpartition("-")
    return int(tail) if head + "-" == CHECKPOINT_PREFIX and tail.isdigit() else -1


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's ``checkpoint-<step>`` folders, by step."""
    found = [p for p in run_dir.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and checkpoint_step(p.name) >= 0]
    return sorted(found, key=lambda p: checkpoint_step(p.name))


def _state(run_dir: Path) -> dict:
    """The final ``trainer_state.json``, else the last checkpoint's ({} when there is none readable)."""
    for path in [run_dir / STATE, *(c / STATE for c in reversed(checkpoints(run_dir)))]:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(state, dict):
            return state
    return {}


def loss_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{"loss": [(step, value)], "eval_loss": [...]}`` (keys only for curves that were logged)."""
    found: dict[str, list[tuple[int, float]]] = {}
    for entry in _state(run_dir).get("log_history") or []:
        for key in ("loss", "eval_loss"):
            if isinstance(entry, dict) and isinstance(entry.get(key), int | float) and "step" in entry:
                found.setdefault(key, []).append((int(entry["step"]), float(entry[key])))
    return found


def final_step(run_dir: Path) -> int | None:
    """The step training ended at: ``global_step`` of the final state, else the last checkpoint's step."""
    step = _state(run_dir).get("global_step")
    if isinstance(step, int):
        return step
    steps = [checkpoint_step(c.name) for c in checkpoints(run_dir)]
    return steps[-1] if steps else None
