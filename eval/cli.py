"""Command line for eval (``python -m eval``, ``medft eval``)."""

from __future__ import annotations

import json

import click

from medft.console import console


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def eval_group() -> None:
    """Predict with base and fine-tuned models on held-out sets, score and report."""


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
