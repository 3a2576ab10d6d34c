"""Command line for eval (``python -m eval``, ``medft eval``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from medft.console import console, print_wide
from medft.paths import dataset_dir as default_dataset_dir

DEFAULT_DATASETS = ("med_norm_test", "med_mrg_test")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def eval_group() -> None:
    """Predict with base and fine-tuned models on held-out sets, score and report."""


def _specs(models: tuple[str, ...]):
    from eval.models import resolve

    specs = []
    for item in models:
        label, sep, location = item.partition("=")
        if not sep:  # a bare path is labelled by its folder name; one like `..` needs an explicit LABEL=
            label, location = Path(item).name or item, item
        specs.append(resolve(label, location))
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise click.BadParameter(f"model labels must be unique, got {labels}", param_hint="--model")
    return specs


@eval_group.command("run")
@click.option("--model", "models", multiple=True, required=True, metavar="LABEL=PATH",
              help="Model to evaluate (repeatable): a model dir, an adapter dir, a run dir (runs/<name>) or a "
                   "server URL http://host:port/v1[#served-name].")
@click.option("--dataset", "datasets", multiple=True, default=DEFAULT_DATASETS, show_default=True,
              help="Registered held-out dataset, NAME or NAME:TASK (norm, mrg, dialog, o1, mcq); repeatable. "
                   "Exams: med_cmb_test, med_cmexam_test, med_cmmlu_test.")
@click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="LLaMA-Factory dataset_dir [default: dataset_info/].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Report directory (predictions are reused from here on a rerun).")
@click.option("--template", default=None,
              help="LLaMA-Factory template used in training [default: the run's own, else qwen].")
@click.option("--bert-model", default=None, help="Local BERT for BERTScore (e.g. a bert-base-chinese dir).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Score N records of each set [default: all]: a seeded sample, stratified by subject / category "
                   "where the set has them (see --limit-mode).")
@click.option("--limit-mode", type=click.Choice(["sample", "first"]), default="sample", show_default=True,
              help="With --limit: a seeded stratified sample (the same records for every model), or the first N.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Prompts generated together (sorted by length, so batches pad little).")
@click.option("--max-new-tokens", type=click.IntRange(min=0), default=0,
              help="Generation budget [default: per task].")
@click.option("--seed", type=int, default=42, show_default=True, help="Generation and bootstrap seed.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Paired-bootstrap resamples for the CIs of every metric and Δ; 0 turns CIs off.")
@click.option("--ci-level", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
              help="Confidence level of the intervals.")
@click.option("--mode", type=click.Choice(["generate", "loglik"]), default="generate", show_default=True,
              help="Exam sets (cmb, cmexam, cmmlu): generate an answer, or pick the most likely option letter "
                   "(loglik, for base models; no generation).")
@click.option("--shots", type=click.IntRange(min=0), default=0, show_default=True,
              help="Exam sets: examples per question from the benchmark's dev pool (deterministic).")
@click.option("--predict-only", is_flag=True, help="Stop after stage 1 (predictions).")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
              help="Requests in flight per server model (LABEL=http://host:port/v1[#name]).")
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait for each answer of a server model, queueing included [default: 300]; "
                   "failed requests are retried 3 times.")
def run_command(models, datasets, dataset_dir, out_dir, template, bert_model, limit, limit_mode, batch_size,
                max_new_tokens, seed, bootstrap, ci_level, mode, shots, predict_only, concurrency,
                request_timeout) -> None:
    """Predict, score and report: base and fine-tuned models side by side."""
    from eval.bertscore import BertScoreModelError
    from eval.fewshot import FewShotError
    from eval.heldout import HeldoutError
    from eval.loglik import LoglikError
    from eval.models import ModelSpecError
    from eval.pipeline import evaluate
    from eval.predict import GenerationSettings, PredictionCacheError
    from eval.remote import RemoteError
    from eval.report import tables

    try:
        results = evaluate(
            _specs(models), list(datasets), dataset_dir or default_dataset_dir(), out_dir, template=template,
            bert_model=bert_model, limit=limit, batch_size=batch_size,
            settings=GenerationSettings(max_new_tokens=max_new_tokens, seed=seed), predict_only=predict_only,
            bootstrap=bootstrap, ci_level=ci_level, mode=mode, shots=shots, concurrency=concurrency,
            request_timeout=request_timeout, limit_mode=limit_mode,
        )
    except (HeldoutError, ModelSpecError, BertScoreModelError, PredictionCacheError, FewShotError,
            LoglikError, RemoteError) as exc:
        raise click.ClickException(str(exc)) from exc
    if predict_only:
        console.print(f"predictions in {out_dir / 'predictions'}")
        return
    for table in tables(results):
        print_wide(table)
    _print_warnings(results)
    console.print(f"reports: {out_dir}/report.{{json,csv,md,png,html}}")
    from eval.breakdown import broken_down

    if broken_down(results):
        console.print(f"exams by category: {out_dir}/categories.md, {out_dir}/categories_<dataset>.png")


@eval_group.command("report")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report_command(out_dir: Path) -> None:
    """Show the tables of an earlier run's OUT_DIR/report.json again and rewrite OUT_DIR/report.html."""
    from eval import report_html
    from eval.pipeline import load_results
    from eval.report import tables

    try:
        results = load_results(out_dir)
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as exc:
        raise click.ClickException(f"{out_dir}/report.json is missing or unreadable: {exc}") from exc
    for table in tables(results):
        print_wide(table)
    _print_warnings(results)
    console.print(f"page: {report_html.write(out_dir)}")


def _print_warnings(results) -> None:
    from rich.text import Text

    from eval.flags import warnings

    for line in warnings(results):
        console.print(Text(line, style="bold red"))  # Text: a model label is never read as markup


@eval_group.command("sweep")
@click.argument("run")
@click.option("--dataset", "datasets", multiple=True, default=DEFAULT_DATASETS, show_default=True,
              help="Held-out dataset NAME or NAME:TASK (repeatable), as for `eval run`.")
@click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="LLaMA-Factory dataset_dir [default: dataset_info/].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report directory [default: RUN/sweep].")
@click.option("--bert-model", default=None, help="Local BERT for BERTScore.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Records per set (a seeded sample).")
@click.option("--limit-mode", type=click.Choice(["sample", "first"]), default="sample", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(min=0), default=0, help="[default: per task]")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True)
def sweep_command(run, datasets, dataset_dir, out_dir, bert_model, limit, limit_mode, batch_size, max_new_tokens,
                  seed, bootstrap) -> None:
    """Evaluate RUN's base model, every checkpoint and its final model; chart metric vs step; name the best.

    RUN is a run directory or a name under runs/."""
    from eval.bertscore import BertScoreModelError
    from eval.heldout import HeldoutError
    from eval.models import ModelSpecError
    from eval.predict import GenerationSettings, PredictionCacheError
    from eval.sweep import SweepError, sweep
    from medft.paths import runs_dir

    run_dir = Path(run)
    if not run_dir.is_dir() and len(run_dir.parts) == 1 and (runs_dir() / run_dir).is_dir():
        run_dir = runs_dir() / run_dir
    if not run_dir.is_dir():
        raise click.ClickException(f"no run directory {run!r} (looked for it as a path and under {runs_dir()})")
    out_dir = out_dir or run_dir / "sweep"
    try:
        summary = sweep(run_dir, list(datasets), dataset_dir or default_dataset_dir(), out_dir,
                        bert_model=bert_model, limit=limit, limit_mode=limit_mode, batch_size=batch_size,
                        settings=GenerationSettings(max_new_tokens=max_new_tokens, seed=seed), bootstrap=bootstrap)
    except (SweepError, HeldoutError, ModelSpecError, BertScoreModelError, PredictionCacheError) as exc:
        raise click.ClickException(str(exc)) from exc
    from eval.formatting import format_delta

    best = summary["best"]
    console.print(f"best: [bold]{best['label']}[/] (step {best['step']}) of {len(summary['points'])} points")
    for dataset, delta in summary["best_vs_final"].items():
        console.print(f"  {dataset}: Δ {best['label']} − final = {format_delta(delta)}", highlight=False)
    console.print(f"sweep: {out_dir}/sweep.{{json,md,png}}, reports: {out_dir}/report.{{json,md,html}}")


@eval_group.command("bertscore")
@click.option("--model", required=True, help="Local directory (or cached hub id) of a BERT model.")
@click.option("--num-layers", type=int, default=None, help="Layer to score with (default: per model).")
@click.argument("candidate")
@click.argument("reference", nargs=-1, required=True)
def bertscore_command(model: str, num_layers: int | None, candidate: str, reference: tuple[str, ...]) -> None:
    """Score one CANDIDATE against one or more REFERENCE texts with BERTScore F1."""
    from eval.bertscore import BertScoreModelError, bertscore_f1

    try:
        (f1,) = bertscore_f1([candidate], [list(reference)], model=model, num_layers=num_layers)
    except BertScoreModelError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"BERTScore F1 = [bold]{f1:.4f}[/]")
    click.echo(json.dumps({"bertscore_f1": f1}))


def _add_judge_commands() -> None:
    from eval.judge.cli import judge_command, rubric_command

    eval_group.add_command(judge_command)
    eval_group.add_command(rubric_command)
    from eval.prefs_cli import prefs_group

    eval_group.add_command(prefs_group)


_add_judge_commands()
