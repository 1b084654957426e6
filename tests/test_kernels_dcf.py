"""udmt.kernels DCF (learn / update / detect / fused) against the numpy reference and known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udmt import kernels
from udmt.kernels import reference

LAM = 1e-2


def features(seed: int, shape: tuple[int, int, int, int]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_detections_equal(got: kernels.Detection, want: kernels.Detection) -> None:
    np.testing.assert_array_equal(got.peak, want.peak)
    np.testing.assert_allclose(got.offset, want.offset, atol=1e-4)
    np.testing.assert_allclose(got.value, want.value, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got.psr, want.psr, rtol=1e-3, atol=1e-3)
    if want.response is not None:
        np.testing.assert_allclose(got.response, want.response, atol=1e-5 * np.abs(want.response).max())


@pytest.mark.parametrize("windowed", [False, True])
def test_learn_matches_reference(windowed: bool) -> None:
    x = features(0, (3, 4, 32, 64))
    yf = kernels.label_spectrum(32, 64, 2.0)
    window = kernels.cosine_window(32, 64) if windowed else None
    num, den = kernels.dcf_learn(x, yf, window=window)
    ref_num, ref_den = reference.dcf_learn(x, yf, window=window)
    assert num.dtype == np.complex64 and num.shape == (3, 4, 32, 33)
    assert den.dtype == np.float32 and den.shape == (3, 32, 33)
    np.testing.assert_allclose(num, ref_num, atol=2e-6 * np.abs(ref_num).max())
    np.testing.assert_allclose(den, ref_den, rtol=1e-5, atol=1e-6 * ref_den.max())


def test_detect_on_training_features_reproduces_the_label() -> None:
    x = features(1, (2, 8, 64, 64))
    label = kernels.gaussian_label(64, 64, 2.0)
    num, den = kernels.dcf_learn(x, kernels.label_spectrum(64, 64, 2.0))
    det = kernels.dcf_detect(num, den, x, 1e-6, return_response=True)
    np.testing.assert_allclose(det.response, np.broadcast_to(label, (2, 64, 64)), atol=1e-3)
    np.testing.assert_array_equal(det.peak, 0)
    np.testing.assert_allclose(det.offset, 0, atol=1e-4)
    np.testing.assert_allclose(det.value, 1, atol=1e-3)


def test_circular_shift_moves_the_peak_by_the_shift() -> None:
    x = features(2, (3, 4, 64, 32))
    num, den = kernels.dcf_learn(x, kernels.label_spectrum(64, 32, 1.5))
    z = np.roll(x, (5, -3), axis=(2, 3))  # 5 rows down, 3 columns left
    det = kernels.dcf_detect(num, den, z, LAM)
    np.testing.assert_array_equal(det.peak, np.tile([-3, 5], (3, 1)))
    np.testing.assert_allclose(det.offset, np.tile([-3.0, 5.0], (3, 1)), atol=0.05)
    assert (det.psr > 20).all()


@pytest.mark.parametrize("psr_radius", [0, 5, 9])
def test_detect_matches_reference(psr_radius: int) -> None:
    x, z = features(3, (4, 6, 32, 32)), features(4, (4, 6, 32, 32))
    z[:, :, 3:20, 5:25] += x[:, :, 3:20, 5:25]  # a displaced, noisy copy gives a clear but not perfect peak
    yf, window = kernels.label_spectrum(32, 32, 2.0), kernels.cosine_window(32, 32)
    num, den = reference.dcf_learn(x, yf, window=window)
    got = kernels.dcf_detect(num, den, z, LAM, window=window, psr_radius=psr_radius, return_response=True)
    want = reference.dcf_detect(num, den, z, LAM, window=window, psr_radius=psr_radius, return_response=True)
    assert got.offset.dtype == np.float32 and got.peak.dtype == np.int32
    assert_detections_equal(got, want)


def test_update_matches_reference_with_per_animal_rates() -> None:
    x, x_new = features(5, (3, 5, 16, 32)), features(6, (3, 5, 16, 32))
    yf = kernels.label_spectrum(16, 32, 1.0)
    eta = np.array([0.0, 0.1, 1.0], dtype=np.float32)
    num, den = kernels.dcf_learn(x, yf)
    ref_num, ref_den = num.copy(), den.copy()
    kernels.dcf_update(num, den, x_new, yf, eta)
    reference.dcf_update(ref_num, ref_den, x_new, yf, eta)
    np.testing.assert_allclose(num, ref_num, atol=2e-6 * np.abs(ref_num).max())
    np.testing.assert_allclose(den, ref_den, rtol=1e-5, atol=1e-6 * ref_den.max())
    fresh_num, _ = kernels.dcf_learn(x_new, yf)
    np.testing.assert_allclose(num[2], fresh_num[2], atol=1e-6 * np.abs(fresh_num).max())  # η = 1 replaces


def test_fused_step_equals_detect_then_update() -> None:
    x, z, x_new = features(7, (5, 4, 64, 64)), features(8, (5, 4, 64, 64)), features(9, (5, 4, 64, 64))
    yf, window = kernels.label_spectrum(64, 64, 2.0), kernels.cosine_window(64, 64)
    num, den = kernels.dcf_learn(x, yf, window=window)
    ref_num, ref_den = num.copy(), den.copy()
    got = kernels.dcf_detect_update(num, den, z, x_new, yf, LAM, 0.05, window=window, return_response=True)
    want = reference.dcf_detect_update(ref_num, ref_den, z, x_new, yf, LAM, 0.05, window=window, return_response=True)
    assert_detections_equal(got, want)
    np.testing.assert_allclose(num, ref_num, atol=2e-6 * np.abs(ref_num).max())
    np.testing.assert_allclose(den, ref_den, rtol=1e-5, atol=1e-6 * ref_den.max())


def test_flat_response_has_zero_psr() -> None:
    num = np.zeros((1, 1, 16, 9), dtype=np.complex64)
    den = np.ones((1, 16, 9), dtype=np.float32)
    det = kernels.dcf_detect(num, den, np.zeros((1, 1, 16, 16), np.float32), LAM)
    assert det.psr[0] == 0 and det.value[0] == 0
    np.testing.assert_array_equal(det.peak, [[-8, -8]])  # first maximum: pixel (0, 0)


def test_state_of_the_wrong_dtype_is_refused_not_copied() -> None:
    x = features(10, (1, 2, 16, 16))
    yf = kernels.label_spectrum(16, 16, 1.0)
    num, den = kernels.dcf_learn(x, yf)
    with pytest.raises(ValueError, match="num"):
        kernels.dcf_update(num.astype(np.complex128), den, x, yf, 0.1)
    with pytest.raises(ValueError, match="den"):
        kernels.dcf_detect_update(num, den[:, ::-1], x, x, yf, LAM, 0.1)


def test_shape_errors() -> None:
    x = features(11, (2, 3, 16, 16))
    yf = kernels.label_spectrum(16, 16, 1.0)
    num, den = kernels.dcf_learn(x, yf)
    with pytest.raises(ValueError, match="num"):
        kernels.dcf_detect(num, den, features(12, (2, 4, 16, 16)), LAM)
    with pytest.raises(ValueError, match="psr_radius"):
        kernels.dcf_detect(num, den, x, LAM, psr_radius=8)
    with pytest.raises(ValueError, match="power"):
        kernels.dcf_learn(features(13, (1, 1, 12, 16)), np.zeros((12, 9), np.complex64))


@settings(max_examples=25, deadline=None)
@given(
    animals=st.integers(0, 3),
    channels=st.integers(1, 4),
    log_h=st.integers(3, 6),
    log_w=st.integers(3, 6),
    eta=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_shapes_match_reference(
    animals: int, channels: int, log_h: int, log_w: int, eta: float, seed: int
) -> None:
    h, w = 2**log_h, 2**log_w
    shape = (animals, channels, h, w)
    x, z, x_new = features(seed, shape), features(seed + 1, shape), features(seed + 2, shape)
    z += 3 * x  # a clear peak, so that float rounding cannot change the argmax
    yf = kernels.label_spectrum(h, w, 1.5)
    num, den = reference.dcf_learn(x, yf)
    ref_num, ref_den = num.copy(), den.copy()
    got = kernels.dcf_detect_update(num, den, z, x_new, yf, LAM, eta, psr_radius=2)
    want = reference.dcf_detect_update(ref_num, ref_den, z, x_new, yf, LAM, eta, psr_radius=2)
    assert_detections_equal(got, want)
    np.testing.assert_allclose(num, ref_num, atol=2e-6 * max(np.abs(ref_num).max(initial=0), 1))
