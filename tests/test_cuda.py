"""The GPU kernels (``udmt.kernels.cuda``) against the CPU kernels and definitions, and the GPU tracker against the
CPU one. Without a CUDA device these tests skip with the reason; the build and the CPU fallback are tested
everywhere."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from udmt import kernels
from udmt.cli.app import run_app
from udmt.errors import EXIT_USAGE
from udmt.errors import UsageError
from udmt.filters import engine_for, filter_bank, peak_and_psr
from udmt.kernels import cuda
from udmt.model import FeatureNet, gaussian_label, shift_spectrum
from udmt.params import Params
from udmt.scene import Scene
from udmt.track import ChunkTracks

NO_GPU = cuda.unavailable()
needs_gpu = pytest.mark.skipif(NO_GPU is not None, reason=f"needs a CUDA device: {NO_GPU}")
SIDES = [8, 16, 32, 64]


def gpu(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).cuda()


def host(t: torch.Tensor) -> np.ndarray:
    return t.cpu().numpy()


# -- everywhere ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc: udmt._cuda is not built here")
def test_the_cuda_module_is_built_and_imports_without_a_device() -> None:
    """UDMT_CUDA=AUTO builds udmt._cuda wherever nvcc is found (so CI compiles every kernel), and the module loads
    on machines without a driver."""
    from udmt import _cuda

    assert _cuda.device_count() >= 0 and _cuda.max_fft_side == cuda.MAX_FFT_SIDE


@pytest.mark.skipif(NO_GPU is None, reason="a CUDA device is available here")
def test_device_cuda_without_a_device_is_a_usage_error(synth_video_factory: Callable[..., Path], tmp_path: Path,
                                                       capsys) -> None:  # fmt: skip
    video = synth_video_factory("mice", n_frames=24, n_animals=2, size=160) / "video.mp4"
    assert run_app(["track", str(video), "-n", "2", "-o", str(tmp_path / "x.zarr"), "--device", "cuda"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("udmt: error: --device cuda:") and "--device cpu" in err and len(err.splitlines()) == 1
    assert engine_for("auto") == "kernels" and engine_for("cpu") == "kernels"


def test_a_patch_too_large_for_the_gpu_fft_is_a_usage_error() -> None:
    """Refused before anything touches the GPU, so this runs everywhere."""
    scene = Scene(factor=1, polarity=1, noise=1.0, threshold=10.0, animal_area=100.0, body_length=20.0, n_animals=1,
                  animals_seen=1, background=np.zeros((64, 64), np.float32))
    with pytest.raises(UsageError, match="patch 256: the GPU engine takes patches up to 128"):
        filter_bank("cuda", scene, FeatureNet(), Params(patch=256), 60.0)


# -- on a GPU -----------------------------------------------------------------------------------------------


@needs_gpu
def test_crop_resize_matches_the_cpu_kernel() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (97, 131), dtype=np.uint8)
    centres = np.array([[0, 0], [130.4, 96.6], [65.2, 48.7], [-20, 50], [60, 200]], np.float32)
    sides = np.array([10, 33.3, 64, 80, 5], np.float32)
    expected = kernels.crop_resize(frame, centres, sides, 32)
    got = host(cuda.crop_resize(gpu(frame), gpu(centres), gpu(sides), 32))
    np.testing.assert_array_equal(got, expected)  # same arithmetic in the same order: the same bits


@needs_gpu
@pytest.mark.parametrize("side", SIDES)
def test_fft_matches_numpy(side: int) -> None:
    rng = np.random.default_rng(side)
    planes = rng.normal(size=(3, 5, side, side)).astype(np.float32)
    spectrum = host(cuda.rfft2(gpu(planes)))
    np.testing.assert_allclose(spectrum, np.fft.rfft2(planes.astype(np.float64)), atol=2e-4 * side)
    # Any half spectrum, not only a real plane's: the DC and Nyquist columns' imaginary parts must be ignored.
    half = (rng.normal(size=(7, side, side // 2 + 1)) + 1j * rng.normal(size=(7, side, side // 2 + 1)))
    got = host(cuda.irfft2(gpu(half.astype(np.complex64))))
    np.testing.assert_allclose(got, np.fft.irfft2(half, s=(side, side)), atol=1e-5)


@needs_gpu
def test_fft_refuses_unsupported_sides() -> None:
    with pytest.raises(ValueError, match="power-of-two side"):
        cuda.rfft2(torch.zeros((2, 128, 128), device="cuda"))
    with pytest.raises(ValueError, match="contiguous CUDA"):
        cuda.rfft2(torch.zeros((2, 16, 16), device="cuda", dtype=torch.float64))


def _filters_case(side: int = 32, animals: int = 4, channels: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(side + animals)
    label = gaussian_label(side, 0.1 * side)
    return {
        "x": rng.normal(size=(animals, channels, side, side)).astype(np.float32),
        "z": rng.normal(size=(animals, channels, side, side)).astype(np.float32),
        "yf": torch.fft.rfft2(label).numpy(),
        "offsets": rng.uniform(-3, 3, (animals, 2)).astype(np.float32),
        "eta": rng.uniform(0, 1, animals).astype(np.float32),
    }


@needs_gpu
@pytest.mark.parametrize("side", [16, 32, 64])
def test_dcf_learn_and_update_match_the_cpu_definition(side: int) -> None:
    c = _filters_case(side)
    spectra = cuda.rfft2(gpu(c["x"]))
    num, den = cuda.dcf_learn(spectra, gpu(c["yf"]))
    ref_num, ref_den = kernels.dcf_learn(c["x"], c["yf"])
    np.testing.assert_allclose(host(num), ref_num, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(host(den), ref_den, rtol=1e-4, atol=1e-2)
    # A label moved by sub-pixel offsets: the torch definition's phase ramp (numpy frequencies, ky = -1/2 too).
    moved = shift_spectrum(torch.from_numpy(c["yf"]), torch.from_numpy(c["offsets"]), side).numpy()
    fresh = np.conj(moved)[:, None] * np.fft.rfft2(c["x"])
    blended_num, blended_den = num.clone(), den.clone()
    cuda.dcf_update(blended_num, blended_den, spectra, gpu(c["yf"]), gpu(c["offsets"]), gpu(c["eta"]))
    eta = c["eta"][:, None, None]
    np.testing.assert_allclose(host(blended_num), (1 - eta[:, None]) * ref_num + eta[:, None] * fresh,
                               rtol=1e-4, atol=1e-2)  # fmt: skip
    np.testing.assert_allclose(host(blended_den), ref_den, rtol=1e-4, atol=1e-2)  # |X̂|² does not move


@needs_gpu
def test_dcf_response_and_peaks_match_the_cpu_tracker() -> None:
    c = _filters_case()
    num, den = kernels.dcf_learn(c["x"], c["yf"])
    anchor_num, anchor_den = kernels.dcf_learn(c["x"][::-1].copy(), c["yf"])
    expected = (0.7 * kernels.dcf_detect(num, den, c["z"], 1e-2, return_response=True).response
                + 0.3 * kernels.dcf_detect(anchor_num, anchor_den, c["z"], 1e-2, return_response=True).response)
    response = cuda.dcf_response(gpu(num), gpu(den), gpu(anchor_num), gpu(anchor_den), cuda.rfft2(gpu(c["z"])),
                                 1e-2, (0.7, 0.3))  # fmt: skip
    np.testing.assert_allclose(host(response), expected, atol=1e-4 * np.abs(expected).max())
    offset, psr = cuda.peak_psr(gpu(expected))
    ref_offset, ref_psr = peak_and_psr(expected)
    np.testing.assert_allclose(host(offset), ref_offset, atol=1e-4)
    np.testing.assert_allclose(host(psr), ref_psr, rtol=1e-4)


@needs_gpu
def test_peak_psr_at_the_borders_and_on_ties() -> None:
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(5, 32, 32)).astype(np.float32)
    maps[np.arange(4), [0, 5, 16, 31], [31, 16, 0, 7]] += 9.0
    maps[4] = 1.0  # all equal: the first pixel, a flat sidelobe
    offset, psr = cuda.peak_psr(gpu(maps))
    ref_offset, ref_psr = peak_and_psr(maps)
    np.testing.assert_allclose(host(offset), ref_offset, atol=1e-4)
    np.testing.assert_allclose(host(psr), ref_psr, rtol=1e-4, atol=1e-3)


@needs_gpu
@pytest.mark.parametrize("shape", [(200, 10, 10), (50, 7, 12), (50, 12, 7), (9, 64, 64), (3, 1, 5)])
def test_batched_assignment_is_optimal(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    costs = rng.uniform(0, 100, shape)
    costs[rng.uniform(size=shape) < 0.1] = np.inf  # forbidden pairs (these stay feasible with this density)
    try:
        ref_rows, ref_cols = kernels.linear_sum_assignment_batch(costs)
    except ValueError:
        pytest.skip("this random draw is infeasible")
    rows, cols = (host(t) for t in cuda.linear_sum_assignment_batch(gpu(costs)))
    np.testing.assert_array_equal(rows, ref_rows)
    b = np.arange(shape[0])[:, None]
    np.testing.assert_allclose(costs[b, rows, cols].sum(axis=1), costs[b, ref_rows, ref_cols].sum(axis=1), rtol=1e-12)
    assert all(len(set(r)) == len(r) for r in cols.tolist())


@needs_gpu
def test_batched_assignment_names_the_bad_problem() -> None:
    costs = np.ones((4, 3, 3))
    costs[2, :, 0:2] = np.inf
    with pytest.raises(ValueError, match="cost matrix 2 of the batch is infeasible"):
        cuda.linear_sum_assignment_batch(gpu(costs))
    costs[2] = 1.0
    costs[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="cost matrix 1 of the batch is invalid"):
        cuda.linear_sum_assignment_batch(gpu(costs))


@needs_gpu
@pytest.mark.parametrize("scenario", ["mice", "worms"])
def test_the_gpu_tracker_tracks_like_the_cpu_one(track_with: Callable[..., ChunkTracks], scenario: str) -> None:
    cpu, gpu_tracks = track_with("kernels", scenario), track_with("cuda", scenario)
    np.testing.assert_allclose(gpu_tracks.position, cpu.position, atol=1e-2)
    np.testing.assert_allclose(gpu_tracks.confidence, cpu.confidence, atol=1e-3)
    np.testing.assert_array_equal(gpu_tracks.flags, cpu.flags)
    assert engine_for("auto") == "cuda"
