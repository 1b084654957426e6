"""Real 2-D FFT of power-of-two planes (our own radix-4 Stockham FFT in ``udmt._core``).

Layout and scaling are numpy's: ``rfft2`` maps (..., H, W) float32 to the half spectrum (..., H, W//2+1)
complex64, unscaled; ``irfft2`` maps it back, scaled by 1/(H W), ignoring the imaginary parts of columns 0
and W/2 as numpy does. H and W must be powers of two (H in 1..1024, W in 2..1024); the batch is split over
OpenMP threads, so one call with many planes is much faster than many calls.
"""

from __future__ import annotations

import numpy as np

from udmt.kernels.runtime import core as _core


def rfft2(x: np.ndarray) -> np.ndarray:
    """Half spectrum of each (H, W) plane of ``x`` (converted to C-contiguous float32)."""
    return _core.rfft2(np.ascontiguousarray(x, dtype=np.float32))


def irfft2(spectrum: np.ndarray) -> np.ndarray:
    """Real planes (..., H, 2*(K-1)) from half spectra (..., H, K)."""
    return _core.irfft2(np.ascontiguousarray(spectrum, dtype=np.complex64))
