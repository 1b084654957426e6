#!/usr/bin/env bash
# Whole runs of the real clips from the command line with the tracker on the GPU, twice each, then `udmt eval`:
# what a user of a GPU node waits for (start-up, training, identities and the store included).
#
#   bash benchmarks/gpu_real_clips.sh [REAL]      # REAL: a copy of ../shared/data/real (default that folder)
#   ROUNDS=1 bash benchmarks/gpu_real_clips.sh …  # one run per clip where device time is short (default 2)
#
# Needs an installed udmt built with CUDA (benchmarks/gpu_check.sh builds one; export PYTHONPATH=/tmp/site there).
set -uo pipefail
REAL=${1:-../shared/data/real}
ROUNDS=${ROUNDS:-2}
udmt() { python3 -c "from udmt.cli import main; main()" "$@"; }
work=$(mktemp -d)
for spec in dreem_three_flies:three_flies.mp4:3 dreem_ten_zfish:ten_zfish.mp4:10 sleap_flies_clip:clip.mp4:2; do
  IFS=: read -r name video n <<<"$spec"
  for round in $(seq "$ROUNDS"); do
    rm -rf "$work/$name.zarr" "$work/$name.udmt-run"
    began=$(date +%s.%N)
    udmt track "$REAL/$name/$video" -n "$n" -o "$work/$name.zarr" --device cuda -q >/dev/null
    echo "$name round $round: whole run $(python3 -c "print(round($(date +%s.%N) - $began, 1))") s"
  done
  udmt eval "$work/$name.zarr" --gt "$REAL/$name/gt.csv" | grep -E "IDF1|HOTA|MOTA|misses"
done
