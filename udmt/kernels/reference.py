"""Plain numpy/scipy definitions of every kernel in :mod:`udmt.kernels`, with the same signatures.

These are the specifications the tests compare the C++ kernels against, and the baselines of the kernel
benchmarks. They favour clarity over speed, but use scipy.fft with all cores (``workers=-1``) so that the
benchmark ratios are against a fair numpy/scipy implementation of the same maths.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.optimize

from udmt.kernels.dcf import Detection, check_state, per_animal

_WORKERS = -1  # scipy.fft: use every core


def rfft2(x: np.ndarray) -> np.ndarray:
    """numpy.fft.rfft2 layout and scaling, float32 in, complex64 out."""
    return scipy.fft.rfft2(np.asarray(x, dtype=np.float32), workers=_WORKERS)


def irfft2(spectrum: np.ndarray) -> np.ndarray:
    """numpy.fft.irfft2 with the output width 2*(K-1) implied by the half spectrum."""
    spectrum = np.asarray(spectrum, dtype=np.complex64)
    h, k = spectrum.shape[-2:]
    return scipy.fft.irfft2(spectrum, s=(h, 2 * (k - 1)), workers=_WORKERS)


def _spectra(x: np.ndarray, window: np.ndarray | None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return rfft2(x if window is None else x * np.asarray(window, dtype=np.float32))


def dcf_learn(x: np.ndarray, yf: np.ndarray, *, window: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """num = conj(Ŷ)·X̂ per channel, den = Σ_c |X̂|²."""
    spec = _spectra(x, window)
    num = (np.conj(np.asarray(yf, dtype=np.complex64)) * spec).astype(np.complex64)
    den = (spec.real**2 + spec.imag**2).sum(axis=1, dtype=np.float32)
    return num, den


def dcf_update(
    num: np.ndarray,
    den: np.ndarray,
    x: np.ndarray,
    yf: np.ndarray,
    eta: float | np.ndarray,
    *,
    window: np.ndarray | None = None,
) -> None:
    """Running average with rate η (per animal), in place."""
    check_state(num, den)
    new_num, new_den = dcf_learn(x, yf, window=window)
    rate = per_animal(eta, num.shape[0])
    num *= (1 - rate)[:, None, None, None]
    num += rate[:, None, None, None] * new_num
    den *= (1 - rate)[:, None, None]
    den += rate[:, None, None] * new_den


def response_peaks(response: np.ndarray, psr_radius: int) -> Detection:
    """Integer and parabolic sub-pixel peak, value and PSR of each (H, W) response map."""
    a, h, w = response.shape
    if not 0 <= psr_radius or not 2 * psr_radius + 1 < min(h, w):
        raise ValueError("psr_radius must leave a sidelobe: 0 <= 2 * psr_radius + 1 < min(H, W)")
    animals = np.arange(a)
    iy, ix = np.divmod(response.reshape(a, h * w).argmax(axis=1), w)
    value = response[animals, iy, ix]

    def vertex(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        curvature = left - 2 * value + right
        safe = np.where(curvature < 0, curvature, 1)
        return np.where(curvature < 0, 0.5 * (left - right) / safe, 0).astype(np.float32)

    dx = vertex(response[animals, iy, (ix - 1) % w], response[animals, iy, (ix + 1) % w])
    dy = vertex(response[animals, (iy - 1) % h, ix], response[animals, (iy + 1) % h, ix])
    peak = np.stack([ix - w // 2, iy - h // 2], axis=1).astype(np.int32)
    offset = peak.astype(np.float32) + np.stack([dx, dy], axis=1)

    span = np.arange(-psr_radius, psr_radius + 1)
    rows = (iy[:, None] + span) % h
    cols = (ix[:, None] + span) % w
    sidelobe = response.astype(np.float64)
    sidelobe[animals[:, None, None], rows[:, :, None], cols[:, None, :]] = np.nan
    mean = np.nanmean(sidelobe, axis=(1, 2))
    std = np.nanstd(sidelobe, axis=(1, 2))
    psr = np.where(std > 0, (value - mean) / np.where(std > 0, std, 1), 0).astype(np.float32)
    return Detection(offset=offset, peak=peak, value=value.astype(np.float32), psr=psr)


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
    """R = irfft2(Σ_c conj(num)·Ẑ / (den + λ)) and its peaks."""
    acc = (np.conj(num) * _spectra(z, window)).sum(axis=1) / (den + np.float32(lam))
    response = irfft2(acc).astype(np.float32)
    det = response_peaks(response, psr_radius)
    return Detection(det.offset, det.peak, det.value, det.psr, response if return_response else None)


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
    """dcf_detect with the current filters, then dcf_update."""
    det = dcf_detect(num, den, z, lam, window=window, psr_radius=psr_radius, return_response=return_response)
    dcf_update(num, den, x, yf, eta, window=window)
    return det


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's solver; raises ValueError for infeasible or invalid (NaN, -inf) matrices."""
    return scipy.optimize.linear_sum_assignment(np.asarray(cost, dtype=np.float64))


def linear_sum_assignment_batch(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One scipy call per matrix of a (B, n, m) stack, results stacked to (B, min(n, m))."""
    costs = np.asarray(costs, dtype=np.float64)
    b, n, m = costs.shape
    rows = np.empty((b, min(n, m)), dtype=np.int64)
    cols = np.empty_like(rows)
    for i, cost in enumerate(costs):
        rows[i], cols[i] = scipy.optimize.linear_sum_assignment(cost)
    return rows, cols


def crop_resize(frame: np.ndarray, centres: np.ndarray, sides: np.ndarray, size: int) -> np.ndarray:
    """Bilinear samples on a size × size grid spanning each window, borders replicated, float32 arithmetic."""
    image = np.asarray(frame, dtype=np.uint8).astype(np.float32)
    centres = np.asarray(centres, dtype=np.float32).reshape(-1, 2)
    sides = np.asarray(sides, dtype=np.float32).reshape(-1)
    h, w = image.shape
    scale = sides / np.float32(size)
    start = centres - np.float32(0.5) * sides[:, None] + np.float32(0.5) * scale[:, None]
    grid = np.arange(size, dtype=np.float32)
    sx = start[:, 0, None] + grid * scale[:, None]
    sy = start[:, 1, None] + grid * scale[:, None]
    fx, fy = np.floor(sx), np.floor(sy)
    wx, wy = sx - fx, sy - fy
    x0 = np.clip(fx, 0, w - 1).astype(np.intp)[:, None, :]
    x1 = np.clip(fx + 1, 0, w - 1).astype(np.intp)[:, None, :]
    y0 = np.clip(fy, 0, h - 1).astype(np.intp)[:, :, None]
    y1 = np.clip(fy + 1, 0, h - 1).astype(np.intp)[:, :, None]
    wx = wx[:, None, :]
    top = image[y0, x0] + wx * (image[y0, x1] - image[y0, x0])
    bottom = image[y1, x0] + wx * (image[y1, x1] - image[y1, x0])
    return (top + wy[:, :, None] * (bottom - top)).astype(np.float32)


def block_mean(frame: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each factor×factor block (float64 sums, one rounding to float32); partial blocks dropped."""
    h, w = frame.shape[0] // factor, frame.shape[1] // factor
    blocks = np.asarray(frame, dtype=np.float64)[: h * factor, : w * factor].reshape(h, factor, w, factor)
    return (blocks.sum(axis=(1, 3)) * (1.0 / factor**2)).astype(np.float32)


def label_blobs(mask: np.ndarray, diff: np.ndarray, seed: float,
                min_area: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[slice, slice]]]:  # fmt: skip
    """scipy.ndimage.label (4-connected), then keep the components with a pixel of diff > seed and at least
    min_area pixels, renumbered in order; float64 sums over the foreground pixels in raster order."""
    diff = np.asarray(diff, dtype=np.float32)
    labels, count = scipy.ndimage.label(np.asarray(mask, dtype=bool))
    fy, fx = np.nonzero(labels)
    index = labels[fy, fx]
    evidence = diff[fy, fx]
    areas = np.bincount(index, minlength=count + 1)[1:].astype(np.float64)
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[index[evidence.astype(np.float64) > seed]] = True
    keep = np.flatnonzero((areas >= min_area) & seeded[1:])
    remap = np.zeros(count + 1, dtype=np.int32)
    remap[keep + 1] = np.arange(1, len(keep) + 1, dtype=np.int32)
    labels, index = remap[labels], remap[index]
    weights = np.maximum(evidence.astype(np.float64), 0.0)
    total = np.bincount(index, weights, minlength=len(keep) + 1)[1:]
    cx = np.bincount(index, weights * fx, minlength=len(keep) + 1)[1:] / total
    cy = np.bincount(index, weights * fy, minlength=len(keep) + 1)[1:] / total
    slices = [s for s in scipy.ndimage.find_objects(labels) if s is not None]
    return labels, areas[keep], np.stack([cx, cy], axis=1).reshape(-1, 2), slices


def split_blob(x: np.ndarray, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, sizes: np.ndarray | None = None,
               iterations: int = 6) -> np.ndarray:  # fmt: skip
    """Weighted k-means: each iteration gives every pixel to the centre of least squared distance over its size
    (first on ties) and moves each centre that received weight to its pixels' weighted mean."""
    pts = np.stack([x, y], axis=1).astype(np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    centres = np.asarray(starts, dtype=np.float64).reshape(-1, 2).copy()
    sizes = np.ones(len(centres)) if sizes is None else np.asarray(sizes, dtype=np.float64)
    for _ in range(iterations):
        nearest = np.argmin(((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) / sizes[None], axis=1)
        for k in range(len(centres)):
            mine = nearest == k
            total = weights[mine].sum()
            if total > 0:
                centres[k] = (pts[mine] * weights[mine, None]).sum(axis=0) / total
    return centres


NO_AXIS = 1e-9  # px² per unit weight: below it the pixels have no principal axis (udmt.scene.NO_AXIS)


def _principal_angle(pts: np.ndarray, weights: np.ndarray, centre: np.ndarray, otherwise: float) -> float:
    """Angle of the principal axis of weighted pixels about ``centre``; ``otherwise`` where they have none (a
    point, or a round spread)."""
    dx, dy = pts[:, 0] - centre[0], pts[:, 1] - centre[1]
    sxy, sdiff = 2 * (weights * dx * dy).sum(), (weights * (dx * dx - dy * dy)).sum()
    return otherwise if np.hypot(sxy, sdiff) <= NO_AXIS * weights.sum() else float(0.5 * np.arctan2(sxy, sdiff))


def _shaped_fit(pts: np.ndarray, weights: np.ndarray, centres: np.ndarray, angles: np.ndarray, along: np.ndarray,
                across: np.ndarray, offset: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Hard EM of the animals' body Gaussians from (centres, angles), until no pixel changes animal or
    ``iterations`` rounds: the fitted centres and angles, and the weighted total of each pixel's least cost."""
    centres, angles = centres.copy(), angles.copy()
    owner = np.full(len(pts), -1)

    def assign() -> tuple[np.ndarray, float]:
        d = pts[:, None, :] - centres[None, :, :]
        cos, sin = np.cos(angles)[None], np.sin(angles)[None]
        u, v = d[..., 0] * cos + d[..., 1] * sin, d[..., 1] * cos - d[..., 0] * sin
        cost = u * u / along + v * v / across + offset
        nearest = np.argmin(cost, axis=1)
        return nearest, float((weights * cost[np.arange(len(pts)), nearest]).sum())

    for _ in range(iterations):
        nearest, _ = assign()
        if np.array_equal(nearest, owner):
            break
        owner = nearest
        for k in range(len(centres)):
            mine = nearest == k
            total = weights[mine].sum()
            if total > 0:
                centres[k] = (pts[mine] * weights[mine, None]).sum(axis=0) / total
                angles[k] = _principal_angle(pts[mine], weights[mine], centres[k], angles[k])
    return centres, angles, assign()[1]


def split_blob_shaped(x: np.ndarray, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
                      shape: tuple[float, float], angles: np.ndarray | None = None, iterations: int = 6,
                      shaped_iterations: int = 32) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``split_blob``, then each animal a Gaussian of variances ``shape`` = (along, across its body) × its size,
    turned to its body axis: each round gives every pixel to the animal of least Mahalanobis distance +
    log-determinant - 2 log(share of the sizes) (first on ties), then moves each animal that received weight to its
    pixels' weighted mean and turns it to their principal axis, until no pixel changes animal (at most
    ``shaped_iterations`` rounds). Started from ``angles`` (NaN or None: the axis of the animal's k-means pixels)
    and, where any was given, from the k-means axes alone; the fit of least total cost wins (the given start on
    ties). Returns the centres and the axes' angles."""
    pts = np.stack([x, y], axis=1).astype(np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    centres = split_blob(x, y, weights, starts, sizes, iterations)
    nearest = np.argmin(((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) / sizes[None], axis=1)
    cell_axes = np.array([_principal_angle(pts[nearest == k], weights[nearest == k], centre, 0.0)
                          for k, centre in enumerate(centres)])
    given = np.full(len(centres), np.nan) if angles is None else np.asarray(angles, dtype=np.float64)
    along, across = shape[0] * sizes, shape[1] * sizes
    offset = np.log(along * across) - 2 * np.log(sizes / sizes.sum())
    fit = _shaped_fit(pts, weights, centres, np.where(np.isnan(given), cell_axes, given), along, across, offset,
                      shaped_iterations)
    if not np.isnan(given).all():
        other = _shaped_fit(pts, weights, centres, cell_axes, along, across, offset, shaped_iterations)
        fit = other if other[2] < fit[2] else fit
    return fit[0], fit[1]
