"""A rich progress bar behind the :class:`udmt.progress.Progress` hook, for every command module.

Stages only call ``start``/``advance``/``stop``; the bar draws on stderr so stdout stays machine-readable, and
``--quiet`` (or a non-terminal stderr, as in batch jobs) selects :data:`udmt.progress.SILENT` instead.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichBar, TaskID, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)  # fmt: skip

from udmt.progress import SILENT, Progress


class RichProgress:
    """One rich bar per ``start``/``stop`` loop; rate-limited redraws keep it cheap inside tight loops."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._bar: RichBar | None = None
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        self.stop()
        self._bar = RichBar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=self._console,
                            transient=False, refresh_per_second=5)  # fmt: skip
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None


def progress_for(quiet: bool) -> Progress:
    """The hook a command passes to its stage: a bar on an interactive stderr unless ``quiet``."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return SILENT
    return RichProgress(console)
