"""Launch LLaMA-Factory's web UI (LLaMA Board) on medft's datasets, held-out sets kept out of training.

The UI reads ``<Data dir>/dataset_info.json`` with "Data dir" defaulting to ``data`` relative to
the directory it was started in, and writes ``saves/`` and ``llamaboard_cache/`` there too. We
start it in a workspace (``runs/webui`` by default) so the UI's own outputs stay out of the repository
root, with two data dirs:

- ``data`` (the default of both the Train and the Evaluate tab): a dataset_info.json medft writes at
  every launch listing only the *training* sets of medft's dataset_dir, with absolute ``file_name``s.
  LLaMA Board filters its dropdown by stage (``ranking``) only, so pointing it at dataset_info/ itself
  would offer every ``*_test`` set for training;
- ``heldout``: a symlink to the dataset_dir itself, every set included, for the Evaluate tab (type
  ``heldout`` into its Data dir). medft's own ``make eval`` reads the dataset_dir directly.
"""

from __future__ import annotations

import os
from pathlib import Path

from medft.console import get_logger
from medft.io import atomic_write_json

log = get_logger("webui")


class WebUIError(RuntimeError):
    """The web UI's workspace cannot be prepared."""


#: Marks a ``data`` directory as medft's generated view, which it may rewrite.
VIEW_MARKER = ".medft-webui-view"


def training_view(dataset_dir: Path) -> dict:
    """dataset_info.json entries of ``dataset_dir`` minus its held-out sets, ``file_name`` made absolute."""
    from bridge.common import BridgeError
    from bridge.heldout import heldout_names
    from bridge.registry import load_dataset_info

    try:
        info = load_dataset_info(dataset_dir)
        heldout = heldout_names(dataset_dir)
    except BridgeError as exc:
        raise WebUIError(exc.message) from None
    view = {}
    for name, entry in info.items():
        if name in heldout:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("file_name"), str):
            entry = {**entry, "file_name": str((dataset_dir / entry["file_name"]).resolve())}
        view[name] = entry
    return view


def _link(link: Path, target: Path) -> None:
    if link.is_symlink():
        if link.resolve() == target:
            return
        link.unlink()  # a stale link from another checkout: repoint it
    elif link.exists():
        raise WebUIError(f"{link} exists and is not a symlink; move it away so it can point at {target}")
    link.symlink_to(target, target_is_directory=True)


def prepare_workspace(workspace: Path, dataset_dir: Path) -> Path:
    """Create ``workspace`` with ``data`` (the training view) and ``heldout`` (-> ``dataset_dir``); return it."""
    workspace.mkdir(parents=True, exist_ok=True)
    target = dataset_dir.resolve()
    data = workspace / "data"
    if data.is_symlink():
        data.unlink()  # the layout before the training view: data linked to the dataset_dir
    elif data.exists() and not (data / VIEW_MARKER).exists():
        raise WebUIError(f"{data} exists and was not written by medft; move it away so medft can write the "
                         "web UI's training datasets there")
    view = training_view(target)
    data.mkdir(exist_ok=True)
    (data / VIEW_MARKER).write_text(f"written by medft from {target}; rewritten at every `make webui`\n",
                                    encoding="utf-8")
    atomic_write_json(data / "dataset_info.json", view)
    _link(workspace / "heldout", target)
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
    log.info("LLaMA Board on http://%s:%d — Data dir 'data': the training sets of %s; 'heldout': all of it",
             host, port, dataset_dir)
    demo.queue().launch(server_name=host, server_port=port, share=False, inbrowser=False)
