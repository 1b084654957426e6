"""Write one synthetic scene: ``video.mp4`` (H.264), ``gt.csv`` (true body centres) and ``meta.json``."""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from udmt import __version__
from udmt.errors import UsageError
from udmt.progress import SILENT, Progress
from udmt.synth.draw import BODY_PLANS, Canvas
from udmt.synth.motion import Arena, Trajectories, simulate
from udmt.synth.scenarios import SCENARIOS, Look, Scenario
from udmt.video import VideoWriter

VIDEO_CRF = 22  # mild compression, as in real recordings
VIDEO_PRESET = "ultrafast"  # x264 at 640x640 costs ~2 ms a frame on one core; veryfast ~6 ms


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``, or a usage error listing the valid names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UsageError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None


def _inverted(look: Look) -> Look:
    """The same scene with light and dark swapped (dark fish on a light floor)."""
    return replace(look, floor=255 - look.floor, animal=255 - look.animal, wall=255 - look.wall,
                   outside=255 - look.outside)  # fmt: skip


def write_ground_truth(path: Path, traj: Trajectories) -> None:
    """``frame,id,x,y`` rows (frame-major), 3 decimals, pixel-centre convention."""
    t, n = traj.position.shape[:2]
    rows = np.column_stack([np.repeat(np.arange(t), n), np.tile(np.arange(n), t), traj.position.reshape(-1, 2)])
    with open(path, "w", newline="") as fh:
        fh.write("frame,id,x,y\n")
        np.savetxt(fh, rows, fmt=["%d", "%d", "%.3f", "%.3f"], delimiter=",")


def generate(scenario: str, out_dir: str | os.PathLike[str], *, n_frames: int | None = None, seed: int = 0,
             n_animals: int | None = None, size: int | None = None, fps: float | None = None,
             progress: Progress = SILENT) -> Path:  # fmt: skip
    """Render ``scenario`` into ``out_dir`` and return ``out_dir``; the same arguments give the same files.

    ``size`` (image side, even) scales the whole scene; ``fps`` keeps speeds in body lengths per second.
    """
    scn = get_scenario(scenario)
    n_frames = scn.frames if n_frames is None else n_frames
    n = scn.n_animals if n_animals is None else n_animals
    size = scn.size if size is None else size
    fps = scn.fps if fps is None else fps
    if n_frames < 1 or n < 1 or fps <= 0:
        raise UsageError(f"synth {scenario}: frames, animals and fps must be positive "
                         f"(got {n_frames}, {n}, {fps})")  # fmt: skip
    if size < 64 or size % 2:
        raise UsageError(f"synth {scenario}: --size must be an even number of pixels >= 64 (got {size})")

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, zlib.crc32(scenario.encode())]
                                                                      ).spawn(4)]  # fmt: skip
    scene_rng, body_rng, motion_rng, noise_rng = streams
    scale = size / scn.size
    look = _inverted(scn.look) if scn.look.either_polarity and scene_rng.random() < 0.5 else scn.look
    c = (size - 1) / 2
    arena = Arena(scn.arena, c, c, scn.arena_frac * size / 2)
    multipliers = np.ones(n)
    multipliers[: len(scn.scale_first)] = scn.scale_first[:n]
    lengths = scn.body_length * scale * multipliers * body_rng.uniform(0.9, 1.1, n)
    herd = BODY_PLANS[scn.body](lengths, look, body_rng)
    traj = simulate(scn.motion, arena, lengths, n_frames, fps, scale, motion_rng)
    canvas = Canvas(size, arena, look, scene_rng)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress.start(f"synth {scenario}", n_frames)
    try:
        with VideoWriter(out / "video.mp4", size, size, fps, crf=VIDEO_CRF, preset=VIDEO_PRESET, threads=1) as vw:
            for t in range(n_frames):
                frame = canvas.blank()
                herd.draw(frame, canvas.light, traj.position[t], traj.heading[t], traj.turn[t], traj.phase[t],
                          traj.speed[t], traj.order[t])  # fmt: skip
                vw.write(canvas.expose(frame, noise_rng))
                progress.advance()
    finally:
        progress.stop()
    write_ground_truth(out / "gt.csv", traj)
    body_length = float(np.median(lengths))
    meta = {
        "scenario": scenario, "seed": seed, "n_animals": n, "frames": n_frames, "fps": fps,
        "width": size, "height": size, "body_length_px": round(body_length, 3),
        "match_radius_px": round(body_length / 2, 3), "species": scn.species,
        "body_lengths_px": [round(float(x), 3) for x in lengths],
        "animal_polarity": "dark" if look.animal < look.floor else "bright",
        "arena": {"shape": arena.shape, "cx": arena.cx, "cy": arena.cy, "half": arena.half},
        "generator": f"udmt.synth {__version__}",
    }  # fmt: skip
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out
