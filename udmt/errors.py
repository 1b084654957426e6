"""User-facing errors and the documented exit codes (DESIGN.md §5).

Anything below the CLI raises one of these for a problem the user can fix; the CLI prints the message in
one line and exits with the code. Any other exception is a bug and exits 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_REQUEUE = 75  # EX_TEMPFAIL: interrupted and checkpointed, safe to requeue


class UdmtError(Exception):
    """An error the user can act on; ``str(err)`` is the one line shown."""

    exit_code = EXIT_FAILURE


class UsageError(UdmtError):
    """Bad option, parameter or configuration."""

    exit_code = EXIT_USAGE


class InputError(UdmtError):
    """Missing, unreadable or corrupt input file (video, points, model, store)."""

    exit_code = EXIT_BAD_INPUT


class Interrupted(UdmtError):
    """Stopped by SIGTERM/SIGUSR1 after flushing finished work; re-running resumes."""

    exit_code = EXIT_REQUEUE
