"""Overlay video: the tracks drawn on the original frames, for a person to check a result by eye.

Each animal keeps one colour (a palette of 20 well-separated colours) with its id beside it and a fading
trail of its last positions. Flags are visible: a white ring marks a frame where the identity was corrected;
lost or low-confidence positions are grey with a dashed ring. Drawing uses Pillow (anti-aliased text) on the
RGB frame; the result is H.264 through :class:`udmt.video.VideoWriter`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from udmt.errors import InputError, UsageError
from udmt.progress import SILENT, Progress
from udmt.store import FLAG_CORRECTED, FLAG_LOST, read_tracks
from udmt.video import VideoReader, VideoWriter

#: Sasha Trubetskoy's 20 distinct colours, in his order of distinctness.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
    (0, 0, 128), (128, 128, 128),
)  # fmt: skip
GREY = (160, 160, 160)
RING = (255, 255, 255)
LOW_CONFIDENCE = 0.3  # below this a position is drawn as unreliable


def colour(animal: int) -> tuple[int, int, int]:
    """The overlay colour of animal ``animal`` (repeats after 20 animals)."""
    return PALETTE[animal % len(PALETTE)]


def _label(name: str) -> str:
    return name.removeprefix("animal_")


def render_overlay(store_path: str | os.PathLike[str], video_path: str | os.PathLike[str],
                   out_path: str | os.PathLike[str], *, start: int = 0, stop: int | None = None,
                   trail: int = 30, progress: Progress = SILENT) -> Path:  # fmt: skip
    """Write frames ``start .. stop`` of ``video_path`` with the tracks of ``store_path`` drawn on; return the path."""
    tracks = read_tracks(store_path)
    with VideoReader(video_path) as reader:
        if tracks.n_frames != reader.n_frames:
            raise InputError(f"{store_path} holds {tracks.n_frames} frames but {video_path} has "
                             f"{reader.n_frames}; give the video the store was tracked from")  # fmt: skip
        stop = tracks.n_frames if stop is None else min(stop, tracks.n_frames)
        if not 0 <= start < stop or trail < 0:
            raise UsageError(f"render: need 0 <= --start < --stop <= {tracks.n_frames} and --trail >= 0 "
                             f"(got start {start}, stop {stop}, trail {trail})")  # fmt: skip
        radius = max(3, round(0.01 * max(reader.width, reader.height)))
        font = ImageFont.load_default(size=max(10, 3 * radius))
        out = Path(out_path)
        progress.start("render overlay", stop - start)
        try:
            with VideoWriter(out, reader.width, reader.height, reader.fps) as writer:
                for t, gray in reader.frames(start, stop):
                    image = Image.fromarray(gray).convert("RGB")
                    _draw_frame(ImageDraw.Draw(image, "RGBA"), tracks.position, tracks.confidence, tracks.flags,
                                tracks.individuals, t, trail, radius, font)  # fmt: skip
                    writer.write(np.asarray(image))
                    progress.advance()
        finally:
            progress.stop()
    return out


def _draw_frame(draw: ImageDraw.ImageDraw, position: np.ndarray, confidence: np.ndarray, flags: np.ndarray,
                names: list[str], t: int, trail: int, radius: int,
                font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> None:  # fmt: skip
    """Trails first (under every marker), then each animal's marker, flag rings and id."""
    first = max(0, t - trail)
    for i in range(position.shape[1]):
        path = position[first : t + 1, i]
        for k in range(len(path) - 1):
            if np.isfinite(path[k : k + 2]).all():
                fade = int(255 * (k + 1) / len(path))
                draw.line([tuple(path[k]), tuple(path[k + 1])], fill=(*colour(i), fade), width=2)
    for i in range(position.shape[1]):
        x, y = position[t, i]
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        doubtful = bool(flags[t, i] & FLAG_LOST) or not confidence[t, i] >= LOW_CONFIDENCE  # NaN is doubtful
        fill = GREY if doubtful else colour(i)
        box = [x - radius, y - radius, x + radius, y + radius]
        draw.ellipse(box, fill=fill)
        ring = [x - 2 * radius, y - 2 * radius, x + 2 * radius, y + 2 * radius]
        if doubtful:
            for angle in range(0, 360, 40):  # dashed
                draw.arc(ring, angle, angle + 20, fill=GREY, width=2)
        if flags[t, i] & FLAG_CORRECTED:
            draw.ellipse(ring, outline=RING, width=2)
        draw.text((x + 2 * radius + 2, y - 2 * radius), _label(names[i]), fill=fill, font=font)
