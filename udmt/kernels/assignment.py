"""Dense linear assignment (``udmt._core``): shortest augmenting paths, Jonker–Volgenant style.

Same contract as ``scipy.optimize.linear_sum_assignment`` for minimisation: ``(rows, cols)`` int64, rows
ascending, ``min(n, m)`` pairs; +inf marks a forbidden pair. A problem with no complete assignment avoiding
forbidden pairs, or with NaN / -inf costs, raises ``ValueError``. The batch form solves many equally-sized
problems in one call (OpenMP over the batch), which is what per-frame identity assignment needs.
"""

from __future__ import annotations

import numpy as np

from udmt.kernels.runtime import core as _core


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of a 2-D cost matrix (converted to float64)."""
    return _core.linear_sum_assignment(np.ascontiguousarray(cost, dtype=np.float64))


def linear_sum_assignment_batch(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Assignments of a (B, n, m) stack: ``rows``, ``cols`` of shape (B, min(n, m)).

    The ValueError for an infeasible or invalid matrix names its index in the batch.
    """
    return _core.linear_sum_assignment_batch(np.ascontiguousarray(costs, dtype=np.float64))
