"""End-to-end accuracy and speed: udmt on synthetic scenes and real clips, scored against ground truth.

    .venv/bin/python benchmarks/e2e_accuracy.py --synth mice,white-mice --real dreem_three_flies --frames 900

Prints one markdown row per scene (IDF1, HOTA, MOTA, ID switches, training, tuning and identity seconds, tracking
frames/s) and writes the rows as JSON (``--json``). Training and tracking times come from the run's own records (checkpoint and task
reports), so decoding inside tracking is included and the synthetic video's rendering is not.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from udmt import pipeline
from udmt.evaluate import evaluate_store
from udmt.params import Params, load_params
from udmt.store import read_attrs
from udmt.synth import generate

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def measure(name: str, video: Path, gt: Path, n_animals: int, work: Path, workers: int, params: Params) -> dict:
    out = work / f"{name}.zarr"
    began = time.monotonic()
    pipeline.track([video], out, n_animals=n_animals, init=None, params=params, workers=workers)
    wall = time.monotonic() - began
    metrics = evaluate_store(out, gt).as_dict()
    attrs = read_attrs(out)
    reports = [json.loads(p.read_text()) for p in (out.with_suffix(".udmt-run") / "tasks").glob("*.json")]
    track_seconds = sum(r["seconds"] for r in reports)
    frames = attrs["n_frames"]
    return {"scene": name, "animals": n_animals, "frames": frames, "idf1": metrics["idf1"], "hota": metrics["hota"],
            "mota": metrics["mota"], "id_switches": metrics["id_switches"],
            "train_s": attrs["training"].get("seconds"), "tune_s": (attrs.get("tuning") or {}).get("seconds", 0.0),
            "tuned": (attrs.get("tuning") or {}).get("chosen"), "identity_s": attrs["identity_model"].get("seconds", 0.0),
            "identity_accuracy": attrs["identity_model"].get("validation_accuracy"), "track_fps": frames / max(track_seconds, 1e-9),
            "wall_s": wall, "overall_fps": frames / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", default="mice", help="comma-separated udmt synth scenarios")
    parser.add_argument("--real", default="", help="comma-separated folders of ../shared/data/real")
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic scenes (0: the reference set)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--config", type=Path, help="TOML of parameters (e.g. for ablations)")
    args = parser.parse_args()
    params = load_params(args.config)
    rows = []
    for scenario in filter(None, args.synth.split(",")):
        scene = generate(scenario, args.work / f"synth-{scenario}", n_frames=args.frames, seed=args.seed)
        meta = json.loads((scene / "meta.json").read_text())
        rows.append(measure(scenario, scene / "video.mp4", scene / "gt.csv", meta["n_animals"], args.work, args.workers,
                            params))
    for clip in filter(None, args.real.split(",")):
        meta = json.loads((REAL / clip / "meta.json").read_text())
        rows.append(measure(clip, REAL / clip / meta["video"], REAL / clip / "gt.csv", meta["n_animals"], args.work, args.workers,
                            params))
    print("| scene | animals | frames | IDF1 | HOTA | MOTA | ID sw. | train s | tune s | identity s | track fps | total fps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scene']} | {r['animals']} | {r['frames']} | {r['idf1']:.3f} | {r['hota']:.3f} | {r['mota']:.3f} "
              f"| {r['id_switches']} | {r['train_s']:.0f} | {r['tune_s']:.0f} | {r['identity_s']:.0f} | {r['track_fps']:.0f} "
              f"| {r['overall_fps']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
