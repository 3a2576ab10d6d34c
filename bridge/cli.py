"""Command line for bridge (``python -m bridge``, ``medft bridge``)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bridge() -> None:
    """Convert raw medical datasets to alpaca jsonl and register them in dataset_info.json."""
