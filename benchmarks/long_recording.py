"""Long recordings: accuracy over many chunk boundaries, flat memory and the speed-up of chunk workers.

    .venv/bin/python benchmarks/long_recording.py --frames 18000 --short-frames 900 --workers 1,2

Renders the `long` synthetic scene (4 mice, 320², 15 fps) at two lengths, trains once per length, then tracks
each with every worker count in a fresh process (`udmt track`, the model reused so that only tracking is
compared). Reports IDF1 over the whole recording, the wall time of tracking, and the peak RSS of the largest
process of the run (RUSAGE_CHILDREN, which covers the worker processes).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from udmt.evaluate import evaluate_store
from udmt.synth import generate

UDMT = [sys.executable, "-c", "from udmt.cli import main; main()"]


def track_once(video: Path, out: Path, model_from: Path | None, workers: int, frames: int) -> dict:
    """One `udmt track` in a child process (training skipped when a trained model is copied in)."""
    run_dir = out.with_suffix(".udmt-run")
    args = [*UDMT, "track", str(video), "-n", "4", "-o", str(out), "--workers", str(workers), "-q"]
    if model_from is not None:
        subprocess.run([*UDMT, "plan", str(video), "-n", "4", "-o", str(out)], check=True)
        shutil.copytree(model_from, run_dir / "models", dirs_exist_ok=True)
    began = time.monotonic()
    subprocess.run(args, check=True)
    wall = time.monotonic() - began
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"frames": frames, "workers": workers, "wall_s": round(wall, 1), "fps": round(frames / wall, 1),
            "peak_rss_mib_so_far": round(rss, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=18000)
    parser.add_argument("--short-frames", type=int, default=900)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--work", type=Path, default=Path("runs/long"))
    args = parser.parse_args()
    rows = []
    for frames in (args.short_frames, args.frames):  # short first: RUSAGE_CHILDREN only grows
        scene = generate("long", args.work / f"scene-{frames}", n_frames=frames, seed=0)
        trained = args.work / f"train-{frames}"
        subprocess.run([*UDMT, "plan", str(scene / "video.mp4"), "-n", "4", "-o", str(trained)], check=True)
        subprocess.run([*UDMT, "train", str(trained), "-q"], check=True)
        models = trained / "models"
        for workers in map(int, args.workers.split(",")):
            out = args.work / f"run-{frames}-w{workers}.zarr"
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(out.with_suffix(".udmt-run"), ignore_errors=True)
            row = track_once(scene / "video.mp4", out, models, workers, frames)
            row["idf1"] = round(evaluate_store(out, scene / "gt.csv").idf1, 4)
            tasks = [json.loads(p.read_text()) for p in (out.with_suffix(".udmt-run") / "tasks").glob("*.json")]
            row["max_task_rss_mib"] = max(t["peak_rss_mib"] for t in tasks)
            rows.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
