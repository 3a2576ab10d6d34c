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


@main.command("control-model")
@click.option("--seed", default=0, show_default=True, help="Seed for the weights, the text and the training.")
def control_model_command(seed: int) -> None:
    """Build (or find cached) the control model: a small Qwen2 that learns visibly on CPU; print its path."""
    from medft.control_model import ControlModelError, control_qwen

    try:
        with console.status("building the control model (once; ~1 minute on 2 cores)..."):
            path = control_qwen(seed=seed)
    except ControlModelError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"control model (Qwen2, template qwen): [bold]{path}[/]")
    click.echo(str(path))


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


@main.command("prefs-demo")
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where it writes everything (default: runs/prefs-demo).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Sample only the first N training questions.")
def prefs_demo_command(demo_dir: Path | None, limit: int | None) -> None:
    """SFT -> exam preferences -> DPO -> base / SFT / DPO report, offline on the control model (`make prefs-demo`)."""
    from app.demo import DemoError
    from app.prefs_demo import run_prefs_demo
    from medft.paths import runs_dir

    try:
        run_prefs_demo(demo_dir or runs_dir() / "prefs-demo", limit=limit)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("parity")
@click.argument("run_name", metavar="RUN")
@click.option("--dataset", "datasets", multiple=True, default=("med_norm_test", "med_mrg_test"), show_default=True,
              help="Held-out sets the prompts are taken from (spread evenly).")
@click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="LLaMA-Factory dataset_dir [default: dataset_info/].")
@click.option("--prompts", type=click.IntRange(min=1), default=20, show_default=True, help="Prompts to compare.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=64, show_default=True,
              help="Greedy generation budget per prompt.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where each path's outputs are cached [default: RUN/parity].")
@click.option("--no-serve", is_flag=True, help="Skip the two `llamafactory-cli api` servers (in-process paths only).")
@click.option("--server", "servers", multiple=True, metavar="LABEL=URL",
              help="Also compare an OpenAI-compatible server already serving this run, e.g. "
                   "vllm=http://127.0.0.1:8000/v1 (repeatable).")
def parity_command(run_name, datasets, dataset_dir, prompts, max_new_tokens, out_dir, no_serve, servers) -> None:
    """Check that a LoRA run answers the same in-process, merged, and served (greedy, string for string)."""
    from app.parity import ParityError, check, print_report
    from eval.heldout import HeldoutError
    from eval.remote import RemoteError
    from medft.paths import dataset_dir as default_dataset_dir
    from recipes.run import RunDirError, locate

    extra = {}
    for item in servers:
        label, sep, url = item.partition("=")
        if not sep or not label:
            raise click.BadParameter(f"{item!r}: expected LABEL=URL", param_hint="--server")
        extra[label] = url
    try:
        run_dir = locate(run_name)
        report = check(run_dir, dataset_dir or default_dataset_dir(), list(datasets), out_dir or run_dir / "parity",
                       prompts=prompts, max_new_tokens=max_new_tokens, serve=not no_serve, servers=extra)
    except (ParityError, HeldoutError, RemoteError, RunDirError) as exc:
        raise click.ClickException(str(exc)) from exc
    print_report(report)
    if not report.ok:
        raise SystemExit(1)


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
