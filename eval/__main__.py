"""`python -m eval`: the eval command group."""

from eval.cli import eval_group as cli
from medft.console import setup_logging

if __name__ == "__main__":
    setup_logging()
    cli(prog_name="python -m eval")
