"""The Typer application object and the error-to-exit-code boundary shared by all command modules."""

from __future__ import annotations

import typer

from udmt.errors import EXIT_OK, UdmtError

app = typer.Typer(
    name="udmt",
    help="Unsupervised multi-animal tracking from raw top-down video: no labels, no pretrained weights.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    Usage errors are Typer's (message + usage, exit 2); a :class:`UdmtError` becomes one line on stderr and its
    documented exit code. Anything else is a bug and keeps its traceback.
    """
    try:
        app(args=argv, prog_name="udmt", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (EXIT_OK if done.code is None else 1)
    except UdmtError as err:
        typer.echo(f"udmt: error: {err}", err=True)
        return err.exit_code
    return EXIT_OK
