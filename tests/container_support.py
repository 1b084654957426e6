"""Helpers and fixtures for the Apptainer image tests (``tests/test_container.py``).

The image is built once per test session from ``containers/udmt.def`` with ``containers/build.sh --fast``
(lz4 squashfs; the debootstrap root is cached in ``$UDMT_CONTAINER_CACHE`` or ``~/.cache/udmt-container``)
and started through ``containers/run.sh``, i.e. with real Apptainer where installed, else as Apptainer would.

Import the fixture into a test module: ``from container_support import built_image``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTAINERS = REPO / "containers"
RECIPE = CONTAINERS / "udmt.def"
# The CPU torch index (the recipe's default) is unreachable from the CI machines; their pip configuration,
# which the builder forwards into the chroot, provides the CPU wheel, and PyPI the rest.
TEST_BUILD_ARGS = ("--build-arg", "TORCH_INDEX=https://pypi.org/simple")
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 300

if str(CONTAINERS) not in sys.path:
    sys.path.insert(0, str(CONTAINERS))


def require_root() -> None:
    """Building and starting images without Apptainer needs mounts and chroot."""
    if os.geteuid() != 0:
        pytest.skip("container tests need root (debootstrap, loop mounts, chroot) or an apptainer install")


def run_image(image: Path, action: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
              options: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """``containers/run.sh ACTION [OPTIONS] IMAGE ARGS`` from ``cwd``; output captured as text."""
    return subprocess.run([str(CONTAINERS / "run.sh"), action, *options, str(image), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)


def host_udmt() -> str:
    """The udmt of the test environment (outside the image)."""
    return str(Path(sys.executable).with_name("udmt"))


@pytest.fixture(scope="session")
def built_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The udmt image, built once per session without its %test (a test of its own runs that)."""
    require_root()
    image = tmp_path_factory.mktemp("image") / "udmt.sif"
    done = subprocess.run([str(CONTAINERS / "build.sh"), "--fast", "--notest", *TEST_BUILD_ARGS, str(image)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        pytest.fail(f"image build failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    yield image
    image.unlink(missing_ok=True)
