"""Tracking speed with the C++ filter kernels against the torch reference path, and that both track alike.

    .venv/bin/python benchmarks/tracking_speed.py --frames 900 --rounds 2

Trains once on the 5-mouse 640² synthetic scene (feature net and identity net, as ``udmt track`` does), then
tracks the whole video alternately with the kernels and with the ``reference`` engine (torch's filter maths), one
torch thread as in a chunk task. Prints frames/s of each run, the speed ratio, and the largest difference
between the two trajectories (positions in px, confidences, flags).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from udmt import pipeline
from udmt.model import load_checkpoint
from udmt.params import Params
from udmt.scene import Scene
from udmt.synth import generate
from udmt.track import ChunkTracks, track_chunk
from udmt.video import VideoReader


def timed_track(video: Path, scene: Scene, checkpoint, params: Params, reference: bool) -> tuple[ChunkTracks, float]:
    with VideoReader(video) as reader:
        began = time.perf_counter()
        tracks = track_chunk(reader, scene, checkpoint.net, params, 0, reader.n_frames,
                             identities=checkpoint.identities, engine="reference" if reference else "kernels")
        return tracks, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of kernel and reference runs")
    parser.add_argument("--work", type=Path, default=Path("runs/tracking-speed"))
    args = parser.parse_args()
    video = generate("mice", args.work / "synth-mice", n_frames=args.frames, seed=0) / "video.mp4"
    params = Params()
    run = pipeline.plan([video], args.work / "mice.zarr", n_animals=5, init=None, params=params)
    pipeline.train(run)
    checkpoint, _ = load_checkpoint(run.model_path("v000"))
    scene = Scene.from_state(checkpoint.info["scene"])
    torch.set_num_threads(1)
    runs: dict[bool, list[tuple[ChunkTracks, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for reference in (False, True):
            tracks, seconds = timed_track(video, scene, checkpoint, params, reference)
            runs[reference].append((tracks, seconds))
            print(f"{'reference' if reference else 'kernels  '}: {args.frames / seconds:7.1f} frames/s")
    fast, slow = runs[False][0][0], runs[True][0][0]
    best = {ref: min(s for _, s in r) for ref, r in runs.items()}
    print(f"speed-up (best of {args.rounds}): {best[True] / best[False]:.2f}x")
    both = np.isfinite(fast.position) & np.isfinite(slow.position)
    print(f"max |Δposition| {np.abs(fast.position - slow.position)[both].max(initial=0.0):.2e} px, "
          f"same NaNs {np.array_equal(np.isnan(fast.position), np.isnan(slow.position))}, "
          f"max |Δconfidence| {np.abs(fast.confidence - slow.confidence).max():.2e}, "
          f"equal flags {np.array_equal(fast.flags, slow.flags)}")


if __name__ == "__main__":
    main()
