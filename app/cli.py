"""The ``medft`` console script: gathers the bridge, recipes and eval command groups."""

from __future__ import annotations

from pathlib import Path

import click

from medft.console import console, setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logging.")
def main(verbose: bool) -> None:
    """Fine-tune and evaluate Chinese medical LLMs on top of LLaMA-Factory."""
    setup_logging(verbose)


@main.command("tiny-models")
@click.option("--seed", default=0, show_default=True, help="Seed for the random weights.")
def tiny_models_command(seed: int) -> None:
    """Build (or find cached) the offline tiny Qwen2 and tiny BERT; print their paths."""
    from medft.tiny_models import tiny_bert, tiny_qwen

    with console.status("building tiny models (offline)..."):
        qwen, bert = tiny_qwen(seed=seed), tiny_bert(seed=seed)
    console.print(f"tiny Qwen2 (causal LM, template qwen): [bold]{qwen}[/]")
    console.print(f"tiny BERT (BERTScore):               [bold]{bert}[/]")
    click.echo(f"{qwen}\n{bert}")


@main.command("webui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; 0.0.0.0 exposes the UI to your network.")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the UI runs and saves (default: runs/webui).")
@click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The datasets the UI lists (default: dataset_info/).")
def webui_command(host: str, port: int, workspace: Path | None, dataset_dir: Path | None) -> None:
    """Open LLaMA-Factory's web UI with medft's registered datasets preselected as its Data dir."""
    from app.webui import WebUIError, launch
    from medft.paths import dataset_dir as default_dataset_dir
    from medft.paths import runs_dir

    try:
        launch(host, port, workspace or runs_dir() / "webui", dataset_dir or default_dataset_dir())
    except WebUIError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo writes everything (default: runs/demo).")
def demo_command(demo_dir: Path | None) -> None:
    """Run the whole pipeline offline on tiny models and sample data (what `make demo` does)."""
    from app.demo import DemoError, run_demo
    from medft.paths import runs_dir

    try:
        run_demo(demo_dir or runs_dir() / "demo")
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc


def _add_groups() -> None:
    from bridge.cli import bridge
    from eval.cli import eval_group
    from recipes.cli import recipes, serve_command

    main.add_command(bridge, "bridge")
    main.add_command(recipes, "recipes")
    main.add_command(eval_group, "eval")
    main.add_command(serve_command, "serve")  # `medft serve` = `medft recipes serve` (what `make serve` runs)


_add_groups()

if __name__ == "__main__":
    main(prog_name="medft")
