"""User-facing errors and the documented exit codes (DESIGN.md §5).

Anything below the CLI raises one of these for a problem the user can fix; the CLI prints the message in
one line and exits with the code. Any other exception is a bug and exits 1.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

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


class InputWarning(UserWarning):
    """An input is damaged but still usable (e.g. a truncated video): the work goes on, the CLI shows one line."""


# Failures of the machine rather than of udmt: the user fixes them (space, permissions), so no traceback.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
ENVIRONMENT_ERRNOS = frozenset((*_NO_SPACE, *_NOT_WRITABLE, errno.EIO))


def from_os_error(err: OSError, where: str | os.PathLike[str] | None = None) -> UdmtError:
    """The one-line error for an operating-system failure on ``err.filename`` (else ``where``).

    Disk full exits 1 and says that finished work is kept (every stage resumes); a read-only or forbidden
    place is a configuration problem (exit 2).
    """
    place = err.filename if err.filename is not None else (where if where is not None else "output")
    reason = err.strerror or os.strerror(err.errno or 0)
    if err.errno in _NO_SPACE:
        return UdmtError(f"{place}: {reason} (disk full or file size limit); free space there and re-run the same "
                         "command: finished work is kept")  # fmt: skip
    if err.errno in _NOT_WRITABLE:
        return UsageError(f"{place}: {reason}; choose an output folder you can write to (-o)")
    return UdmtError(f"{place}: {reason}; check the disk and re-run the same command: finished work is kept")


@contextmanager
def writing(where: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a disk-full or permission failure while writing under ``where`` into a one-line error naming it."""
    try:
        yield
    except OSError as err:
        if err.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise from_os_error(err, where) from err
