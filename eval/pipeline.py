"""predict → score → report for several models on several held-out sets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval.heldout import dataset_name, load_records, task_of
from eval.models import ModelSpec
from eval.predict import DEFAULT_MAX_NEW_TOKENS, GenerationSettings, generate
from eval.report import Results, write_reports
from eval.score import score_task
from medft.console import console
from medft.io import atomic_write_jsonl

DEFAULT_TEMPLATE = "qwen"


def predictions_path(out_dir: Path, label: str, dataset: str) -> Path:
    """Where stage 1 appends the predictions of one model on one dataset."""
    return out_dir / "predictions" / label / f"{dataset}.jsonl"


def evaluate(
    models: list[ModelSpec],
    datasets: list[str],
    dataset_dir: Path,
    out_dir: Path,
    template: str | None = None,
    bert_model: str | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    settings: GenerationSettings | None = None,
    device: str | None = None,
    predict_only: bool = False,
    concurrency: int = 8,
) -> Results:
    """Run every model on every dataset; write predictions, per-example scores and the reports.

    ``template`` overrides the one each run directory recorded (default ``qwen``).
    ``settings.max_new_tokens`` of 0 (the default) means "per task" (``DEFAULT_MAX_NEW_TOKENS``).
    Predictions are reused across calls (see ``eval.predict``), so rerunning after an
    interruption, or adding a model, only generates what is missing. A model with an ``endpoint`` is
    predicted through its server with ``concurrency`` requests in flight (``eval.remote``).
    """
    from eval import remote

    settings = settings or GenerationSettings(max_new_tokens=0)
    models = [remote.with_served_name(spec) for spec in models]  # fail fast if a server is down
    loaded = {dataset_name(d): (task_of(d), load_records(dataset_dir, d, limit)) for d in datasets}
    results: Results = {spec.label: {} for spec in models}
    total = sum(len(records) for _, records in loaded.values()) * len(models)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task("predicting", total=total)

        def advance(n: int) -> None:
            progress.advance(bar, n)

        for spec in models:
            for dataset, (task, records) in loaded.items():
                progress.update(bar, description=f"{spec.label} · {dataset}")
                task_settings = settings if settings.max_new_tokens else replace(
                    settings, max_new_tokens=DEFAULT_MAX_NEW_TOKENS[task])
                before = progress.tasks[0].completed
                path = predictions_path(out_dir, spec.label, dataset)
                if spec.endpoint:
                    predictions = remote.generate(spec, records, path, task_settings, concurrency, on_batch=advance)
                else:
                    predictions = generate(spec, records, path, template or spec.template or DEFAULT_TEMPLATE,
                                           task_settings, batch_size=batch_size, device=device, on_batch=advance)
                progress.update(bar, completed=before + len(records))
                if predict_only:
                    continue
                per_example, summary = score_task(task, predictions, records, bert_model)
                atomic_write_jsonl(
                    out_dir / "scores" / spec.label / f"{dataset}.jsonl",
                    ({"index": i, "prediction": p, "reference": r["output"], **m}
                     for i, (p, r, m) in enumerate(zip(predictions, records, per_example, strict=True))),
                )
                results[spec.label][dataset] = {"task": task, "n": len(records), "metrics": summary}
    if not predict_only:
        meta = {
            "models": {s.label: {"model": s.model, "adapter": s.adapter,
                                 "template": template or s.template or DEFAULT_TEMPLATE,
                                 **({"endpoint": s.endpoint, "template": "the server's"} if s.endpoint else {})}
                       for s in models},
            "dataset_dir": str(dataset_dir),
            "datasets": list(loaded), "bert_model": bert_model, "limit": limit,
            "generation": {k: v for k, v in settings.__dict__.items()},
        }
        write_reports(results, out_dir, meta)
    return results


def load_results(out_dir: Path) -> Results:
    """The results saved in ``<out_dir>/report.json`` by an earlier run."""
    return json.loads((out_dir / "report.json").read_text(encoding="utf-8"))["results"]
