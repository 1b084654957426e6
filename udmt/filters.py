"""Each animal's appearance model in the tracker: learned features of its search window and a correlation-filter
bank on them (DESIGN.md §2), on one of three engines with the same maths.

* ``kernels`` — the C++ CPU kernels (``udmt.kernels``), the default without a GPU;
* ``reference`` — torch's FFTs (``udmt.model``, the definition the tests hold the kernels to);
* ``cuda`` — the GPU kernels (``udmt.kernels.cuda``) with the feature net on the GPU: a frame goes to the GPU
  once, and only the peaks (3 numbers per animal) come back to the host, where the blob stage needs them.

A bank holds two filters per animal, the running average and the anchor (its first clean appearance); the
response is 0.7·running + 0.3·anchor. :meth:`FilterBank.features` returns a backend-specific handle of a frame's
features that :meth:`respond` and :meth:`update` take back.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Generic, Literal, TypeVar

import numpy as np
import torch

from udmt import kernels, model
from udmt.errors import UsageError
from udmt.kernels import cuda
from udmt.model import FeatureNet, gaussian_label, hann_window, network_input, shift_spectrum
from udmt.params import Params
from udmt.scene import Scene

Engine = Literal["kernels", "reference", "cuda"]
RUNNING_WEIGHT, ANCHOR_WEIGHT = 0.7, 0.3
PSR_EXCLUDE = 5  # half side of the square around the peak left out of the sidelobe

F = TypeVar("F")  # a frame's features, as each engine keeps them


def engine_for(device: str) -> Engine:
    """The engine of a ``--device`` choice: ``auto`` takes the GPU when this build and machine can use it."""
    if device == "cpu":
        return "kernels"
    reason = cuda.unavailable()
    if device == "cuda":
        if reason is not None:
            raise UsageError(f"--device cuda: {reason}; use --device cpu")
        return "cuda"
    if device != "auto":
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}")
    return "cuda" if reason is None else "kernels"


class FilterBank(ABC, Generic[F]):
    """Features of N search windows and the filters that find each animal in them."""

    def __init__(self, scene: Scene, params: Params, window_side: float) -> None:
        self.scene = scene
        self.params = params
        self.window_side = window_side
        self.map_size = params.patch // 2
        self.background = np.clip(np.rint(scene.background), 0, 255).astype(np.uint8)

    @abstractmethod
    def features(self, luma: np.ndarray, centres: np.ndarray) -> F:
        """Features of the windows around ``centres`` (N, 2) working px of a working-resolution uint8 frame."""

    @abstractmethod
    def start(self, features: F) -> None:
        """First filters (and the anchors) from animals at the window centres."""

    @abstractmethod
    def respond(self, features: F) -> tuple[np.ndarray, np.ndarray]:
        """Each animal's response peak: offset (N, 2) from the window centre in map px (sub-pixel), and PSR (N,)."""

    @abstractmethod
    def update(self, features: F, offsets: np.ndarray, rate: np.ndarray) -> None:
        """Running average towards filters of animals at ``offsets`` (N, 2) map px, rate (N,) per animal."""


class HostFilters(FilterBank[np.ndarray]):
    """CPU engines: the C++ kernels, or torch's FFTs with ``reference``. Spectra follow ``udmt.kernels.dcf``."""

    def __init__(self, scene: Scene, net: FeatureNet, params: Params, window_side: float, reference: bool) -> None:
        super().__init__(scene, params, window_side)
        self.net = net
        self.reference = reference
        self.cosine = hann_window(self.map_size)
        self.label_f = torch.fft.rfft2(gaussian_label(self.map_size, params.label_sigma * self.map_size))
        self.label_np = self.label_f.numpy()

    def features(self, luma: np.ndarray, centres: np.ndarray) -> np.ndarray:
        centres32 = centres.astype(np.float32)
        sides = np.full(len(centres), self.window_side, dtype=np.float32)
        window = torch.from_numpy(kernels.crop_resize(luma, centres32, sides, self.params.patch))
        floor = torch.from_numpy(kernels.crop_resize(self.background, centres32, sides, self.params.patch))
        inputs = network_input(window, floor, self.scene.polarity, self.scene.threshold)
        with torch.no_grad():
            return (self.net(inputs) * self.cosine).numpy()

    def _learn(self, features: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filters for animals at ``offsets``. The kernels learn against the centred label only; a label moved by
        δ is the centred one times a phase ramp, so the numerator is the centred one times the conjugate ramp."""
        shift = torch.from_numpy(offsets.astype(np.float32))
        if self.reference:
            num, den = model.dcf_learn(torch.from_numpy(features), shift_spectrum(self.label_f, shift, self.map_size))
            return num.numpy(), den.numpy()
        num, den = kernels.dcf_learn(features, self.label_np)
        ramp = shift_spectrum(torch.ones_like(self.label_f), shift, self.map_size).conj().resolve_conj().numpy()
        return num * ramp[:, None], den

    def start(self, features: np.ndarray) -> None:
        self.num, self.den = self._learn(features, np.zeros((len(features), 2)))
        self.anchor_num, self.anchor_den = self.num.copy(), self.den.copy()

    def _detect(self, num: np.ndarray, den: np.ndarray, features: np.ndarray) -> np.ndarray:
        lam = self.params.filter_lambda
        if self.reference:
            return model.dcf_detect(*map(torch.from_numpy, (num, den, features)), lam).numpy()
        response = kernels.dcf_detect(num, den, features, lam, return_response=True).response
        assert response is not None
        return response

    def respond(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        running = self._detect(self.num, self.den, features)
        anchor = self._detect(self.anchor_num, self.anchor_den, features)
        return peak_and_psr(RUNNING_WEIGHT * running + ANCHOR_WEIGHT * anchor, PSR_EXCLUDE)

    def update(self, features: np.ndarray, offsets: np.ndarray, rate: np.ndarray) -> None:
        eta = rate.astype(np.float32)
        num, den = self._learn(features, offsets)
        self.num = (1 - eta)[:, None, None, None] * self.num + eta[:, None, None, None] * num
        self.den = (1 - eta)[:, None, None] * self.den + eta[:, None, None] * den


class CudaFilters(FilterBank[torch.Tensor]):
    """The GPU engine. Features are kept as their spectra (A, C, M, M/2+1), all state stays on the device."""

    def __init__(self, scene: Scene, net: FeatureNet, params: Params, window_side: float) -> None:
        super().__init__(scene, params, window_side)
        if self.map_size > cuda.MAX_FFT_SIDE:
            raise UsageError(f"patch {params.patch}: the GPU engine takes patches up to {2 * cuda.MAX_FFT_SIDE}; "
                             "use a smaller patch or --device cpu")
        self.device = torch.device("cuda")
        self.net = copy.deepcopy(net).to(self.device)  # the caller's net stays where it is
        self.cosine = hann_window(self.map_size).to(self.device)
        label = gaussian_label(self.map_size, params.label_sigma * self.map_size)
        self.label_f = torch.fft.rfft2(label).to(self.device)
        self.background_gpu = torch.from_numpy(self.background).to(self.device)

    def _upload(self, values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(self.device)

    def features(self, luma: np.ndarray, centres: np.ndarray) -> torch.Tensor:
        frame = torch.from_numpy(luma).to(self.device)
        where = self._upload(centres)
        sides = torch.full((len(centres),), self.window_side, dtype=torch.float32, device=self.device)
        window = cuda.crop_resize(frame, where, sides, self.params.patch)
        floor = cuda.crop_resize(self.background_gpu, where, sides, self.params.patch)
        inputs = network_input(window, floor, self.scene.polarity, self.scene.threshold)
        with torch.no_grad():
            return cuda.rfft2((self.net(inputs) * self.cosine).contiguous())

    def start(self, features: torch.Tensor) -> None:
        self.num, self.den = cuda.dcf_learn(features, self.label_f)
        self.anchor_num, self.anchor_den = self.num.clone(), self.den.clone()

    def respond(self, features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        response = cuda.dcf_response(self.num, self.den, self.anchor_num, self.anchor_den, features,
                                     self.params.filter_lambda, (RUNNING_WEIGHT, ANCHOR_WEIGHT))
        offset, psr = cuda.peak_psr(response, PSR_EXCLUDE)
        peaks = torch.cat([offset, psr[:, None]], dim=1).cpu().numpy().astype(np.float64)  # the one wait per frame
        return peaks[:, :2], peaks[:, 2]

    def update(self, features: torch.Tensor, offsets: np.ndarray, rate: np.ndarray) -> None:
        cuda.dcf_update(self.num, self.den, features, self.label_f, self._upload(offsets), self._upload(rate))


def filter_bank(engine: Engine, scene: Scene, net: FeatureNet, params: Params, window_side: float) -> FilterBank:
    if engine == "cuda":
        return CudaFilters(scene, net, params, window_side)
    return HostFilters(scene, net, params, window_side, reference=engine == "reference")


def peak_and_psr(response: np.ndarray, exclude: int = PSR_EXCLUDE) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peak (offset from the map centre, (N, 2) as x, y) and PSR of (N, M, M) response maps."""
    n, m, _ = response.shape
    flat = response.reshape(n, -1)
    idx = flat.argmax(axis=1)
    py, px = np.divmod(idx, m)
    rows = np.arange(n)

    def parabolic(c: np.ndarray, minus: np.ndarray, plus: np.ndarray) -> np.ndarray:
        denom = minus - 2 * c + plus
        return np.where(np.abs(denom) > 1e-12, 0.5 * (minus - plus) / np.where(denom == 0, 1, denom), 0.0)

    c = response[rows, py, px]
    dx = parabolic(c, response[rows, py, (px - 1) % m], response[rows, py, (px + 1) % m])
    dy = parabolic(c, response[rows, (py - 1) % m, px], response[rows, (py + 1) % m, px])
    offset = np.stack([px + np.clip(dx, -0.5, 0.5) - m // 2, py + np.clip(dy, -0.5, 0.5) - m // 2], axis=1)
    # Sidelobe = the map outside the (2·exclude+1)² square around the peak: its sums are the map's sums minus
    # the square's, read off integral images (no per-animal loop).
    r64 = response.astype(np.float64)
    lo_y, hi_y = np.maximum(py - exclude, 0), np.minimum(py + exclude, m - 1) + 1
    lo_x, hi_x = np.maximum(px - exclude, 0), np.minimum(px + exclude, m - 1) + 1
    count = m * m - (hi_y - lo_y) * (hi_x - lo_x)
    moments = []
    for values in (r64, r64 * r64):
        table = np.zeros((n, m + 1, m + 1))
        table[:, 1:, 1:] = values.cumsum(axis=1).cumsum(axis=2)
        square = table[rows, hi_y, hi_x] - table[rows, lo_y, hi_x] - table[rows, hi_y, lo_x] + table[rows, lo_y, lo_x]
        moments.append((table[:, m, m] - square) / count)
    mean, mean_sq = moments
    psr = (c - mean) / (np.sqrt(np.maximum(mean_sq - mean * mean, 0.0)) + 1e-9)
    return offset, psr
