"""predict → score → report for several models on several held-out sets.

Stage 1 generates (or reuses) every model's predictions, stage 2 scores each record, stage 3 turns
the per-record columns of all models into metrics with paired-bootstrap CIs and writes the reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval import fewshot, loglik
from eval.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, summarise_with_ci
from eval.flags import count_flags, record_flags
from eval.formatting import DIGITS, round_floats
from eval.heldout import SAMPLE, dataset_name, load_records, question_of, task_of
from eval.models import ModelSpec
from eval.predict import GenerationSettings, finish_reasons_of, generate
from eval.report import Results, write_reports
from eval.score import score_records
from eval.tasks import get_task, mcq
from eval.tasks.base import Columns, columns_of
from medft.console import console
from medft.io import atomic_write_jsonl

DEFAULT_TEMPLATE = "qwen"


def predictions_path(out_dir: Path, label: str, dataset: str) -> Path:
    """Where stage 1 appends the predictions of one model on one dataset."""
    return out_dir / "predictions" / label / f"{dataset}.jsonl"


def scores_path(out_dir: Path, label: str, dataset: str) -> Path:
    """Where stage 2 writes the per-record scores of one model on one dataset."""
    return out_dir / "scores" / label / f"{dataset}.jsonl"


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
    bootstrap: int = DEFAULT_RESAMPLES,
    ci_level: float = DEFAULT_LEVEL,
    mode: str = "generate",
    shots: int = 0,
    concurrency: int = 8,
    request_timeout: float | None = None,
    limit_mode: str = SAMPLE,
) -> Results:
    """Run every model on every dataset; write predictions, per-record scores and the reports.

    ``template`` overrides the one each run directory recorded (default ``qwen``).
    ``settings.max_new_tokens`` of 0 (the default) means "per task" (``Task.max_new_tokens``).
    Predictions are reused across calls (see ``eval.predict``), so rerunning after an
    interruption, or adding a model, only generates what is missing. ``bootstrap`` resamples (0: none)
    give each metric a ``ci_level`` interval and each model's Δ to the first model a paired one.
    Exam sets (task ``mcq``) take ``shots`` examples from their dev pool (``eval.fewshot``) and are
    answered by generation or, with ``mode="loglik"``, by the most likely option letter (``eval.loglik``).
    A model with an ``endpoint`` is predicted through its server, ``concurrency`` requests in flight, each
    given ``request_timeout`` seconds (default ``eval.remote.DEFAULT_TIMEOUT``). One eval at a time writes a
    model's predictions on a dataset in ``out_dir`` (a lock per file): a second one waits, then reuses them.
    ``limit`` records per set are a seeded sample stratified by subject / category (``limit_mode="sample"``,
    seeded by ``settings.seed``: the same records for every model and every rerun) or the first ones
    (``"first"``).
    """
    from eval import remote

    settings = settings or GenerationSettings(max_new_tokens=0)
    models = [remote.with_served_name(spec) for spec in models]  # fail fast if a server is down
    loaded = {dataset_name(d): (task_of(d), load_records(dataset_dir, d, limit, limit_mode, settings.seed))
              for d in datasets}
    loaded = {name: (task, fewshot.add_shots(dataset_dir, name, records, shots) if task == "mcq" else records)
              for name, (task, records) in loaded.items()}
    predictions = _predict_all(models, loaded, out_dir, template, settings, batch_size, device, mode, concurrency,
                               request_timeout or remote.DEFAULT_TIMEOUT)
    if predict_only:
        return {}
    results = score_all([spec.label for spec in models], loaded, predictions, out_dir, bert_model, bootstrap,
                        settings.seed, ci_level)
    meta = {
        "models": {s.label: {"model": s.model, "adapter": s.adapter,
                             "template": template or s.template or DEFAULT_TEMPLATE,
                             **({"endpoint": s.endpoint, "template": "the server's"} if s.endpoint else {})}
                   for s in models},
        "dataset_dir": str(dataset_dir), "datasets": list(loaded), "bert_model": bert_model, "limit": limit,
        "limit_mode": limit_mode, "sample_seed": settings.seed,
        # The budget each set was generated with (0 in the settings means "the task's own").
        "generation": {**settings.__dict__, "max_new_tokens": {
            name: settings.max_new_tokens or get_task(task).max_new_tokens for name, (task, _) in loaded.items()}},
        "bootstrap": {"resamples": bootstrap, "level": ci_level, "seed": settings.seed, "paired": True},
        "mcq": {"mode": mode, "shots": shots},
    }
    from eval import contamination  # held-out sets the saved bridge audit found in a run's training data

    found = contamination.notes(Path(dataset_dir), list(loaded), {s.label: list(s.trained_on) for s in models})
    if found:
        meta["contamination"] = found
    write_reports(results, out_dir, meta)
    return results


def score_all(labels: list[str], loaded: dict[str, tuple[str, list[dict]]],
              predictions: dict[str, dict[str, list[str]]], out_dir: Path, bert_model: str | None = None,
              bootstrap: int = DEFAULT_RESAMPLES, seed: int = 42, ci_level: float = DEFAULT_LEVEL) -> Results:
    """Stages 2 and 3 up to the numbers: score every record, write ``scores/``, count the flags and summarise
    each model on each set with paired-bootstrap CIs (Δ against ``labels[0]``)."""
    results: Results = {label: {} for label in labels}
    for dataset, (task, records) in loaded.items():
        per_model: dict[str, Columns] = {}
        flags: dict[str, dict] = {}
        for label in labels:
            texts = predictions[label][dataset]
            per_model[label] = score_records(task, texts, records, bert_model)
            reasons = finish_reasons_of(texts)
            flags[label] = count_flags(texts, reasons, per_model[label])
            _write_scores(scores_path(out_dir, label, dataset), texts, reasons, records, per_model[label])
        summary = summarise_with_ci({label: columns_of(cols) for label, cols in per_model.items()},
                                    get_task(task).summarise, resamples=bootstrap, seed=seed, level=ci_level)
        chance = {"chance": round(mcq.chance_of(records), DIGITS)} if task == "mcq" and mcq.chance_of(records) else {}
        for label, metrics in summary.items():
            results[label][dataset] = {**_result_entry(task, len(records), metrics), "flags": flags[label], **chance}
    return results


def _predict_all(models, loaded, out_dir, template, settings, batch_size, device,
                 mode: str = "generate", concurrency: int = 8,
                 request_timeout: float = 300.0) -> dict[str, dict[str, list[str]]]:
    from eval import remote

    predictions: dict[str, dict[str, list[str]]] = {spec.label: {} for spec in models}
    total = sum(len(records) for _, records in loaded.values()) * len(models)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task("predicting", total=total)
        for spec in models:
            for dataset, (task, records) in loaded.items():
                where = f"{spec.label} · {dataset}"
                progress.update(bar, description=where)
                task_settings = settings if settings.max_new_tokens else replace(
                    settings, max_new_tokens=get_task(task).max_new_tokens)
                before = progress.tasks[0].completed
                path = predictions_path(out_dir, spec.label, dataset)
                predict = loglik.choose if mode == loglik.MODE and task == "mcq" else generate
                waiting = f"{where} · waiting for another eval writing {path}"
                with predictions_lock(path, lambda text=waiting: progress.update(bar, description=text)):
                    progress.update(bar, description=where)
                    if spec.endpoint:
                        if predict is not generate:
                            raise remote.RemoteError(f"{spec.label}: --mode loglik reads option likelihoods from "
                                                     "the weights in-process; a server model answers with "
                                                     "--mode generate")

                        def status(in_flight, retried, done, where=where):
                            progress.update(bar, description=f"{where} · {in_flight} in flight · {retried} retried")

                        predictions[spec.label][dataset] = remote.generate(
                            spec, records, path, task_settings, concurrency,
                            on_batch=lambda n: progress.advance(bar, n), timeout=request_timeout, on_status=status)
                    else:
                        predictions[spec.label][dataset] = predict(
                            spec, records, path, template or spec.template or DEFAULT_TEMPLATE, task_settings,
                            batch_size=batch_size, device=device, on_batch=lambda n: progress.advance(bar, n),
                        )
                progress.update(bar, completed=before + len(records))
    return predictions


@contextmanager
def predictions_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock of one predictions file (``<file>.lock``) while predicting into it.

    Two evals on one OUT would otherwise both send every request. The second waits (``on_wait`` is called
    once when it starts waiting) and then finds the first one's predictions cached.
    """
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _write_scores(path: Path, predictions: list[str], reasons: list[str | None], records: list[dict],
                  columns: Columns) -> None:
    """One line per record: its index in the evaluated list, the question, prediction, reference, why generation
    stopped, its flags and every score column (the HTML report reads these, so OUT needs no dataset_dir)."""
    def line(i: int, prediction: str, reason: str | None, record: dict, row: dict) -> dict:
        extra = {key: record[key] for key in ("subject", "category") if record.get(key) is not None}
        return {"index": i, "prediction": prediction, "reference": record["output"], "prompt": question_of(record),
                **extra, "finish_reason": reason, "flags": record_flags(prediction, reason, row),
                **{k: round(v, DIGITS) for k, v in row.items()}}

    atomic_write_jsonl(path, (line(i, *parts) for i, parts in
                              enumerate(zip(predictions, reasons, records, columns, strict=True))))


def _result_entry(task: str, n: int, metrics: dict[str, dict]) -> dict:
    """``{"task", "n", "metrics": {m: value}, "ci": {m: [lo, hi]}, "delta": {m: {value, ci, significant}}}``."""
    entry = {"task": task, "n": n,
             "metrics": {m: round_floats(e["value"]) for m, e in metrics.items()},
             "ci": {m: round_floats(e["ci"]) for m, e in metrics.items()}}
    deltas = {m: round_floats(e["delta"]) for m, e in metrics.items() if "delta" in e}
    if deltas:
        entry["delta"] = deltas
    return entry


def load_results(out_dir: Path) -> Results:
    """The results saved in ``<out_dir>/report.json`` by an earlier run."""
    return json.loads((out_dir / "report.json").read_text(encoding="utf-8"))["results"]
