"""Command line for recipes (``python -m recipes``, ``medft recipes``)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def recipes() -> None:
    """Render, validate and launch fine-tuning recipes through llamafactory-cli."""
