"""udmt: unsupervised multi-animal tracking from raw top-down video.

The stages (scene → init → train → tune → track → stitch → export/report) are plain functions of their
inputs and a seed; ``udmt.pipeline`` composes them and ``udmt.cli`` is the command line.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# torch's OpenMP threads spin for a while (libgomp: 300,000 spins) before they sleep. Where another process shares
# the cores (two udmt runs on one node without SLURM's cpusets, a busy workstation) the spinning threads take the
# cores from the working ones: two runs on two cores took 401 s each instead of 39 s alone. 10,000 spins cost
# nothing alone and cut that to 97 s (benchmarks/RESULTS.md, "Torch on shared cores"). Set before torch is first
# imported; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT stands.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

try:
    __version__ = version("udmt")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
