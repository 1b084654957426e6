"""Progress reporting hooks.

Stages never print: they take a :class:`Progress` and call it. The CLI passes a rich progress bar, batch
runs (``--quiet``) and tests pass :data:`SILENT`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress of one long loop: ``start`` once, ``advance`` as work completes, ``stop`` at the end."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...

    def stop(self) -> None: ...


class _Silent:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


SILENT: Progress = _Silent()
