"""Batched crop + bilinear resize of square search windows from one uint8 frame (``udmt._core``)."""

from __future__ import annotations

import numpy as np

from udmt.kernels.runtime import core as _core


def crop_resize(frame: np.ndarray, centres: np.ndarray, sides: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size) float32 windows of side ``sides[i]`` pixels centred on ``centres[i] = (x, y)``.

    Coordinates follow the OpenCV pixel-centre convention; pixels outside the frame repeat the border.
    """
    return _core.crop_resize(
        np.ascontiguousarray(frame, dtype=np.uint8),
        np.ascontiguousarray(centres, dtype=np.float32).reshape(-1, 2),
        np.ascontiguousarray(sides, dtype=np.float32).reshape(-1),
        int(size),
    )
