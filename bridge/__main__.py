"""`python -m bridge`: the bridge command group."""

from bridge.cli import bridge as cli
from medft.console import setup_logging

if __name__ == "__main__":
    setup_logging()
    cli(prog_name="python -m bridge")
