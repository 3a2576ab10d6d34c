"""``python -m eval judge`` (``make judge``) and ``python -m eval rubric``."""

from __future__ import annotations

from pathlib import Path

import click

from medft.console import console


def _show_prompt(messages: list[dict]) -> None:
    console.rule("[bold]first judge prompt")
    for message in messages:
        console.print(f"[cyan]{message['role']}[/]")
        console.print(message["content"], markup=False, highlight=False)
    console.rule()


@click.command("judge")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--judge", "judge_location", required=True, metavar="PATH|URL",
              help="Judge model: a model/adapter/run dir (in-process) or a server URL http://host:port/v1[#name].")
@click.option("--mode", type=click.Choice(["pointwise", "pairwise"]), default="pointwise", show_default=True)
@click.option("--rubric", default="medical_zh", show_default=True, help="A shipped rubric name or a rubric YAML file.")
@click.option("--model", "models", multiple=True, help="Judge only these models (repeatable) [default: all in OUT].")
@click.option("--dataset", "datasets", multiple=True, help="Judge only these datasets (repeatable) [default: all].")
@click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the held-out sets are [default: the one eval recorded in OUT/report.json].")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Judge only the first N records of each dataset (and show the first prompt).")
@click.option("--dry-run", is_flag=True, help="Show the number of calls and the first prompt; call nothing.")
@click.option("--template", default=None, help="Chat template of a local judge [default: its run's, else qwen].")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=512, show_default=True,
              help="Reply budget per judge call.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
              help="Requests in flight to a judge server.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Prompts a local judge generates together.")
@click.option("--allow-partial", is_flag=True,
              help="Judge only the records every model has predictions for, when some have fewer [default: "
                   "an error naming the counts].")
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait for each answer of a judge server, queueing included [default: 300]; "
                   "failed requests are retried 3 times.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the CIs; 0 turns them off.")
@click.option("--ci-level", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Judge generation and bootstrap seed.")
def judge_command(out_dir, judge_location, mode, rubric, models, datasets, dataset_dir, limit, dry_run, template,
                  max_new_tokens, concurrency, batch_size, allow_partial, request_timeout, bootstrap, ci_level,
                  seed) -> None:
    """Judge the predictions in OUT_DIR (an eval report directory) with an LLM, on a rubric.

    pointwise: each answer scored 1-5 per rubric dimension; pairwise: every two models compared on
    every record, twice with the answers' positions swapped. Reports go to OUT_DIR/judge/RUBRIC/MODE/.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from eval.heldout import HeldoutError
    from eval.judge.pipeline import JudgeRequest, prepare, run
    from eval.judge.report import tables
    from eval.judge.rubric import RubricError
    from eval.judge.run import JudgeError
    from eval.models import ModelSpecError
    from eval.predict import PredictionCacheError
    from eval.remote import RemoteError

    request = JudgeRequest(out_dir, judge_location, mode, rubric, list(models) or None, list(datasets) or None,
                           dataset_dir, limit, template, max_new_tokens, concurrency, batch_size, bootstrap, ci_level,
                           seed, request_timeout, allow_partial)
    try:
        prepared = prepare(request, warn=lambda text: console.print(f"[yellow]warning[/] {text}"))
        if not dry_run:
            prepared.judge.prepare()  # a server: which model it serves (part of every cache key)
        cost = prepared.costs()
        console.print(f"judge [bold]{prepared.judge.describe()}[/], rubric {prepared.rubric.name}, {mode}, "
                      f"models {', '.join(prepared.models)}")
        console.print(f"[bold]{cost.calls} judge calls[/] ({cost.cached} already cached, [bold]{cost.to_make} to "
                      "make[/]), plus one retry for each unparsable reply")
        if (limit or dry_run) and prepared.calls:
            _show_prompt(prepared.calls[0].messages)
        if dry_run:
            console.print("[dim]dry run: no judge loaded, nothing sent[/]")
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            bar = progress.add_task("judging", total=cost.to_make)
            if hasattr(prepared.judge, "on_status"):  # a judge server: show requests in flight and retried
                prepared.judge.on_status = lambda flying, retried, done: progress.update(
                    bar, description=f"judging · {flying} in flight · {retried} retried")
            data = run(prepared, on_reply=lambda n: progress.advance(bar, n))
    except (JudgeError, RubricError, HeldoutError, ModelSpecError, PredictionCacheError, RemoteError) as exc:
        raise click.ClickException(str(exc)) from exc
    for table in tables(data):
        console.print(table)
    calls = data["calls"]
    console.print(f"{calls['judged']} judgements, {calls['retried']} retried, [bold]{calls['unparsed']} unparsed[/] "
                  "(excluded from means and rates)")
    console.print(f"reports: {prepared.report_dir}/report.{{json,md,png}} and judgements.jsonl")


@click.command("rubric")
@click.argument("name_or_file", default="medical_zh")
def rubric_command(name_or_file: str) -> None:
    """Check a rubric and print it (a shipped name prints its YAML: a template for your own)."""
    from eval.judge.rubric import RubricError, load, rubric_text

    try:
        rubric = load(name_or_file)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(rubric_text(name_or_file), nl=False)
    console.print(f"rubric {rubric.name!r} is valid: {len(rubric.dimensions)} dimensions "
                  f"({', '.join(d.key for d in rubric.dimensions)})")
