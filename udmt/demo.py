"""``udmt demo``: the whole pipeline on a built-in synthetic 5-mouse video, scored against its ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from udmt import pipeline
from udmt.evaluate import evaluate_store
from udmt.params import load_params
from udmt.plot import save_figures
from udmt.progress import SILENT, Progress
from udmt.render import render_overlay
from udmt.synth import generate


def run_demo(out: Path, *, frames: int = 450, progress: Progress = SILENT) -> Iterator[str]:
    """Yield the lines to print as each step completes (paths, then the scores)."""
    out = Path(out)
    scene = generate("mice", out / "scene", n_frames=frames, seed=0, progress=progress)
    video, gt = scene / "video.mp4", scene / "gt.csv"
    yield f"synthetic video   {video}  (ground truth: {gt})"
    params = load_params(None, train_seconds=60.0)
    (store,) = pipeline.track([video], out / "tracks.zarr", n_animals=5, init=None, params=params,
                              workers=pipeline.default_workers(), progress=progress)
    yield f"trajectories      {store}  (open with xarray.open_zarr; a movement poses dataset)"
    overlay = render_overlay(store, video, out / "overlay.mp4", progress=progress)
    yield f"overlay video     {overlay}"
    for figure in save_figures(store, out / "plots"):
        yield f"plot              {figure}"
    metrics = evaluate_store(store, gt).as_dict()
    yield ("scores vs truth   IDF1 {idf1:.3f}  HOTA {hota:.3f}  MOTA {mota:.3f}  ID switches {id_switches}".format(**metrics))
