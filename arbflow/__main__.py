"""`python -m arbflow …` is the `arbflow` command."""

from arbflow.cli.main import run

run()
