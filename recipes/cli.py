"""Command line for recipes (``python -m recipes``, ``medft recipes``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from medft.console import console
from recipes.render import METHODS

DIR = click.Path(file_okay=False, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def recipes() -> None:
    """Render, validate and launch fine-tuning recipes through llamafactory-cli."""


TRUST = click.option("--trust-remote-code", is_flag=True,
                     help="Let the model's own Python code run (config.json auto_map); off by default. "
                          "Make: TRUST_REMOTE_CODE=1.")


def _request(method, model, datasets, overrides, run_name, resume, force, dataset_dir, gpus, nnodes, node_rank,
             master_addr, master_port, ds, use_ray, trust_remote_code=False, allow_heldout=False, from_run=None):
    from recipes.launch import Distributed
    from recipes.render import RecipeError, parse_overrides
    from recipes.train import TrainRequest

    try:
        parsed = parse_overrides(overrides)
    except RecipeError as exc:
        raise click.UsageError(str(exc)) from exc
    return TrainRequest(
        method=method, model=model, datasets=datasets, overrides=parsed, run_name=run_name, resume=resume,
        force=force, dataset_dir=dataset_dir, deepspeed=ds, trust_remote_code=trust_remote_code,
        allow_heldout=allow_heldout, from_run=from_run,
        distributed=Distributed(gpus=gpus, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr,
                                master_port=master_port, use_ray=use_ray),
    )


def _show_findings(plan) -> None:
    for note in plan.notes:
        console.print(f"[cyan]note[/]    {note}")
    for warning in plan.findings.warnings:
        console.print(f"[yellow]warning[/] {warning}")
    for error in plan.findings.errors:
        console.print(f"[red]error[/]   {error}")


@recipes.command("train")
@click.argument("method", type=click.Choice(METHODS))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--model", help="Base model: a local directory or a downloaded hub id.")
@click.option("--datasets", help="Comma-separated registered datasets, e.g. med_dialog,med_norm,med_mrg.")
@click.option("--run", "run_name", help="Run name: runs/<name> (default <method>-<timestamp>).")
@click.option("--resume", is_flag=True, help="Continue the run's last checkpoint.")
@click.option("--force", is_flag=True,
              help="Delete an existing run of that name first (only a medft run inside runs/).")
@click.option("--dataset-dir", type=DIR, help="LLaMA-Factory dataset_dir [default: dataset_info/].")
@click.option("--gpus", type=int, help="Processes on this node (torchrun through LLaMA-Factory).")
@click.option("--nnodes", type=int, help="Machines in a multi-node run.")
@click.option("--node-rank", type=int, help="This machine's rank (0 on the master).")
@click.option("--master-addr", help="Address of node 0 for multi-node runs.")
@click.option("--master-port", type=int, help="Port on node 0 for multi-node runs.")
@click.option("--ds", type=click.Choice(["z2", "z3", "z3_offload"]), help="DeepSpeed ZeRO stage config.")
@click.option("--use-ray", is_flag=True, help="Let LLaMA-Factory schedule workers with Ray.")
@TRUST
@click.option("--allow-heldout", is_flag=True,
              help="Allow training on a held-out set or few-shot pool (*_test, *_dev, a --test-file copy); "
                   "refused by default. Make: ALLOW_HELDOUT=1.")
@click.option("--from", "from_run", metavar="RUN",
              help="Start from a finished SFT run (runs/NAME or NAME): its merged model or adapter, and its "
                   "template; the reference model of dpo / kto is that SFT model. Make: FROM=runs/NAME.")
@click.option("--dry-run", is_flag=True,
              help="Print the resolved YAML, command and memory estimate; run nothing (exit 2 where a launch "
                   "would refuse).")
def train_command(method, overrides, model, datasets, run_name, resume, force, dataset_dir, gpus, nnodes,
                  node_rank, master_addr, master_port, ds, use_ray, trust_remote_code, allow_heldout, from_run,
                  dry_run) -> None:
    """Validate and launch a METHOD recipe (full, lora, qlora, freeze; preference: dpo, orpo, simpo, kto on
    LoRA) with KEY=VALUE overrides."""
    from recipes.run import RunDirError
    from recipes.train import launch_plan, plan

    request = _request(method, model, datasets, overrides, run_name, resume, force, dataset_dir, gpus, nnodes,
                       node_rank, master_addr, master_port, ds, use_ray, trust_remote_code, allow_heldout, from_run)
    resolved = plan(request, dry_run=dry_run)
    _show_findings(resolved)
    if dry_run:
        click.echo(resolved.yaml_text(), nl=False)
        console.print(f"[bold]command[/] {resolved.shell_line()}")
        console.print(f"[bold]run dir[/] {resolved.run_dir}")
        console.print("[dim]dry run: nothing written, nothing launched[/]")
        if not resolved.findings.ok:
            sys.exit(2)
        return
    if not resolved.findings.ok:
        raise click.ClickException(f"{len(resolved.findings.errors)} problem(s) in the recipe; nothing was launched")
    try:
        code = launch_plan(resolved, request)
    except RunDirError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"run {'finished' if code == 0 else f'ended with exit code {code}'}: {resolved.run_dir}")
    sys.exit(code)


@recipes.command("render")
@click.argument("method", type=click.Choice(["base", *METHODS]))
def render_command(method: str) -> None:
    """Print a shipped recipe file, comments included."""
    from recipes.render import recipe_text

    click.echo(recipe_text(method), nl=False)


@recipes.command("export")
@click.argument("run_dir")
@TRUST
def export_command(run_dir: str, trust_remote_code: bool) -> None:
    """Merge RUN_DIR's LoRA/QLoRA adapter into its base model (RUN_DIR/merged); a name under runs/ works too.

    Custom model code runs only if the run was trained with TRUST_REMOTE_CODE=1 or with --trust-remote-code.
    """
    from recipes.export import export_run
    from recipes.run import RunDirError, locate

    try:
        model_dir = export_run(locate(run_dir), trust_remote_code=True if trust_remote_code else None)
    except RunDirError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"model ready: [bold]{model_dir}[/]")


@recipes.command("chat")
@click.argument("run_dir")
@TRUST
def chat_command(run_dir: str, trust_remote_code: bool) -> None:
    """Chat with a run in the terminal (llamafactory-cli chat); RUN_DIR may be a name under runs/."""
    from recipes.export import chat
    from recipes.run import RunDirError, locate

    try:
        sys.exit(chat(locate(run_dir), trust_remote_code=True if trust_remote_code else None))
    except RunDirError as exc:
        raise click.ClickException(str(exc)) from exc


@recipes.command("serve")
@click.argument("target")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="API_HOST",
              help="Interface to bind (env API_HOST); 0.0.0.0 exposes the API to your network.")
@click.option("--port", type=int, default=8000, show_default=True, envvar="API_PORT", help="TCP port (env API_PORT).")
@click.option("--backend", default="huggingface", show_default=True,
              help="LLaMA-Factory infer_backend: huggingface (CPU or GPU) or vllm (GPU, vLLM installed).")
@click.option("--name", help="Served model name, what clients pass as `model` [default: the run's name].")
@click.option("--template", help="Chat template [default: the run's own, else qwen].")
@click.option("--ready-timeout", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the model to load and /v1/models to answer.")
@click.option("--dry-run", is_flag=True, help="Print the command and its environment; start nothing.")
def serve_command(target, overrides, host, port, backend, name, template, ready_timeout, dry_run) -> None:
    """Serve TARGET (a run name or dir, a model or adapter dir) on an OpenAI-compatible API.

    KEY=VALUE pairs are passed to llamafactory-cli api (e.g. vllm_maxlen=8192 vllm_gpu_util=0.9).
    """
    from recipes.render import RecipeError, parse_overrides
    from recipes.serve import ServeError, plan, serve

    try:
        resolved = plan(target, host, port, backend, name, template, parse_overrides(overrides))
    except (ServeError, RecipeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for note in resolved.notes:
        console.print(f"[cyan]note[/]    {note}")
    if dry_run:
        console.print(f"[bold]command[/] {resolved.shell_line()}")
        console.print(f"[bold]url[/]     {resolved.url}  (model name {resolved.name!r})")
        console.print("[dim]dry run: nothing started[/]")
        return

    def ready(serve_plan, listed):
        console.print(f"[bold green]serving[/] {', '.join(listed) or serve_plan.name} at [bold]{serve_plan.url}[/]"
                      f" (backend {serve_plan.backend}); Ctrl-C stops it")
        console.print(f"  eval through it: make eval MODELS=\"{serve_plan.name}={serve_plan.url}\"", style="dim")

    console.print(f"[bold]starting[/] {resolved.shell_line()}", style="dim")
    try:
        code = serve(resolved, ready_timeout, on_ready=ready)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print("server stopped" if code == 0 else f"server exited with code {code}")
    sys.exit(code)
