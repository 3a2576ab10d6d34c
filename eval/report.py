"""Stage 3 of eval: rich tables and saved reports (json, csv, md, png), every number with its CI.

A cell reads ``0.412 [0.371, 0.455]``: the metric on the held-out set and its paired-bootstrap
interval. A Δ column per model after the first reads ``+0.043 [+0.010, +0.080] *`` where ``*`` marks a
difference whose interval excludes 0 (significant at the report's level); without ``*`` the
difference may be noise.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.table import Table

from eval.flags import format_flags
from eval.flags import warnings as flag_warnings
from eval.formatting import SIGNIFICANT, format_delta, format_value
from eval.tasks import TASKS
from medft.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from medft.plotting import png_bytes

#: results[model][dataset] = {"task", "n", "metrics": {name: value}, "ci": {name: [lo, hi]},
#:                            "delta": {name: {"value", "ci", "significant"}},  (delta: models after the first)
#:                            "flags": {"empty": k, "truncated": k, ...}}  (eval.flags)
Results = dict[str, dict[str, dict]]


def headline_of(task: str) -> str | None:
    """The metric a task's table leads with (None for a task this version does not know)."""
    return TASKS[task].headline if task in TASKS else None


def datasets_of(results: Results) -> list[str]:
    """Every dataset in the results, in first-seen order."""
    seen: dict[str, None] = {}
    for per_dataset in results.values():
        seen.update(dict.fromkeys(per_dataset))
    return list(seen)


def task_of(results: Results, dataset: str) -> str:
    """The task a dataset was scored as."""
    return next(r[dataset]["task"] for r in results.values() if dataset in r)


def metric_names(results: Results, dataset: str) -> list[str]:
    """The dataset's metrics: the task's headline first, the rest in the order the task produced them."""
    names: dict[str, None] = {}
    for per_dataset in results.values():
        if dataset in per_dataset:
            names.update(dict.fromkeys(per_dataset[dataset]["metrics"]))
    headline = headline_of(task_of(results, dataset))
    return sorted(names, key=lambda name: name != headline)


def _entry(results: Results, model: str, dataset: str) -> dict:
    return results[model].get(dataset, {})


def _cells(results: Results, model: str, dataset: str, metric: str) -> tuple[float | None, list | None, dict | None]:
    entry = _entry(results, model, dataset)
    return (entry.get("metrics", {}).get(metric), (entry.get("ci") or {}).get(metric),
            (entry.get("delta") or {}).get(metric))


def _title(results: Results, dataset: str) -> str:
    sizes = {results[m][dataset]["n"] for m in results if dataset in results[m]}
    return f"{dataset} ({task_of(results, dataset)}, n={'/'.join(map(str, sorted(sizes)))})"


def tables(results: Results) -> list[Table]:
    """One rich table per dataset: metrics as rows, models as columns, then Δ to the first model."""
    models = list(results)
    out = []
    for dataset in datasets_of(results):
        table = Table(title=_title(results, dataset), title_justify="left")
        table.add_column("metric")
        for model in models:
            table.add_column(model, justify="right")
        for model in models[1:]:
            table.add_column(f"Δ {model} − {models[0]}", justify="right")
        headline = headline_of(task_of(results, dataset))
        for name in metric_names(results, dataset):
            row = [name]
            for model in models:
                value, ci, _ = _cells(results, model, dataset, name)
                row.append(format_value(value, ci))
            for model in models[1:]:
                _, _, delta = _cells(results, model, dataset, name)
                text = format_delta(delta)
                if delta and delta.get("significant"):
                    text = f"[{'green' if delta['value'] > 0 else 'red'}]{text}[/]"
                row.append(text)
            table.add_row(*row, style="bold" if name == headline else None)
        if any("flags" in _entry(results, m, dataset) for m in models):
            table.add_row("flags", *[_flags_cell(results, m, dataset) for m in models], *[""] * (len(models) - 1),
                          style="dim")
        out.append(table)
    return out


def _flags_cell(results: Results, model: str, dataset: str) -> str:
    entry = _entry(results, model, dataset)
    return format_flags(entry.get("flags"), entry.get("n") or 0)


CSV_FIELDS = ["model", "dataset", "task", "n", "metric", "value", "ci_low", "ci_high",
              "delta", "delta_ci_low", "delta_ci_high", "significant"]


def _rows(results: Results) -> list[dict]:
    rows = []
    for model, per_dataset in results.items():
        for dataset, entry in per_dataset.items():
            for name, value in entry["metrics"].items():
                ci = (entry.get("ci") or {}).get(name) or [None, None]
                delta = (entry.get("delta") or {}).get(name) or {}
                delta_ci = delta.get("ci") or [None, None]
                rows.append({"model": model, "dataset": dataset, "task": entry["task"], "n": entry["n"],
                             "metric": name, "value": value, "ci_low": ci[0], "ci_high": ci[1],
                             "delta": delta.get("value"), "delta_ci_low": delta_ci[0], "delta_ci_high": delta_ci[1],
                             "significant": delta.get("significant", "")})
    return rows


def markdown(results: Results, title: str = "medft evaluation", level: float | None = None) -> str:
    """The report as Markdown: one table per dataset, models as columns, then Δ to the first model."""
    models = list(results)
    note = (f"Cells: value [{round((level or 0.95) * 100)} % paired-bootstrap CI]; Δ = model − {models[0]}, "
            f"`{SIGNIFICANT}` where its CI excludes 0.") if models else ""
    lines = [f"# {title}", "", note, ""]
    alerts = flag_warnings(results)
    if alerts:
        lines += [f"> **{line}**" for line in alerts] + [""]
    for dataset in datasets_of(results):
        header = ["metric", *models, *[f"Δ {m} − {models[0]}" for m in models[1:]]]
        lines += [f"## {_title(results, dataset)}", "", "| " + " | ".join(header) + " |",
                  "| --- |" + " ---: |" * (len(header) - 1)]
        for name in metric_names(results, dataset):
            cells = [format_value(*_cells(results, m, dataset, name)[:2]) for m in models]
            cells += [format_delta(_cells(results, m, dataset, name)[2]) for m in models[1:]]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if any("flags" in _entry(results, m, dataset) for m in models):
            lines.append("| flags | " + " | ".join([_flags_cell(results, m, dataset) for m in models]
                                                    + [""] * (len(models) - 1)) + " |")
        lines.append("")
    return "\n".join(lines)


def bar_chart_png(results: Results) -> bytes:
    """Grouped bars of each dataset's headline metric per model, values printed, CI error bars, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets, models = datasets_of(results), list(results)
    fig, ax = plt.subplots(figsize=(max(4, 1.8 * len(datasets) + 1), 3.4), dpi=100)
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        values, low_err, high_err, labels = [], [], [], []
        for dataset in datasets:
            headline = headline_of(task_of(results, dataset))
            value, ci, _ = _cells(results, model, dataset, headline) if headline else (None, None, None)
            labels.append("—" if value is None else f"{value:.3f}")  # a missing value is not a 0
            value = value or 0.0
            values.append(value)
            low_err.append(max(value - ci[0], 0.0) if ci else 0.0)
            high_err.append(max(ci[1] - value, 0.0) if ci else 0.0)
        bars = ax.bar([d + i * width for d in range(len(datasets))], values, width, label=model,
                      yerr=[low_err, high_err], capsize=3, error_kw={"linewidth": 0.8})
        ax.bar_label(bars, labels=labels, fontsize=6, padding=2)
    labels = [f"{d}\n{headline_of(task_of(results, d))}" for d in datasets]
    ax.set_xticks([d + width * (len(models) - 1) / 2 for d in range(len(datasets))], labels, fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (95 % CI)")
    ax.legend(fontsize=8)
    return png_bytes(fig)


def write_reports(results: Results, out_dir: Path, meta: dict) -> list[Path]:
    """Write report.json, report.csv, report.md, report.png and report.html into ``out_dir`` (each atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "report.json", {**meta, "results": results})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_rows(results))
    atomic_write_text(out_dir / "report.csv", buffer.getvalue())
    level = (meta.get("bootstrap") or {}).get("level")
    from eval.contamination import markdown as contamination_md

    contamination = contamination_md(meta.get("contamination"))  # held-out sets found in a run's training data
    atomic_write_text(out_dir / "report.md", markdown(results, level=level) + contamination)
    atomic_write_bytes(out_dir / "report.png", bar_chart_png(results))
    from eval import breakdown  # exam sets: per-category table and grouped-bar PNG beside the report

    written = [out_dir / f"report.{ext}" for ext in ("json", "csv", "md", "png")]
    written += breakdown.write(results, out_dir, level)
    from eval import report_html  # last: the page inlines the charts written above

    return [*written, report_html.write(out_dir)]
