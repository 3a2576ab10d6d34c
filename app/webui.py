"""Launch LLaMA-Factory's web UI (LLaMA Board) on medft's datasets.

The UI reads ``<Data dir>/dataset_info.json`` with "Data dir" defaulting to ``data`` relative to
the directory it was started in, and writes ``saves/`` and ``llamaboard_cache/`` there too. We
start it in a workspace (``runs/webui`` by default) whose ``data`` is a symlink to medft's
dataset_dir, so the dropdown lists the datasets bridge registered with no typing, and the UI's
own outputs stay out of the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

from medft.console import get_logger

log = get_logger("webui")


class WebUIError(RuntimeError):
    """The web UI's workspace cannot be prepared."""


def prepare_workspace(workspace: Path, dataset_dir: Path) -> Path:
    """Create ``workspace`` with ``data`` pointing at ``dataset_dir``; return the workspace."""
    workspace.mkdir(parents=True, exist_ok=True)
    link = workspace / "data"
    target = dataset_dir.resolve()
    if link.is_symlink():
        if link.resolve() == target:
            return workspace
        link.unlink()  # a stale link from another checkout: repoint it
    elif link.exists():
        raise WebUIError(f"{link} exists and is not a symlink; move it away so it can point at {target}")
    link.symlink_to(target, target_is_directory=True)
    return workspace


def _default_compute_type_for_this_machine(demo) -> str | None:
    """Preselect a compute type this machine can run: the UI's bf16 default fails without a bf16 GPU."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return None
    choice = "fp16" if torch.cuda.is_available() else "fp32"
    for block in demo.blocks.values():
        choices = [c[0] if isinstance(c, tuple | list) else c for c in getattr(block, "choices", None) or []]
        if "pure_bf16" in choices and getattr(block, "value", None) == "bf16":
            block.value = choice
    return choice


def launch(host: str, port: int, workspace: Path, dataset_dir: Path) -> None:
    """Start the UI in ``workspace`` bound to ``host:port`` (blocks until interrupted)."""
    prepare_workspace(workspace, dataset_dir)
    # LLaMA-Factory reads these when building and launching; set before importing it.
    os.environ["GRADIO_SERVER_NAME"] = host
    os.environ["GRADIO_SERVER_PORT"] = str(port)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.chdir(workspace)
    from llamafactory.webui.interface import create_ui

    demo = create_ui()
    compute_type = _default_compute_type_for_this_machine(demo)
    if compute_type:
        log.info("no bf16 GPU here: compute type preselected as %s", compute_type)
    log.info("LLaMA Board on http://%s:%d — Data dir 'data' is %s", host, port, dataset_dir)
    demo.queue().launch(server_name=host, server_port=port, share=False, inbrowser=False)
