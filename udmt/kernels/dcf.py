"""Multi-channel discriminative correlation filter (DESIGN.md §2), one call per frame for all animals.

Conventions (shared with the differentiable torch DCF in ``udmt.model``):

* features ``x``/``z``: (A, C, H, W) float32 for A animals, C channels, power-of-two H, W; the optional
  ``window`` (H, W) multiplies every plane before its FFT (pass :func:`cosine_window`, or ``None`` when the
  caller already applied it);
* ``yf``: :func:`label_spectrum`, the rfft2 of a Gaussian of peak 1 centred at (row H//2, column W//2);
* filter state: ``num`` (A, C, H, W//2+1) complex64 and ``den`` (A, H, W//2+1) float32, with
  X̂ = rfft2(window·x): ``num[a, c] = conj(Ŷ)·X̂[a, c]``, ``den[a] = Σ_c |X̂[a, c]|²``;
* update: ``num ← (1−η)·num + η·num_new`` and likewise ``den`` (η scalar or one per animal), in place;
* detect: ``R[a] = irfft2(Σ_c conj(num[a, c])·Ẑ[a, c] / (den[a] + λ))``; with z = x, R ≈ the label.

A :class:`Detection` holds the peak of each response as an offset (dx, dy) from the patch centre in patch
pixels, refined to sub-pixel by a parabola through the peak's neighbours (circularly), the peak value and the
peak-to-sidelobe ratio, PSR = (peak − mean) / std over all pixels outside the (2r+1)² window around the peak.
:func:`dcf_detect_update` is the per-frame hot path: detect on ``z`` with the current filters, then update
them from ``x``, touching each animal's data once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udmt.kernels.runtime import core as _core


@dataclass(frozen=True)
class Detection:
    """Per-animal peaks of the DCF responses (offsets from the patch centre, in patch pixels)."""

    offset: np.ndarray  # (A, 2) float32: (dx, dy), integer peak plus parabolic sub-pixel refinement
    peak: np.ndarray  # (A, 2) int32: (dx, dy) of the integer peak
    value: np.ndarray  # (A,) float32: response at the integer peak
    psr: np.ndarray  # (A,) float32: peak-to-sidelobe ratio (0 for a flat sidelobe)
    response: np.ndarray | None = None  # (A, H, W) float32 when asked for


def gaussian_label(height: int, width: int, sigma: float) -> np.ndarray:
    """(H, W) float32 Gaussian of peak 1 at (row H//2, column W//2): the ideal response."""
    ys = (np.arange(height) - height // 2) ** 2
    xs = (np.arange(width) - width // 2) ** 2
    return np.exp(-(ys[:, None] + xs[None, :]) / (2.0 * sigma**2)).astype(np.float32)


def label_spectrum(height: int, width: int, sigma: float) -> np.ndarray:
    """``yf``: rfft2 of :func:`gaussian_label`, (H, W//2+1) complex64 (computed in float64)."""
    return np.fft.rfft2(gaussian_label(height, width, sigma).astype(np.float64)).astype(np.complex64)


def cosine_window(height: int, width: int) -> np.ndarray:
    """(H, W) float32 periodic Hann window; its maximum 1 sits at the patch centre (H//2, W//2)."""
    def hann(n: int) -> np.ndarray:
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)

    return np.outer(hann(height), hann(width)).astype(np.float32)


def per_animal(eta: float | np.ndarray, animals: int) -> np.ndarray:
    """Learning rate(s) as an (A,) float32 array."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(eta, dtype=np.float32), (animals,)))


def check_state(num: np.ndarray, den: np.ndarray) -> None:
    """The filter state is updated in place, so it must already be C-contiguous complex64 / float32."""
    for name, arr, dtype in (("num", num, np.complex64), ("den", den, np.float32)):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or not arr.flags.c_contiguous:
            kind = np.dtype(dtype).name
            raise ValueError(f"DCF state {name} must be a C-contiguous {kind} array (as dcf_learn returns)")


def _features(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _window(window: np.ndarray | None) -> np.ndarray | None:
    return None if window is None else np.ascontiguousarray(window, dtype=np.float32)


def _label(yf: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(yf, dtype=np.complex64)


def _detection(result: tuple) -> Detection:
    offset, peak, value, psr, response = result
    return Detection(offset=offset, peak=peak, value=value, psr=psr, response=response)


def dcf_learn(x: np.ndarray, yf: np.ndarray, *, window: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """New filter state ``(num, den)`` from features (A, C, H, W)."""
    return _core.dcf_learn(_features(x), _label(yf), _window(window))


def dcf_update(
    num: np.ndarray,
    den: np.ndarray,
    x: np.ndarray,
    yf: np.ndarray,
    eta: float | np.ndarray,
    *,
    window: np.ndarray | None = None,
) -> None:
    """Blend the filters learnt from ``x`` into ``num``/``den`` in place with rate ``eta``."""
    check_state(num, den)
    x = _features(x)
    _core.dcf_update(num, den, x, _label(yf), per_animal(eta, x.shape[0]), _window(window))


def dcf_detect(
    num: np.ndarray,
    den: np.ndarray,
    z: np.ndarray,
    lam: float,
    *,
    window: np.ndarray | None = None,
    psr_radius: int = 5,
    return_response: bool = False,
) -> Detection:
    """Peaks of the filter responses to features ``z`` (A, C, H, W); λ = ``lam`` regularises."""
    return _detection(
        _core.dcf_detect(num, den, _features(z), float(lam), _window(window), psr_radius, return_response)
    )


def dcf_detect_update(
    num: np.ndarray,
    den: np.ndarray,
    z: np.ndarray,
    x: np.ndarray,
    yf: np.ndarray,
    lam: float,
    eta: float | np.ndarray,
    *,
    window: np.ndarray | None = None,
    psr_radius: int = 5,
    return_response: bool = False,
) -> Detection:
    """:func:`dcf_detect` on ``z`` with the current filters, then :func:`dcf_update` from ``x``, in one pass."""
    check_state(num, den)
    z = _features(z)
    return _detection(
        _core.dcf_detect_update(
            num, den, z, _features(x), _label(yf), float(lam), per_animal(eta, z.shape[0]), _window(window),
            psr_radius, return_response,
        )
    )
