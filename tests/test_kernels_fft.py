"""udmt.kernels.rfft2 / irfft2 (our radix-8/4/2 FFT) against numpy.fft in float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udmt import kernels
from udmt.kernels import reference

# Radix plans 8·8, 8·8·2, 8·8·4, 8·4, 8·2, 4, 2 and 1; the 8 × 8 block transposes (H and W/2 multiples of 8: all
# but the last four) and the element-wise path; the largest supported side.
SHAPES = [
    (16, 16), (64, 64), (128, 128), (256, 256), (32, 128), (256, 16), (128, 64), (8, 16), (1024, 32),
    (16, 8), (1, 2), (2, 4), (8, 2),
]


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


@pytest.mark.parametrize(("h", "w"), SHAPES)
def test_rfft2_matches_numpy(h: int, w: int) -> None:
    x = np.random.default_rng(h * 1000 + w).standard_normal((3, h, w)).astype(np.float32)
    got = kernels.rfft2(x)
    assert got.dtype == np.complex64 and got.shape == (3, h, w // 2 + 1)
    assert relative_error(got, np.fft.rfft2(x.astype(np.float64))) < 1e-6


@pytest.mark.parametrize(("h", "w"), SHAPES)
def test_irfft2_matches_numpy_on_any_half_spectrum(h: int, w: int) -> None:
    rng = np.random.default_rng(h * 1000 + w + 1)
    spec = (rng.standard_normal((2, h, w // 2 + 1)) + 1j * rng.standard_normal((2, h, w // 2 + 1))).astype(np.complex64)
    got = kernels.irfft2(spec)
    assert got.dtype == np.float32 and got.shape == (2, h, w)
    # Not Hermitian: numpy ignores the imaginary parts of columns 0 and W/2, and so must we.
    assert relative_error(got, np.fft.irfft2(spec.astype(np.complex128), s=(h, w))) < 1e-6


def test_round_trip_keeps_leading_axes() -> None:
    x = np.random.default_rng(7).standard_normal((2, 3, 4, 32, 64)).astype(np.float32)
    spec = kernels.rfft2(x)
    assert spec.shape == (2, 3, 4, 32, 33)
    np.testing.assert_allclose(kernels.irfft2(spec), x, atol=2e-6)


def test_reference_is_numpy_layout() -> None:
    x = np.random.default_rng(8).standard_normal((2, 16, 32)).astype(np.float32)
    assert relative_error(reference.rfft2(x), np.fft.rfft2(x.astype(np.float64))) < 1e-6
    np.testing.assert_allclose(reference.irfft2(reference.rfft2(x)), x, atol=2e-6)


@pytest.mark.parametrize("shape", [(3, 64), (64, 48), (2048, 2), (16, 1), (8,)])
def test_rejects_sizes_that_are_not_supported_powers_of_two(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        kernels.rfft2(np.zeros(shape, dtype=np.float32))


@settings(max_examples=40, deadline=None)
@given(
    log_h=st.integers(0, 8),
    log_w=st.integers(1, 8),
    batch=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_shapes_round_trip(log_h: int, log_w: int, batch: int, seed: int) -> None:
    h, w = 2**log_h, 2**log_w
    x = np.random.default_rng(seed).uniform(-1e3, 1e3, (batch, h, w)).astype(np.float32)
    spec = kernels.rfft2(x)
    if batch:
        assert relative_error(spec, np.fft.rfft2(x.astype(np.float64))) < 2e-6
    np.testing.assert_allclose(kernels.irfft2(spec), x, atol=2e-3)
