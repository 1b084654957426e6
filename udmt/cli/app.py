"""The Typer application object and the error-to-exit-code boundary shared by all command modules."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from udmt.errors import ENVIRONMENT_ERRNOS, EXIT_OK, InputWarning, UdmtError, from_os_error

app = typer.Typer(
    name="udmt",
    help="Unsupervised multi-animal tracking from raw top-down video: no labels, no pretrained weights.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextmanager
def _input_warnings_as_lines() -> Iterator[None]:
    """Show each distinct :class:`InputWarning` once, as one ``udmt: warning:`` line (no source location)."""
    seen: set[str] = set()
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if not issubclass(category, InputWarning):
            default(message, category, filename, lineno, file, line)
        elif str(message) not in seen:
            seen.add(str(message))
            typer.echo(f"udmt: warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)  # dedup here: the registry forgets when filters change
        warnings.showwarning = show
        yield


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    Usage errors are Typer's (message + usage, exit 2); a :class:`UdmtError` becomes one line on stderr and its
    documented exit code, and so does a full disk or an unwritable folder. Anything else is a bug and keeps its
    traceback.
    """
    try:
        with _input_warnings_as_lines():
            app(args=argv, prog_name="udmt", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (EXIT_OK if done.code is None else 1)
    except UdmtError as err:
        typer.echo(f"udmt: error: {err}", err=True)
        return err.exit_code
    except OSError as err:
        if err.errno not in ENVIRONMENT_ERRNOS:
            raise
        failure = from_os_error(err)
        typer.echo(f"udmt: error: {failure}", err=True)
        return failure.exit_code
    return EXIT_OK
