"""`python -m recipes`: the recipes command group."""

from medft.console import setup_logging
from recipes.cli import recipes as cli

if __name__ == "__main__":
    setup_logging()
    cli(prog_name="python -m recipes")
