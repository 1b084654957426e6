#!/usr/bin/env bash
# `udmt track` on the GPU the way users run it: the command line, two chunk worker processes with --device cuda,
# then `udmt eval` against the synthetic truth and the engine each task report names. Needs an installed udmt
# (benchmarks/gpu_check.sh builds one and calls this). Logs go to $OUT (default /tmp/gpu-check).
set -euo pipefail
OUT=${OUT:-/tmp/gpu-check}
work=$(mktemp -d)
udmt() { python3 -c "from udmt.cli import main; main()" "$@"; }
udmt synth mice -o "$work/scene" --frames 384 -q
udmt track "$work/scene/video.mp4" -n 5 -o "$work/mice.zarr" --device cuda --workers 2 --chunk-frames 128 \
  --overlap 32 -q
udmt eval "$work/mice.zarr" --gt "$work/scene/gt.csv" | tee "$OUT/gpu_cli.txt"
python3 - "$work/mice.udmt-run" <<'PY' | tee -a "$OUT/gpu_cli.txt"
import json, pathlib, sys
reports = sorted(pathlib.Path(sys.argv[1], "tasks").glob("*.json"))
print("task engines:", sorted({json.loads(r.read_text()).get("engine") for r in reports}), "tasks:", len(reports))
PY
