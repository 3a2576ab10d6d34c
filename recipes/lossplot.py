"""``training_loss.png`` of a run: training loss (raw and smoothed) and, when the run evaluated a validation
split (``VAL_SIZE=``), the validation loss, against the step; titled with the run's name.

LLaMA-Factory draws its own plot at the end of training, titled with the whole absolute output path and
one curve per file; this one replaces it after the run, from the same ``trainer_state.json``.
"""

from __future__ import annotations

from pathlib import Path

from medft.io import atomic_write_bytes
from medft.plotting import png_bytes
from medft.trainer_state import loss_curves

PLOT = "training_loss.png"


def curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The run's training and validation loss curves (``medft.trainer_state.loss_curves``)."""
    return loss_curves(run_dir)


def _smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average (the same idea as LLaMA-Factory's smoothing, a fixed weight)."""
    out, last = [], values[0] if values else 0.0
    for value in values:
        last = weight * last + (1 - weight) * value
        out.append(last)
    return out


def title(found: dict, name: str) -> str:
    """The plot's title: the run's name, not its path; says when there is no validation curve."""
    return f"run {name}: loss" + ("" if "eval_loss" in found else " (no validation split: set VAL_SIZE=)")


def plot_png(found: dict[str, list[tuple[int, float]]], name: str) -> bytes:
    """The loss plot as PNG bytes (byte-identical for the same curves)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    if "loss" in found:
        steps, values = zip(*found["loss"], strict=True)
        ax.plot(steps, values, color="#1f77b4", alpha=0.35, label="training loss")
        ax.plot(steps, _smooth(list(values)), color="#1f77b4", label="training loss (smoothed)")
    if "eval_loss" in found:
        steps, values = zip(*found["eval_loss"], strict=True)
        ax.plot(steps, values, "o-", color="#d62728", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title(found, name), fontsize=10)
    ax.legend(fontsize=8)
    return png_bytes(fig)


def write(run_dir: Path) -> Path | None:
    """Redraw ``run_dir/training_loss.png`` (atomically); None when the run logged no loss."""
    found = curves(run_dir)
    if not found:
        return None
    atomic_write_bytes(run_dir / PLOT, plot_png(found, run_dir.name))
    return run_dir / PLOT
