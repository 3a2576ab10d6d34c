"""Paired bootstrap CIs: medft's one-matrix-product resampling vs a loop over resamples.

Two models × 1,000 records × every mrg metric (16 per-record columns → 17 metrics, derived ones
included), 1,000 resamples. The loop draws each resample's indices and recomputes the totals column
by column, as a straightforward implementation would; medft (``eval.bootstrap.summarise_with_ci``)
turns all resamples into one (resamples × records)·(records × columns) product. Both use the same
seeded draws and must give the same intervals.
"""

from __future__ import annotations

import time

import numpy as np
from rich.table import Table

from bench.common import machine_line, save_results
from medft.console import console


def synthetic_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """Per-record mrg columns with realistic ranges."""
    from bridge.mrg import REPORT_SECTIONS

    rng = np.random.default_rng(seed)
    columns = {"parsed": (rng.random(n) < 0.9).astype(float)}
    for name in ("rouge1", "rouge2", "rougeL"):
        columns[name] = rng.random(n) * columns["parsed"]
    for section in REPORT_SECTIONS:
        columns[f"{section}_exact"] = (rng.random(n) < 0.3).astype(float)
        columns[f"{section}_rougeL"] = rng.random(n)
    return columns


def loop_bootstrap(columns_by_model, summarise, resamples: int, seed: int, level: float) -> dict:
    """The naive approach: one resample at a time, totals recomputed per column and model."""
    from eval.bootstrap import percentile_interval, resample_counts

    n = len(next(iter(next(iter(columns_by_model.values())).values())))
    counts = resample_counts(n, resamples, seed)
    samples: dict[str, dict[str, list[float]]] = {m: {} for m in columns_by_model}
    for b in range(resamples):
        index = np.repeat(np.arange(n), counts[b])
        for model, columns in columns_by_model.items():
            sums = {name: np.asarray(values[index].sum()) for name, values in columns.items()}
            for metric, value in summarise(sums, np.asarray(float(n))).items():
                samples[model].setdefault(metric, []).append(float(value))
    return {model: {metric: percentile_interval(np.array(values), level) for metric, values in metrics.items()}
            for model, metrics in samples.items()}


def main(quick: bool = False) -> dict:
    """Time both on the same columns and draws; print and save the comparison."""
    from eval.bootstrap import summarise_with_ci
    from eval.tasks.mrg import TASK

    n, resamples = (200, 200) if quick else (1000, 1000)
    columns = {"base": synthetic_columns(n, 0), "tuned": synthetic_columns(n, 1)}
    summarise_with_ci(columns, TASK.summarise, resamples=10, seed=0)  # warm numpy's code paths for both sides
    start = time.perf_counter()
    fast = summarise_with_ci(columns, TASK.summarise, resamples=resamples, seed=0)
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    slow = loop_bootstrap(columns, TASK.summarise, resamples, 0, 0.95)
    slow_s = time.perf_counter() - start
    for model in columns:
        for metric, entry in fast[model].items():
            assert np.allclose(entry["ci"], slow[model][metric]), (model, metric)
    metrics = len(fast["base"])
    table = Table(title=f"paired bootstrap: 2 models × {n} records × {metrics} metrics × {resamples} resamples")
    for column in ("approach", "seconds", "speed-up"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    table.add_row("loop over resamples", f"{slow_s:.2f}", "1×")
    table.add_row("medft (one matrix product)", f"{fast_s:.3f}", f"{slow_s / fast_s:.0f}×")
    console.print(table)
    result = {"machine": machine_line(), "records": n, "resamples": resamples, "metrics": metrics,
              "loop_seconds": round(slow_s, 3), "medft_seconds": round(fast_s, 3),
              "speedup": round(slow_s / fast_s, 1), "quick": quick}
    save_results("bootstrap", result)
    return result
