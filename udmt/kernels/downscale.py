"""Block-mean downscaling of a uint8 frame to the working resolution (``udmt._core``)."""

from __future__ import annotations

import numpy as np

from udmt.kernels.runtime import core as _core


def block_mean(frame: np.ndarray, factor: int) -> np.ndarray:
    """(H // factor, W // factor) float32 means of factor×factor blocks; partial blocks at the edges are dropped.

    Every frame of a recording passes through it, so on a 3712² video it is a large share of a frame's cost.
    """
    return _core.block_mean(np.ascontiguousarray(frame, dtype=np.uint8), int(factor))
