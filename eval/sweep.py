"""Checkpoint sweep: evaluate a run's base model, every ``checkpoint-<step>`` and its final model; find the best.

``python -m eval sweep RUN`` (``make sweep RUN=NAME``) runs ``eval.pipeline.evaluate`` on all of them at once
(so the prediction cache is shared with any other evaluation in the same OUT, and a rerun generates only
what is missing), then writes beside the usual reports:

- ``sweep.json`` / ``sweep.md``: each point's step and headline metrics with CIs, the best checkpoint, and
  its paired Δ against the final model (with a CI) on every set;
- ``sweep.png``: the headline metric against the step with CI bands (one line per set, the best marked),
  beside the run's training and validation loss (validation loss needs ``VAL_SIZE=`` at training).

The best point is the one with the highest mean headline over the sets (ties: the earlier step); the base
model is shown but never chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from eval.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, summarise_with_ci
from eval.formatting import format_delta, format_value, round_floats
from eval.models import ModelSpec, ModelSpecError, resolve, run_config
from eval.report import Results, headline_of
from eval.tasks import get_task
from medft.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from medft.plotting import png_bytes
from medft.trainer_state import checkpoint_step, checkpoints, final_step, loss_curves

BASE, FINAL = "base", "final"


class SweepError(ValueError):
    """The run cannot be swept (not a run directory, no base model recorded)."""


@dataclass(frozen=True)
class Point:
    """One model of the sweep: its label in the reports, its training step, its weights."""

    label: str
    step: int
    spec: ModelSpec


def points(run_dir: Path) -> list[Point]:
    """The base model (step 0), every checkpoint (by step) and the final model of ``run_dir``."""
    config = run_config(run_dir)
    if not config:
        raise SweepError(f"{run_dir} is not a medft run directory (no train.yaml)")
    base = config.get("model_name_or_path")
    if not base:
        raise SweepError(f"{run_dir}/train.yaml names no model_name_or_path (the base model)")
    template = config.get("template")
    try:
        out = [Point(BASE, 0, replace(resolve(BASE, str(base)), template=template))]
        for checkpoint in checkpoints(run_dir):
            step = checkpoint_step(checkpoint.name)
            # A checkpoint folder has no train.yaml: it is trained with the run's template.
            out.append(Point(f"step-{step}", step, replace(resolve(f"step-{step}", str(checkpoint)),
                                                            template=template)))
        last = final_step(run_dir)
        out.append(Point(FINAL, last if last is not None else (out[-1].step + 1), resolve(FINAL, str(run_dir))))
    except ModelSpecError as exc:
        raise SweepError(str(exc)) from exc
    return out


def _headlines(results: Results, dataset: str, label: str) -> dict:
    entry = results[label].get(dataset) or {}
    name = headline_of(entry.get("task", ""))
    return {"metric": name, "value": (entry.get("metrics") or {}).get(name), "ci": (entry.get("ci") or {}).get(name)}


def best_point(results: Results, sweep: list[Point], datasets: list[str]) -> Point:
    """The trained point (not the base) with the highest mean headline over ``datasets``; ties: earlier step."""
    def mean(point: Point) -> float:
        values = [_headlines(results, d, point.label)["value"] for d in datasets]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else float("-inf")

    trained = [p for p in sweep if p.label != BASE]
    return max(trained, key=lambda p: (mean(p), -p.step))


def _score_columns(path: Path) -> dict[str, list[float]]:
    """The per-record score columns of a ``scores/`` file (everything numeric but the index)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = [k for k, v in rows[0].items() if k != "index" and isinstance(v, int | float) and not isinstance(v, bool)]
    return {name: [float(row[name]) for row in rows] for name in names} if rows else {}


def paired_delta(out_dir: Path, dataset: str, task: str, better: str, than: str, resamples: int, seed: int,
                 level: float) -> dict:
    """``better − than`` on ``dataset``'s headline with a paired-bootstrap CI, from the saved scores."""
    from eval.pipeline import scores_path

    columns = {than: _score_columns(scores_path(out_dir, than, dataset)),
               better: _score_columns(scores_path(out_dir, better, dataset))}
    summary = summarise_with_ci(columns, get_task(task).summarise, resamples=resamples, seed=seed, level=level)
    return round_floats(summary[better][get_task(task).headline]["delta"])


def summarise(results: Results, sweep: list[Point], datasets: list[str], out_dir: Path, run_dir: Path,
              resamples: int = DEFAULT_RESAMPLES, seed: int = 42, level: float = DEFAULT_LEVEL) -> dict:
    """sweep.json's content: points with headlines, the best point, its paired Δ against the final model."""
    best = best_point(results, sweep, datasets)
    versus = {}
    for dataset in datasets:
        task = results[FINAL][dataset]["task"]
        versus[dataset] = paired_delta(out_dir, dataset, task, best.label, FINAL, resamples, seed, level) \
            if best.label != FINAL else {"value": 0.0, "ci": [0.0, 0.0], "significant": False}
    return {
        "run": str(run_dir), "datasets": datasets,
        "points": [{"label": p.label, "step": p.step, "model": p.spec.model, "adapter": p.spec.adapter,
                    "headline": {d: _headlines(results, d, p.label) for d in datasets}} for p in sweep],
        "best": {"label": best.label, "step": best.step},
        "best_vs_final": versus,
        "loss": {k: [list(v) for v in curve] for k, curve in loss_curves(run_dir).items()},
        "bootstrap": {"resamples": resamples, "level": level, "seed": seed},
    }


def markdown(summary: dict) -> str:
    """sweep.md: a row per point (step, headline [CI] per set), the best point and its Δ against final."""
    datasets = summary["datasets"]
    best = summary["best"]["label"]
    header = ["point", "step", *[f"{d} ({summary['points'][0]['headline'][d]['metric']})" for d in datasets]]
    trained = [p for p in summary["points"] if p["label"] != BASE]
    tie = len({tuple(p["headline"][d]["value"] for d in datasets) for p in trained}) == 1
    lines = [f"# Checkpoint sweep of `{summary['run']}`", "",
             f"Best: **{best}** (step {summary['best']['step']}), the highest mean headline over the sets"
             + (" (every trained point scores the same: the earliest is named)." if tie else "."), "",
             "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for point in summary["points"]:
        mark = " ★" if point["label"] == best else ""
        cells = [format_value(point["headline"][d]["value"], point["headline"][d]["ci"]) for d in datasets]
        lines.append(f"| {point['label']}{mark} | {point['step']} | " + " | ".join(cells) + " |")
    lines += ["", f"Paired Δ {best} − final (`*`: the CI excludes 0):", ""]
    lines += [f"- {d}: {format_delta(summary['best_vs_final'][d])}" for d in datasets]
    return "\n".join(lines) + "\n"


def chart_png(summary: dict) -> bytes:
    """Left: headline vs step with CI bands, the best point starred. Right: training / validation loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    best = summary["best"]["label"]
    for dataset in summary["datasets"]:
        rows = [(p["step"], p["headline"][dataset], p["label"]) for p in summary["points"]
                if p["headline"][dataset]["value"] is not None]
        steps = [s for s, _, _ in rows]
        values = [h["value"] for _, h, _ in rows]
        line, = left.plot(steps, values, "o-", label=f"{dataset} ({rows[0][1]['metric']})" if rows else dataset)
        if all(h["ci"] for _, h, _ in rows):
            left.fill_between(steps, [h["ci"][0] for _, h, _ in rows], [h["ci"][1] for _, h, _ in rows],
                              color=line.get_color(), alpha=0.15)
        for step, headline, label in rows:
            if label == best:
                left.plot([step], [headline["value"]], "*", color="black", markersize=13, zorder=5)
    from matplotlib.ticker import MaxNLocator

    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("step (0 = base model)")
    left.set_ylabel("headline metric (CI band)")
    left.set_title(f"metric vs step · best: {best} (★)", fontsize=9)
    left.legend(fontsize=7)
    loss = summary.get("loss") or {}
    for key, style, name in (("loss", "-", "training loss"), ("eval_loss", "o-", "validation loss")):
        if loss.get(key):
            right.plot([s for s, _ in loss[key]], [v for _, v in loss[key]], style, label=name)
    right.set_xlabel("step")
    right.set_ylabel("loss")
    right.set_title("loss" + ("" if loss.get("eval_loss") else " (no validation split: VAL_SIZE=)"), fontsize=9)
    if loss:
        right.legend(fontsize=7)
    return png_bytes(fig)


def write(summary: dict, out_dir: Path) -> list[Path]:
    """Write sweep.json, sweep.md and sweep.png into ``out_dir`` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "sweep.json", summary)
    atomic_write_text(out_dir / "sweep.md", markdown(summary))
    atomic_write_bytes(out_dir / "sweep.png", chart_png(summary))
    return [out_dir / f"sweep.{ext}" for ext in ("json", "md", "png")]


def sweep(run_dir: Path, datasets: list[str], dataset_dir: Path, out_dir: Path, **evaluate_options) -> dict:
    """Evaluate every point of ``run_dir`` on ``datasets``, write the reports and the sweep; return sweep.json."""
    from eval.heldout import dataset_name
    from eval.pipeline import evaluate

    sweep_points = points(run_dir)
    results = evaluate([p.spec if p.spec.label == p.label else replace(p.spec, label=p.label) for p in sweep_points],
                       datasets, dataset_dir, out_dir, **evaluate_options)
    settings = evaluate_options.get("settings")
    summary = summarise(results, sweep_points, [dataset_name(d) for d in datasets], out_dir, run_dir,
                        resamples=evaluate_options.get("bootstrap", DEFAULT_RESAMPLES),
                        seed=settings.seed if settings else 42,
                        level=evaluate_options.get("ci_level", DEFAULT_LEVEL))
    write(summary, out_dir)
    from eval import report_html  # the page gains the sweep's chart and verdict

    report_html.write(out_dir)
    return summary
