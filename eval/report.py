"""Stage 3 of eval: rich tables and saved reports (json, csv, md, png) from the scores."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.table import Table

from eval.scorers import HEADLINE
from medft.io import atomic_write_bytes, atomic_write_json, atomic_write_text

#: results[model][dataset] = {"task": str, "n": int, "metrics": {name: value}}
Results = dict[str, dict[str, dict]]


def _datasets(results: Results) -> list[str]:
    seen: dict[str, None] = {}
    for per_dataset in results.values():
        seen.update(dict.fromkeys(per_dataset))
    return list(seen)


def _metric_names(results: Results, dataset: str) -> list[str]:
    names: dict[str, None] = {}
    for per_dataset in results.values():
        if dataset in per_dataset:
            names.update(dict.fromkeys(per_dataset[dataset]["metrics"]))
    task = next(r[dataset]["task"] for r in results.values() if dataset in r)
    headline = HEADLINE.get(task)
    # The headline metric first, the rest in the order the scorer produced them.
    return sorted(names, key=lambda name: name != headline)


def tables(results: Results) -> list[Table]:
    """One rich table per dataset: metrics as rows, models as columns, Δ against the first model."""
    models = list(results)
    out = []
    for dataset in _datasets(results):
        task = next(r[dataset]["task"] for r in results.values() if dataset in r)
        sizes = {results[m][dataset]["n"] for m in models if dataset in results[m]}
        table = Table(title=f"{dataset} ({task}, n={'/'.join(map(str, sorted(sizes)))})", title_justify="left")
        table.add_column("metric")
        for model in models:
            table.add_column(model, justify="right")
        if len(models) > 1:
            table.add_column(f"Δ {models[-1]} − {models[0]}", justify="right")
        for name in _metric_names(results, dataset):
            values = [results[m].get(dataset, {}).get("metrics", {}).get(name) for m in models]
            row = [name] + [f"{v:.4f}" if v is not None else "—" for v in values]
            if len(models) > 1:
                first, last = values[0], values[-1]
                delta = "—" if first is None or last is None else f"{last - first:+.4f}"
                row.append(f"[green]{delta}[/]" if delta.startswith("+") and delta != "+0.0000" else delta)
            table.add_row(*row, style="bold" if name == HEADLINE.get(task) else None)
        out.append(table)
    return out


def _rows(results: Results) -> list[dict]:
    return [
        {"model": model, "dataset": dataset, "task": entry["task"], "n": entry["n"], "metric": name, "value": value}
        for model, per_dataset in results.items()
        for dataset, entry in per_dataset.items()
        for name, value in entry["metrics"].items()
    ]


def markdown(results: Results, title: str = "medft evaluation") -> str:
    """The report as Markdown: one table per dataset, models as columns."""
    models = list(results)
    lines = [f"# {title}", ""]
    for dataset in _datasets(results):
        task = next(r[dataset]["task"] for r in results.values() if dataset in r)
        lines += [f"## {dataset} ({task})", "", "| metric | " + " | ".join(models) + " |",
                  "| --- |" + " ---: |" * len(models)]
        for name in _metric_names(results, dataset):
            cells = [results[m].get(dataset, {}).get("metrics", {}).get(name) for m in models]
            lines.append(f"| {name} | " + " | ".join("—" if c is None else f"{c:.4f}" for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def bar_chart_png(results: Results) -> bytes:
    """A grouped bar chart of each dataset's headline metric per model, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets, models = _datasets(results), list(results)
    fig, ax = plt.subplots(figsize=(max(4, 1.8 * len(datasets) + 1), 3.2), dpi=100)
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        values = []
        for dataset in datasets:
            entry = results[model].get(dataset)
            values.append(entry["metrics"].get(HEADLINE.get(entry["task"]), 0.0) if entry else 0.0)
        ax.bar([d + i * width for d in range(len(datasets))], values, width, label=model)
    labels = [f"{d}\n{HEADLINE.get(next(r[d]['task'] for r in results.values() if d in r))}" for d in datasets]
    ax.set_xticks([d + width * (len(models) - 1) / 2 for d in range(len(datasets))], labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    # No timestamp metadata: the same scores give a byte-identical PNG.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def write_reports(results: Results, out_dir: Path, meta: dict) -> list[Path]:
    """Write report.json, report.csv, report.md and report.png into ``out_dir`` (each atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "report.json", {**meta, "results": results})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["model", "dataset", "task", "n", "metric", "value"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(_rows(results))
    atomic_write_text(out_dir / "report.csv", buffer.getvalue())
    atomic_write_text(out_dir / "report.md", markdown(results))
    atomic_write_bytes(out_dir / "report.png", bar_chart_png(results))
    return [out_dir / f"report.{ext}" for ext in ("json", "csv", "md", "png")]
