"""The feature net and the differentiable correlation filter, plus the checkpoint format.

The net is small on purpose: it only has to tell this video's animals from their surroundings and from each
other, it is trained from scratch on the video itself (udmt.train), and it must run at hundreds of frames per
second on a CPU. The correlation filter here is the torch definition used for training; the tracker's hot
path uses the same maths in ``udmt.kernels``.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from udmt.appearance import IdentityNet
from udmt.errors import InputError

CHECKPOINT_VERSION = 3  # 2: optional identity classifier; 3: scene.animals_seen, 64-px identity crops
IN_CHANNELS = 2  # luma, foreground evidence


class FeatureNet(nn.Module):
    """Three 3×3 convolutions, stride 2 first: a (B, 2, P, P) window → (B, C, P/2, P/2) unit-energy features."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.channels = channels
        self.body = nn.Sequential(
            nn.Conv2d(IN_CHANNELS, channels, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        features = self.body(windows)
        energy = features.pow(2).mean(dim=(1, 2, 3), keepdim=True)
        return features / torch.sqrt(energy + 1e-6)


def network_input(luma: torch.Tensor, background: torch.Tensor, polarity: int, threshold: float) -> torch.Tensor:
    """Stack the two input channels from cropped windows of the frame and of the background, (n, P, P) float32
    each (on any device).

    The foreground channel makes the net's job easy where animals are apart; the luma channel carries the
    texture it needs where they touch.
    """
    fg = torch.clamp(polarity * (luma - background) / threshold, -3.0, 6.0) / 3.0
    return torch.stack([(luma - 128.0) / 64.0, fg], dim=1)


def hann_window(size: int) -> torch.Tensor:
    w = torch.hann_window(size + 2, periodic=False, dtype=torch.float32)[1:-1]
    return w[:, None] * w[None, :]


def gaussian_label(size: int, sigma: float) -> torch.Tensor:
    """Peak-1 Gaussian centred at index (size//2, size//2), the filter's target response."""
    r = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    return g[:, None] * g[None, :]


def shift_spectrum(label_f: torch.Tensor, offset: torch.Tensor, size: int) -> torch.Tensor:
    """Spectrum of the label moved by ``offset`` (…, 2) = (dx, dy) pixels: a phase ramp, sub-pixel exact."""
    ky = torch.fft.fftfreq(size)[:, None]
    kx = torch.fft.rfftfreq(size)[None, :]
    phase = -2.0 * math.pi * (kx * offset[..., 0, None, None] + ky * offset[..., 1, None, None])
    return label_f * torch.polar(torch.ones_like(phase), phase)


def dcf_learn(features: torch.Tensor, label_f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form multi-channel filter: num = conj(Ŷ)·X̂ (…, C, H, W/2+1), den = Σ_c |X̂_c|² (…, H, W/2+1)."""
    spectrum = torch.fft.rfft2(features)
    if label_f.dim() < spectrum.dim():
        label_f = label_f.unsqueeze(-3)
    num = torch.conj(label_f) * spectrum
    den = (spectrum.real**2 + spectrum.imag**2).sum(dim=-3)
    return num, den


def dcf_detect(num: torch.Tensor, den: torch.Tensor, features: torch.Tensor, lam: float) -> torch.Tensor:
    """Response R = F⁻¹(Σ_c conj(num_c)·Ẑ_c / (den + λ)), (…, H, W); peaks where the filter's animal is."""
    spectrum = torch.fft.rfft2(features)
    combined = (torch.conj(num) * spectrum).sum(dim=-3) / (den + lam)
    return torch.fft.irfft2(combined, s=features.shape[-2:])


@dataclass
class Checkpoint:
    """A trained feature net (and identity classifier, where one could be learned) with what they were trained
    on; everything loads with ``weights_only=True``."""

    net: FeatureNet
    info: dict[str, Any]
    identities: IdentityNet | None = None

    def save(self, path: Path) -> str:
        """Write atomically and return the sha256 of the file (recorded in the store)."""
        buffer = io.BytesIO()
        payload = {"version": CHECKPOINT_VERSION, "channels": self.net.channels, "state": _state(self.net),
                   "info": self.info, "identities": None}
        if self.identities is not None:
            payload["identities"] = {"classes": len(self.identities.prototypes), "state": _state(self.identities)}
        torch.save(payload, buffer)
        data = buffer.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return hashlib.sha256(data).hexdigest()


def load_checkpoint(path: Path) -> tuple[Checkpoint, str]:
    """Load a checkpoint and its sha256; a missing or corrupt file is an InputError naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read model checkpoint ({err.strerror}); re-run `udmt train`") from None
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        if payload.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {payload.get('version')}")
        net = FeatureNet(int(payload["channels"]))
        net.load_state_dict(payload["state"])
        identities = None
        if payload.get("identities") is not None:
            classes = int(payload["identities"]["classes"])
            identities = IdentityNet(classes)
            state = dict(payload["identities"]["state"])
            state.setdefault("group", torch.arange(classes))  # written before identities could be merged
            identities.load_state_dict(state)
            identities.eval()
    except Exception as err:  # any decoding failure means the file is not a usable checkpoint
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: corrupt or incompatible model checkpoint ({reason}); re-run `udmt train`") from None
    net.eval()
    return Checkpoint(net, dict(payload.get("info", {})), identities), hashlib.sha256(data).hexdigest()


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
