"""What the feature net and the identity net share in training: seeded construction and Adam.

The two nets train side by side, in two threads (``udmt.pipeline``), so torch's global generator must not be
seeded by one while the other draws from it: :func:`seeded` builds a net under a lock.

Adam comes without ``torch.optim``'s ``Optimizer`` class: building any ``torch.optim.Optimizer`` imports
``torch._dynamo`` (``torch/_compile.py``), which took 1.8–2.5 s of a short clip's whole run on two cores (measured
on the sleap and zebrafish clips). Torch's functional ``torch.optim.adam.adam`` runs the same update the class
runs, and imports nothing: the nets train bit for bit as with ``torch.optim.Adam`` (``tests/test_optim.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch.optim.adam import adam

_SEEDING = threading.Lock()
Net = TypeVar("Net", bound=torch.nn.Module)


def seeded(build: Callable[[], Net], seed: int) -> Net:
    """``build()`` with torch's global generator seeded by ``seed``: the same initial weights whatever else runs."""
    with _SEEDING:
        torch.manual_seed(seed)
        return build()


class Adam:
    """``torch.optim.Adam(params, lr)`` with its default betas, eps and no weight decay: ``zero_grad`` and ``step``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float) -> None:
        self.params = list(params)
        self.lr = lr
        self._state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # step, mean, mean square

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (state created on its first, as torch does)."""
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i, p in live:
            if i not in self._state:
                zeros = torch.zeros_like(p, memory_format=torch.preserve_format)
                self._state[i] = (torch.tensor(0.0), zeros, zeros.clone())
        steps, means, squares = zip(*(self._state[i] for i, _ in live))
        adam([p for _, p in live], [p.grad for _, p in live], list(means), list(squares), [], list(steps),
             amsgrad=False, beta1=0.9, beta2=0.999, lr=self.lr, weight_decay=0.0, eps=1e-8, maximize=False)  # fmt: skip
