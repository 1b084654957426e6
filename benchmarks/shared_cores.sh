#!/usr/bin/env bash
# Whole runs of one synthetic scene alone, then two at once on the same cores: how much a process beside udmt
# slows it (torch's OpenMP threads spin while they wait; see udmt/__init__.py). Extra arguments are environment
# settings for every run, e.g. GOMP_SPINCOUNT=300000 (libgomp's own default) or OMP_WAIT_POLICY=PASSIVE.
#
#   bash benchmarks/shared_cores.sh [VAR=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
run() {  # run TAG: one end-to-end run of rat-mice seed 2 (900 frames); prints its stage times
  .venv/bin/python benchmarks/e2e_accuracy.py --synth rat-mice --frames 900 --seed 2 --work "$work/$1" \
    --json "$work/$1.json" >/dev/null 2>&1
  .venv/bin/python -c "import json; r = json.load(open('$work/$1.json'))[0]; print('$1: IDF1 %.3f, training %.1f s, \
identity %.1f s, whole run %.1f s' % (r['idf1'], r['train_s'], r['identity_s'], r['wall_s']))"
}
[ $# -gt 0 ] && export "$@"
run alone
run beside_a & run beside_b & wait
rm -rf "$work"
