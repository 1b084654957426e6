"""Python face of the CPU kernels in ``udmt._core`` (C++17, OpenMP, GIL released).

Every kernel here has a plain numpy/scipy twin in :mod:`udmt.kernels.reference` with the same signature: the
reference is the definition, the kernel the fast path, and the tests hold them equal. All functions take and
return numpy arrays on the CPU; their GPU twins on torch CUDA tensors (``udmt._cuda``) are in
:mod:`udmt.kernels.cuda`.
"""

from __future__ import annotations

from udmt.kernels.assignment import linear_sum_assignment, linear_sum_assignment_batch
from udmt.kernels.blobs import label_blobs, split_blob, split_blob_shaped
from udmt.kernels.crop import crop_resize
from udmt.kernels.downscale import block_mean
from udmt.kernels.dcf import (
    Detection,
    cosine_window,
    dcf_detect,
    dcf_detect_update,
    dcf_learn,
    dcf_update,
    gaussian_label,
    label_spectrum,
)
from udmt.kernels.fft import irfft2, rfft2

__all__ = [
    "Detection",
    "block_mean",
    "cosine_window",
    "crop_resize",
    "dcf_detect",
    "dcf_detect_update",
    "dcf_learn",
    "dcf_update",
    "gaussian_label",
    "irfft2",
    "label_blobs",
    "label_spectrum",
    "linear_sum_assignment",
    "linear_sum_assignment_batch",
    "rfft2",
    "split_blob",
    "split_blob_shaped",
]
