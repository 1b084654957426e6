#!/bin/bash
# Submit a planned udmt run by hand: train → one array task per chunk → stitch, chained with afterok.
#
#   udmt plan VIDEO... -o RUN -n N            # writes RUN/manifest.json (one task per video chunk)
#   mkdir -p RUN/slurm && cp slurm/*.sbatch RUN/slurm/
#   # edit RUN/slurm/*.sbatch: run=RUN, partition, GPUs, memory, time limit
#   slurm/submit.sh RUN [THROTTLE]            # THROTTLE: most array tasks running at once
#
# `udmt slurm submit VIDEO... -o RUN` does all of this for you (and `--dry-run` shows what it would do).
set -euo pipefail

run=$1
throttle=${2:+%$2}
cd "$run"
mkdir -p logs
tasks=$(python3 -c 'import json; print(len(json.load(open("manifest.json"))["tasks"]))')

train=$(sbatch --parsable slurm/train.sbatch)
track=$(sbatch --parsable --dependency="afterok:$train" --kill-on-invalid-dep=yes --array="0-$((tasks - 1))$throttle" slurm/track.sbatch)
stitch=$(sbatch --parsable --dependency="afterok:$track" --kill-on-invalid-dep=yes slurm/stitch.sbatch)
echo "train $train → track $track → stitch $stitch; logs in $run/logs/"
