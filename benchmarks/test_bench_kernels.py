"""Kernel benchmarks: each C++ kernel beside its numpy/scipy reference, so ratios come from one run.

Run: .venv/bin/python -m pytest benchmarks/test_bench_kernels.py --benchmark-enable --benchmark-only
Each benchmark group holds one kernel and its baseline; compare their min/median times within the group.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.optimize

from udmt import kernels
from udmt.kernels import reference

rng = np.random.default_rng(0)


# ---- FFT: 1024 planes, against scipy.fft with 2 workers ---------------------------------------------------
@pytest.fixture(scope="module", params=[64, 128], ids=lambda s: f"{s}x{s}")
def planes(request: pytest.FixtureRequest) -> np.ndarray:
    return rng.standard_normal((1024, request.param, request.param)).astype(np.float32)


def test_rfft2_udmt(benchmark, planes: np.ndarray) -> None:
    benchmark.group = f"rfft2 1024x{planes.shape[1]}x{planes.shape[2]}"
    benchmark.pedantic(kernels.rfft2, args=(planes,), rounds=15, warmup_rounds=1)


def test_rfft2_scipy(benchmark, planes: np.ndarray) -> None:
    benchmark.group = f"rfft2 1024x{planes.shape[1]}x{planes.shape[2]}"
    benchmark.pedantic(scipy.fft.rfft2, args=(planes,), kwargs={"workers": 2}, rounds=15, warmup_rounds=1)


def test_irfft2_udmt(benchmark, planes: np.ndarray) -> None:
    spectrum = kernels.rfft2(planes)
    benchmark.group = f"irfft2 1024x{planes.shape[1]}x{planes.shape[2]}"
    benchmark.pedantic(kernels.irfft2, args=(spectrum,), rounds=15, warmup_rounds=1)


def test_irfft2_scipy(benchmark, planes: np.ndarray) -> None:
    spectrum = kernels.rfft2(planes)
    benchmark.group = f"irfft2 1024x{planes.shape[1]}x{planes.shape[2]}"
    benchmark.pedantic(scipy.fft.irfft2, args=(spectrum,), kwargs={"workers": 2}, rounds=15, warmup_rounds=1)


# ---- DCF: fused detect + update, 10 animals x 32 channels x 64x64 -----------------------------------------
A, C, S = 10, 32, 64


@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "numpy_scipy"])
def test_dcf_detect_update(benchmark, impl) -> None:
    yf, window = kernels.label_spectrum(S, S, 2.0), kernels.cosine_window(S, S)
    x = rng.standard_normal((A, C, S, S)).astype(np.float32)
    z = np.roll(x, (2, -1), axis=(2, 3)) + 0.1 * rng.standard_normal((A, C, S, S)).astype(np.float32)
    num, den = impl.dcf_learn(x, yf, window=window)
    benchmark.group = f"dcf detect+update {A}x{C}x{S}x{S}"
    benchmark.pedantic(
        impl.dcf_detect_update, args=(num, den, z, x, yf, 1e-2, 0.02), kwargs={"window": window}, rounds=20,
        warmup_rounds=1,
    )


# ---- assignment -------------------------------------------------------------------------------------------
def test_lsap_batch_udmt(benchmark) -> None:
    costs = np.random.default_rng(1).random((10_000, 10, 10))
    benchmark.group = "assignment 10000 x 10x10"
    benchmark.pedantic(kernels.linear_sum_assignment_batch, args=(costs,), rounds=15, warmup_rounds=1)


def test_lsap_batch_scipy_loop(benchmark) -> None:
    costs = np.random.default_rng(1).random((10_000, 10, 10))
    benchmark.group = "assignment 10000 x 10x10"
    benchmark.pedantic(lambda: [scipy.optimize.linear_sum_assignment(c) for c in costs], rounds=5, warmup_rounds=1)


@pytest.mark.parametrize(
    "solve", [kernels.linear_sum_assignment, scipy.optimize.linear_sum_assignment], ids=["udmt", "scipy"]
)
def test_lsap_1000(benchmark, solve) -> None:
    cost = np.random.default_rng(2).random((1000, 1000))
    benchmark.group = "assignment 1000x1000"
    benchmark.pedantic(solve, args=(cost,), rounds=5, warmup_rounds=1)


# ---- crop + resize: 10 windows of 64x64 from a 640x640 frame ----------------------------------------------
@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "numpy"])
def test_crop_resize(benchmark, impl) -> None:
    frame = rng.integers(0, 256, (640, 640), dtype=np.uint8)
    centres = rng.uniform(0, 640, (10, 2)).astype(np.float32)
    sides = np.full(10, 96.0, dtype=np.float32)
    benchmark.group = "crop_resize 10 x 64x64 from 640x640"
    benchmark.pedantic(impl.crop_resize, args=(frame, centres, sides, 64), rounds=200, warmup_rounds=5)


# ---- block mean: one 3712x3712 frame (a zebrafish arena) to working resolution, factor 6 -------------------
@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "numpy"])
def test_block_mean(benchmark, impl) -> None:
    frame = rng.integers(0, 256, (3712, 3712), dtype=np.uint8)
    benchmark.group = "block_mean 3712x3712 / 6"
    benchmark.pedantic(impl.block_mean, args=(frame, 6), rounds=30, warmup_rounds=2)


@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "reference"])
def test_label_blobs(benchmark, impl) -> None:
    """A working-resolution frame (1024² video at factor 3) with ten animal-sized blobs and speckle."""
    from scipy import ndimage

    mask = np.zeros((341, 341), bool)
    for x, y in rng.uniform(30, 310, (10, 2)).astype(int):
        mask[y - 8 : y + 8, x - 14 : x + 14] = True
    mask |= ndimage.binary_dilation(rng.random((341, 341)) > 0.995)
    diff = np.where(mask, 30.0, 0.0).astype(np.float32)
    benchmark.group = "label_blobs 341x341, 10 animals"
    benchmark.pedantic(impl.label_blobs, args=(mask, diff, 20.0, 40.0), rounds=50, warmup_rounds=2)


@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "reference"])
def test_split_blob(benchmark, impl) -> None:
    """Three touching mice at working resolution: ~1300 pixels."""
    x, y = rng.integers(0, 60, 1300), rng.integers(0, 25, 1300)
    weights = rng.uniform(0, 30, 1300)
    starts = np.array([[10.0, 12.0], [30.0, 12.0], [50.0, 12.0]])
    benchmark.group = "split_blob 1300 px into 3"
    benchmark.pedantic(impl.split_blob, args=(x, y, weights, starts), rounds=100, warmup_rounds=2)


@pytest.mark.parametrize("impl", [kernels, reference], ids=["udmt", "reference"])
def test_split_blob_shaped(benchmark, impl) -> None:
    """The same three mice shared by their body shapes (the k-means, then 8 shaped rounds)."""
    x, y = rng.integers(0, 60, 1300), rng.integers(0, 25, 1300)
    weights = rng.uniform(0, 30, 1300)
    starts = np.array([[10.0, 12.0], [30.0, 12.0], [50.0, 12.0]])
    body = ((24.0 / 4) ** 2, (7.0 / np.pi) ** 2)  # a 24 px mouse of 170 px² at working resolution
    benchmark.group = "split_blob_shaped 1300 px into 3"
    benchmark.pedantic(impl.split_blob_shaped, args=(x, y, weights, starts, np.ones(3), body), rounds=100,
                       warmup_rounds=2)
