"""``python -m eval prefs exam|judge|file`` (``make prefs``): build and register preference sets.

Under eval, not bridge, because building them samples from a model, grades with eval's mcq scorer and reads
the judge's verdicts (bridge must not import eval); ``file`` only validates and registers, through bridge.
"""

from __future__ import annotations

from pathlib import Path

import click

from medft.console import console
from medft.paths import dataset_dir as default_dataset_dir

DATASET_DIR = click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="LLaMA-Factory dataset_dir [default: dataset_info/].")
KIND = click.option("--kind", type=click.Choice(["ranking", "kto"]), default="ranking", show_default=True,
                    help="ranking (chosen / rejected) for dpo, orpo, simpo; kto (kto_tag per answer) for kto.")
NAME = click.option("--name", default=None, help="Registered name [default: <dataset>_pref, or _kto].")
FORCE = click.option("--force", is_flag=True, help="Replace an entry of this name that medft did not write.")


@click.group("prefs", context_settings={"help_option_names": ["-h", "--help"]})
def prefs_group() -> None:
    """Build preference sets (DPO / ORPO / SimPO / KTO data) from exam grading or judge verdicts."""


def _show(summary: dict) -> None:
    counts = summary["counts"]
    console.print(f"[bold]{summary['name']}[/] ({summary['kind']}): {counts['written']['train']} record(s) "
                  f"{summary['status']} in {summary['file']}")
    console.print(f"  of {counts['candidates']} candidate record(s); left out along the way (questions or verdicts "
                  f"without a pair, records touching a held-out set): "
                  f"{', '.join(f'{k} {v}' for k, v in counts['dropped'].items()) or 'nothing'}")
    console.print(f"  leak-checked against: {', '.join(summary['leak_checked_against']) or 'no held-out set'}")
    console.print(f"  train it: make train-{'kto' if summary['kind'] == 'kto' else 'dpo'} FROM=runs/<sft run> "
                  f"DATASETS={summary['name']}", style="dim")


@prefs_group.command("exam")
@click.argument("dataset")
@click.option("--model", "location", required=True, metavar="PATH|URL",
              help="Model whose answers are sampled: an SFT run dir, a model or adapter dir, or a server URL.")
@DATASET_DIR
@click.option("--k", type=click.IntRange(min=2), default=4, show_default=True, help="Answers sampled per question.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=16, show_default=True,
              help="Answer budget (exam prompts ask for the letters only).")
@click.option("--seed", type=int, default=42, show_default=True, help="Sample j uses seed + j.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--template", default=None, help="Chat template [default: the run's own, else qwen].")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/prefs"),
              show_default=True, help="Where sampled answers are cached (a rerun reuses them).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@KIND
@NAME
@FORCE
def exam_command(dataset, location, dataset_dir, k, temperature, top_p, max_new_tokens, seed, limit, template,
                 cache_dir, batch_size, kind, name, force) -> None:
    """Sample K answers per question of an exam's training split (DATASET: med_cmb, med_cmexam), grade them
    against the key; a question with a right and a wrong answer gives a chosen / rejected pair."""
    from bridge.common import BridgeError
    from eval.heldout import HeldoutError
    from eval.models import ModelSpecError, resolve
    from eval.prefs import PrefsError, Sampling, exam_preferences

    try:
        spec = resolve("generator", location)
        summary = exam_preferences(dataset_dir or default_dataset_dir(), dataset, spec, cache_dir,
                                   Sampling(k, temperature, top_p, max_new_tokens, seed), template, kind, name,
                                   limit, batch_size, force=force)
    except (PrefsError, HeldoutError, ModelSpecError, BridgeError) as exc:
        raise click.ClickException(str(exc)) from None
    _show(summary)


@prefs_group.command("judge")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Registered name of the preference set.")
@click.option("--rubric", default="medical_zh", show_default=True, help="The rubric the report was judged with.")
@click.option("--model", "models", multiple=True, help="The two judged models to pair [default: the first two].")
@DATASET_DIR
@KIND
@FORCE
def judge_command(out_dir, name, rubric, models, dataset_dir, kind, force) -> None:
    """Pairs from OUT_DIR's pairwise judge verdicts (eval run + eval judge --mode pairwise on training-split
    prompts): swap-consistent, non-tie verdicts only; chosen = the winner's answer."""
    from bridge.common import BridgeError
    from eval.prefs import PrefsError, judge_preferences

    if models and len(models) != 2:
        raise click.BadParameter("give two --model labels (or none)", param_hint="--model")
    try:
        summary = judge_preferences(out_dir, dataset_dir or default_dataset_dir(), name, rubric,
                                    tuple(models) or None, kind, force)
    except (PrefsError, BridgeError) as exc:
        raise click.ClickException(str(exc)) from None
    _show(summary)


@prefs_group.command("file")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DATASET_DIR
@click.option("--formatting", type=click.Choice(["alpaca", "sharegpt"]), default=None,
              help="[default: detected from the first record]")
@FORCE
def file_command(name, file, dataset_dir, formatting, force) -> None:
    """Validate FILE in LLaMA-Factory's ranking format (alpaca: instruction / input / chosen / rejected;
    sharegpt: conversations + chosen / rejected messages) and register a leak-checked copy as NAME."""
    from bridge.common import BridgeError
    from bridge.prefs import register_file

    try:
        summary = register_file(name, file, dataset_dir or default_dataset_dir(), formatting, force)
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None
    _show(summary)
