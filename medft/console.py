"""The one rich console medft prints through, and logging routed to it."""

from __future__ import annotations

import logging
import os

from rich.console import Console
from rich.logging import RichHandler

# Progress and tables go to stderr so that stdout stays clean for machine-readable output
# (`--dry-run` YAML, JSON reports) that users pipe into other tools.
console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_wide(renderable) -> None:
    """Print ``renderable`` (a table) at its natural width, never squeezed to a pipe's 80 columns.

    Under `make` or a pipe rich assumes 80 columns and would wrap every number across two lines.
    """
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
    Console(stderr=True, highlight=False, width=max(console.width, width)).print(renderable)


def setup_logging(verbose: bool = False) -> None:
    """Route the ``medft`` loggers through rich; ``MEDFT_LOG=DEBUG`` or ``verbose`` shows debug lines."""
    level = os.environ.get("MEDFT_LOG", "DEBUG" if verbose else "INFO").upper()
    logger = logging.getLogger("medft")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        logger.addHandler(RichHandler(console=console, show_path=False, rich_tracebacks=False))
    logger.setLevel(level)
    logger.propagate = False


def get_logger(name: str) -> logging.Logger:
    """Return a logger under the ``medft`` namespace (``medft.<name>``)."""
    return logging.getLogger(f"medft.{name}")
