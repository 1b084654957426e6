"""Tracking parameters: defaults < a TOML file < command-line flags; the effective set is saved with the result.

Sizes are given in units of the animal's body length (estimated by the scene model) so that one set of
defaults serves flies at 15 px and rats at 150 px.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from udmt.errors import UsageError


@dataclass(frozen=True)
class Params:
    """Every knob of the pipeline, with the defaults a user should not need to change."""

    seed: int = 0
    # scene model
    background_samples: int = 50
    threshold_sigma: float = 5.0  # foreground = difference above this many noise sigmas …
    threshold_contrast: float = 0.2  # … and above this fraction of the animals' contrast (seeds: twice that)
    mask_opening: int = 2  # morphological opening (px) of the foreground mask
    target_body_px: float = 24.0  # frames are block-averaged so a body is about this long in pixels
    # feature net and correlation filter
    patch: int = 64  # side of the network input window (pixels, after resizing)
    search_scale: float = 3.0  # search window side in body lengths
    filter_lambda: float = 1e-2
    filter_rate: float = 0.08  # running-average learning rate of the filter (η)
    label_sigma: float = 0.1  # Gaussian label width as a fraction of the feature map side
    # training
    train_seconds: float = 90.0  # budget on the wall clock (a safety cap; train_steps normally ends training)
    train_threads: int = 2  # of each net's training (the two run side by side); fixed: the same models anywhere
    train_steps: int = 400  # upper bound on optimiser steps
    train_batch: int = 16
    train_cycle: tuple[int, ...] = (3, 6)  # frame offsets of the forward cycle t → t+a → t+b → t
    train_drop: float = 0.1  # fraction of worst samples dropped from each batch
    identity_steps: int = 200  # optimiser steps of the identity classifier (0: identities by motion only)
    identity_windows: int = 24  # stretches of the video searched for global fragments
    # identity and refinement
    max_speed: float = 1.0  # largest expected displacement per frame, in body lengths
    blob_min_fraction: float = 0.15  # blobs smaller than this fraction of one animal are noise
    episode_correction: bool = True  # judge each touching episode as a whole (False: for ablations)
    # automatic tuning (udmt.tune)
    tune: bool = True  # choose search_scale, max_speed, filter_rate and label_sigma per video
    tune_windows: int = 3  # validation windows spread through the video
    tune_frames: int = 32  # frames per validation window: long enough to cross a touch
    # long recordings
    chunk_frames: int = 1024
    overlap_frames: int = 64
    time_chunk: int = 128  # zarr chunk along time; chunk_frames must be a multiple

    def replace(self, **changes: Any) -> Params:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    def validate(self) -> Params:
        if self.patch < 16 or self.patch & (self.patch - 1):
            raise UsageError(f"patch must be a power of two ≥ 16, got {self.patch}")
        if self.chunk_frames % self.time_chunk:
            raise UsageError(f"chunk_frames ({self.chunk_frames}) must be a multiple of time_chunk ({self.time_chunk})")
        if not 0 < self.filter_rate <= 1:
            raise UsageError(f"filter_rate must be in (0, 1], got {self.filter_rate}")
        if self.overlap_frames < 8:
            raise UsageError(f"overlap_frames must be at least 8, got {self.overlap_frames}")
        return self


def load_params(config: Path | None = None, **overrides: Any) -> Params:
    """Defaults, then the ``[udmt]`` table (or top level) of a TOML file, then non-None overrides."""
    values: dict[str, Any] = {}
    if config is not None:
        try:
            data = tomllib.loads(Path(config).read_text())
        except FileNotFoundError:
            raise UsageError(f"{config}: configuration file not found") from None
        except tomllib.TOMLDecodeError as err:
            raise UsageError(f"{config}: not valid TOML ({err})") from None
        values.update(data.get("udmt", data))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Params)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"unknown parameter(s): {', '.join(unknown)}; see `udmt track --help`")
    coerced = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return Params(**coerced).validate()


def params_to_toml(params: Params) -> str:
    """The effective parameters as a TOML document (readable and re-loadable with ``--config``)."""
    lines = ["[udmt]"]
    for key, value in params.as_dict().items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        elif isinstance(value, list):
            text = "[" + ", ".join(repr(v) if not isinstance(v, str) else f'"{v}"' for v in value) + "]"
        else:
            text = f'"{value}"'
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"
