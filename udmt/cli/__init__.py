"""The ``udmt`` command line (Typer).

Each command group lives in its own module that registers on :data:`udmt.cli.app.app`; this package imports
them all and :func:`main` maps :class:`udmt.errors.UdmtError` to its documented exit code with a one-line
message (no traceback for a user error).
"""

from __future__ import annotations

import sys

from udmt.cli.app import app, run_app

# Command modules register themselves on ``app`` when imported.
from udmt.cli import commands_outputs, commands_slurm, commands_synth, commands_track  # noqa: E402,F401  (registration)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_app())
