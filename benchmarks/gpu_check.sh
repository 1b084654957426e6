#!/usr/bin/env bash
# Issue #5's GPU checks in one run on a lent GPU machine (its image has torch with CUDA, nvcc and
# compute-sanitizer): build udmt with CUDA for this GPU, run the GPU tests and the command line on the GPU
# (benchmarks/gpu_cli_check.sh), the tests again under compute-sanitizer memcheck, then benchmarks/gpu_speed.py
# without and with MPS. Logs go to $OUT (default /tmp/gpu-check).
#
#   bash benchmarks/gpu_check.sh [WORKERS]      # from the repository root; WORKERS default 4,8,16
#
# Python packages the machine lacks can travel as wheels in .whl/ (see the device notes); runs/gpu must hold
# the video and model that `benchmarks/gpu_speed.py --work runs/gpu` prepared on the development machine.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
WORKERS=${1:-4,8,16}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi -L | tee "$OUT/device.txt"
arch=$(python3 -c "import torch; print(''.join(map(str, torch.cuda.get_device_capability())))")
echo "== build (sm_$arch)"
UDMT_CUDA=ON python3 -m pip install -q --no-build-isolation --no-deps -Cbuild-dir=/tmp/udmt-build \
  -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$arch" -e . >"$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; exit 1; }
echo "== GPU tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -15
echo "== the command line on the GPU (udmt track --device cuda --workers 2, udmt eval)"
bash benchmarks/gpu_cli_check.sh 2>&1 | tail -4 || echo "command-line check FAILED"
echo "== compute-sanitizer memcheck on the kernel tests"
timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 \
  python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "not tracker" >"$OUT/memcheck.log" 2>&1
echo "memcheck exit $?"; grep -E "ERROR SUMMARY|passed|failed" "$OUT/memcheck.log" | tail -5
echo "== speed"
timeout 300 python3 benchmarks/gpu_speed.py --work runs/gpu --workers "$WORKERS" --report "$OUT/gpu_speed.md" \
  2>&1 | tee "$OUT/gpu_speed.log"
echo "== speed with the GPU shared through MPS (several processes' kernels at once)"
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
if nvidia-cuda-mps-control -d; then
  timeout 200 python3 benchmarks/gpu_speed.py --work runs/gpu --workers "$WORKERS" --engines cuda --sections parallel \
    --tag MPS --report "$OUT/gpu_speed.md" 2>&1 | tee -a "$OUT/gpu_speed.log"
  echo quit | nvidia-cuda-mps-control
else
  echo "MPS did not start"
fi
