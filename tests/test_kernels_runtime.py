"""How udmt._core's OpenMP threads behave between kernel calls (udmt.kernels.runtime)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A fresh interpreter: libgomp reads its settings once, when udmt._core is first imported.
IDLE_CPU_AFTER_CALLS = """
import time
import numpy as np
from udmt import kernels
costs = np.random.default_rng(0).random((2000, 10, 10))
idle = []
for _ in range(10):
    kernels.linear_sum_assignment_batch(costs)
    start = time.process_time()
    time.sleep(0.02)
    idle.append(time.process_time() - start)
print(sorted(idle)[len(idle) // 2] * 1e3)
"""


def run_python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True).stdout


def test_import_leaves_the_environment_as_it_was() -> None:
    code = "import os; from udmt import kernels; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert run_python(code).strip() == "None"
    assert run_python(code, OMP_WAIT_POLICY="ACTIVE").strip() == "ACTIVE"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one OpenMP thread has nobody to wait for")
def test_worker_threads_sleep_between_calls() -> None:
    """Measured here: with libgomp's default policy the worker spun ~6 ms of CPU after each call (~12 ms per
    20 ms pause with OMP_WAIT_POLICY=ACTIVE); a sleeping worker uses well under 1 ms."""
    assert float(run_python(IDLE_CPU_AFTER_CALLS, OMP_NUM_THREADS="2")) < 2.0
