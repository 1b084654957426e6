"""GPU twins of the CPU kernels (``udmt._cuda``), on torch CUDA tensors.

Each function checks its tensors (device, dtype, shape), allocates the outputs with torch on the same device and
launches on torch's current stream, so it orders with the torch work around it and nothing crosses to the host;
only :func:`linear_sum_assignment_batch` waits for its result (to raise on an infeasible problem). The CPU
kernel (or, for :func:`peak_psr`, ``udmt.filters.peak_and_psr``) with the same name is the contract; the tests
compare each pair on a GPU.

``udmt._cuda`` is built wherever nvcc was found at install time (``UDMT_CUDA=AUTO``); :func:`unavailable`
says why the GPU path cannot run here, in words for an error message.
"""

from __future__ import annotations

from types import ModuleType

import torch

try:
    from udmt import _cuda as _built
except ImportError:  # built without nvcc
    _built = None


MAX_FFT_SIDE = 64  # the largest plane side of the shared-memory FFT (udmt._cuda.max_fft_side)


def unavailable() -> str | None:
    """None when the GPU kernels can run here, else the reason."""
    if _built is None:
        return "this udmt was built without CUDA (no nvcc when it was installed)"
    if not torch.cuda.is_available():
        return f"this torch ({torch.__version__}) has no CUDA device to use"
    if _built.device_count() == 0:
        return "no CUDA device is visible"
    return None


def _module() -> ModuleType:
    reason = unavailable()
    if reason is not None:
        raise RuntimeError(f"udmt GPU kernels: {reason}")
    assert _built is not None
    return _built


def _stream(t: torch.Tensor) -> int:
    return torch.cuda.current_stream(t.device).cuda_stream


def _check(name: str, t: torch.Tensor, dtype: torch.dtype, shape: tuple[int | None, ...]) -> None:
    """``t`` is a contiguous CUDA tensor of ``dtype`` whose shape matches ``shape`` (None: any size there)."""
    ok = (t.is_cuda and t.dtype == dtype and t.is_contiguous() and t.dim() == len(shape)
          and all(want is None or want == got for want, got in zip(shape, t.shape)))
    if not ok:
        raise ValueError(f"{name}: expected a contiguous CUDA {dtype} tensor of shape {shape}, "
                         f"got {t.dtype} {tuple(t.shape)} on {t.device}")


def _side(name: str, side: int) -> int:
    if side < 8 or side > MAX_FFT_SIDE or side & (side - 1):
        raise ValueError(f"{name}: planes must be square with a power-of-two side in [8, 64], got {side}")
    return side


def crop_resize(frame: torch.Tensor, centres: torch.Tensor, sides: torch.Tensor, size: int) -> torch.Tensor:
    """(n, size, size) float32 windows of a (H, W) uint8 frame; see :func:`udmt.kernels.crop_resize`."""
    n = centres.shape[0]
    _check("frame", frame, torch.uint8, (None, None))
    _check("centres", centres, torch.float32, (n, 2))
    _check("sides", sides, torch.float32, (n,))
    out = torch.empty((n, size, size), dtype=torch.float32, device=frame.device)
    _module().crop_resize(frame.data_ptr(), frame.shape[0], frame.shape[1], centres.data_ptr(), sides.data_ptr(), n,
                          int(size), out.data_ptr(), _stream(frame))
    return out


def rfft2(x: torch.Tensor) -> torch.Tensor:
    """rfft2 over the last two axes of (…, M, M) float32: (…, M, M/2+1) complex64."""
    m = _side("rfft2", x.shape[-1])
    _check("x", x, torch.float32, (*x.shape[:-2], m, m))
    out = torch.empty((*x.shape[:-2], m, m // 2 + 1), dtype=torch.complex64, device=x.device)
    _module().rfft2(x.data_ptr(), x.numel() // (m * m), m, out.data_ptr(), _stream(x))
    return out


def irfft2(spectrum: torch.Tensor) -> torch.Tensor:
    """irfft2 of (…, M, M/2+1) complex64 to (…, M, M) float32 (square planes)."""
    m = _side("irfft2", spectrum.shape[-2])
    _check("spectrum", spectrum, torch.complex64, (*spectrum.shape[:-2], m, m // 2 + 1))
    out = torch.empty((*spectrum.shape[:-2], m, m), dtype=torch.float32, device=spectrum.device)
    _module().irfft2(spectrum.data_ptr(), spectrum.numel() // (m * (m // 2 + 1)), m, out.data_ptr(), _stream(spectrum))
    return out


def _learn_call(spectra: torch.Tensor, yf: torch.Tensor, offsets: torch.Tensor | None, eta: torch.Tensor | None,
                num: torch.Tensor, den: torch.Tensor) -> None:
    a, c, m, k = spectra.shape
    _side("dcf_learn", m)
    _check("spectra", spectra, torch.complex64, (a, c, m, m // 2 + 1))
    _check("yf", yf, torch.complex64, (m, k))
    _check("num", num, torch.complex64, (a, c, m, k))
    _check("den", den, torch.float32, (a, m, k))
    for name, t, shape in (("offsets", offsets, (a, 2)), ("eta", eta, (a,))):
        if t is not None:
            _check(name, t, torch.float32, shape)
    _module().dcf_learn(spectra.data_ptr(), yf.data_ptr(), 0 if offsets is None else offsets.data_ptr(),
                        0 if eta is None else eta.data_ptr(), a, c, m, num.data_ptr(), den.data_ptr(), _stream(spectra))


def dcf_learn(spectra: torch.Tensor, yf: torch.Tensor,
              offsets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Filters ``(num, den)`` from feature spectra (A, C, M, K), the label moved by ``offsets`` (A, 2) = (dx, dy)
    map pixels (None: centred). With zero offsets: :func:`udmt.kernels.dcf_learn` on the features."""
    a, c, m, k = spectra.shape
    num = torch.empty_like(spectra)
    den = torch.empty((a, m, k), dtype=torch.float32, device=spectra.device)
    _learn_call(spectra, yf, offsets, None, num, den)
    return num, den


def dcf_update(num: torch.Tensor, den: torch.Tensor, spectra: torch.Tensor, yf: torch.Tensor,
               offsets: torch.Tensor | None, eta: torch.Tensor) -> None:
    """Blend the filters learnt from ``spectra`` (label moved by ``offsets``) into ``num``/``den`` in place,
    rate ``eta`` (A,) per animal."""
    _learn_call(spectra, yf, offsets, eta, num, den)


def dcf_response(num: torch.Tensor, den: torch.Tensor, anchor_num: torch.Tensor, anchor_den: torch.Tensor,
                 spectra: torch.Tensor, lam: float, weights: tuple[float, float]) -> torch.Tensor:
    """(A, M, M) response ``w₀·R(running) + w₁·R(anchor)`` of two filter banks to feature spectra (A, C, M, K);
    each R as :func:`udmt.kernels.dcf_detect`'s response."""
    a, c, m, k = spectra.shape
    _side("dcf_response", m)
    for name, t in (("num", num), ("anchor_num", anchor_num), ("spectra", spectra)):
        _check(name, t, torch.complex64, (a, c, m, k))
    for name, t in (("den", den), ("anchor_den", anchor_den)):
        _check(name, t, torch.float32, (a, m, k))
    combined = torch.empty((a, m, k), dtype=torch.complex64, device=spectra.device)
    _module().dcf_response(num.data_ptr(), den.data_ptr(), anchor_num.data_ptr(), anchor_den.data_ptr(),
                           spectra.data_ptr(), float(lam), float(weights[0]), float(weights[1]), a, c, m,
                           combined.data_ptr(), _stream(spectra))
    return irfft2(combined)


def peak_psr(response: torch.Tensor, exclude: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel peak offsets (A, 2) from the map centre and PSRs (A,) of (A, M, M) maps, as
    :func:`udmt.filters.peak_and_psr`."""
    a, m, _ = response.shape
    _check("response", response, torch.float32, (a, m, m))
    offset = torch.empty((a, 2), dtype=torch.float32, device=response.device)
    psr = torch.empty((a,), dtype=torch.float32, device=response.device)
    _module().peak_psr(response.data_ptr(), a, m, int(exclude), offset.data_ptr(), psr.data_ptr(), _stream(response))
    return offset, psr


def linear_sum_assignment_batch(costs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum-cost assignments of a (B, n, m) float64 stack, ``rows``, ``cols`` (B, min(n, m)) int64, rows
    ascending: :func:`udmt.kernels.linear_sum_assignment_batch` with up to 64 rows or columns. Waits for the
    result; an infeasible or invalid (NaN, −inf) problem raises ValueError naming its index."""
    b, n, m = costs.shape
    _check("costs", costs, torch.float64, (b, n, m))
    wide = costs if n <= m else costs.transpose(1, 2).contiguous()
    rows_, columns = wide.shape[1:]
    if columns > _module().max_assignment_columns:
        raise ValueError(f"linear_sum_assignment_batch: at most 64 rows or columns, got {n}×{m}")
    cols = torch.empty((b, rows_), dtype=torch.int64, device=costs.device)
    status = torch.zeros((b,), dtype=torch.int32, device=costs.device)
    _module().linear_sum_assignment_batch(wide.data_ptr(), b, rows_, columns, cols.data_ptr(), status.data_ptr(),
                                          _stream(costs))
    bad = torch.nonzero(status).flatten().tolist()
    if bad:
        what = "infeasible" if int(status[bad[0]]) == 1 else "invalid (NaN or -inf)"
        raise ValueError(f"cost matrix {bad[0]} of the batch is {what}")
    index = torch.arange(rows_, device=costs.device).expand(b, rows_)
    if n <= m:
        return index.contiguous(), cols
    order = torch.argsort(cols, dim=1)  # the solved problem's columns are the original rows
    return torch.gather(cols, 1, order), torch.gather(index, 1, order)
