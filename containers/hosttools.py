"""Host side of building and running SIF images without Apptainer: tools, root check, SIF layout.

The host tools come from Debian (CI starts from a fresh bookworm machine as root), installed only when missing
so repeated builds and test runs cost nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

# command -> Debian package that provides it
TOOLS = {"debootstrap": "debootstrap", "mksquashfs": "squashfs-tools", "siftool": "siftool",
         "unshare": "util-linux", "chroot": "coreutils"}
SIF_ARCH = {"x86_64": 2, "aarch64": 4, "ppc64le": 6, "s390x": 11, "riscv64": 12}
_PRIMARY_ROW = re.compile(r"^\s*\d+\s*\|[^|]*\|[^|]*\|\s*(\d+)-(\d+)\s*\|\s*FS \(Squashfs/\*System/")


class HostError(RuntimeError):
    """The host cannot build or run the image (not root, tool missing, bad SIF); one line saying what to do."""


def require_root(what: str) -> None:
    """Mounts, chroot and debootstrap need root; say so instead of failing half-way."""
    if os.geteuid() != 0:
        raise HostError(f"{what} needs root without Apptainer (mounts, chroot); run as root or install apptainer")


def ensure_tools(commands: list[str]) -> None:
    """Install the Debian packages behind ``commands`` that are not on PATH (apt-get, idempotent)."""
    missing = sorted({TOOLS[c] for c in commands if shutil.which(c) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise HostError(f"missing tools from packages {', '.join(missing)} and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def run_in_mount_namespace(script: str, args: list[str], env: dict[str, str]) -> int:
    """Run a bash script in a private mount namespace: its mounts vanish with it and never reach the host."""
    command = ["unshare", "--mount", "--propagation", "private", "/bin/bash", "-euc", script, "udmt-ns", *args]
    return subprocess.run(command, env=env, check=False).returncode


def bind_commands(source: str, target: str, *, read_only: bool = False) -> str:
    """Shell lines that create ``target`` (a file or a directory, like ``source``) and bind ``source`` there."""
    src, dst = shlex.quote(source), shlex.quote(target)
    make = f"mkdir -p {dst}" if os.path.isdir(source) else f"mkdir -p \"$(dirname {dst})\"; touch {dst}"
    lines = [make, f"mount --rbind {src} {dst}"]
    if read_only:
        lines.append(f"mount -o remount,bind,ro {dst}")
    return "\n".join(lines) + "\n"


def sif_arch() -> int:
    """SIF architecture code of this host (the image is built for the host's architecture)."""
    machine = os.uname().machine
    if machine not in SIF_ARCH:
        raise HostError(f"no SIF architecture code known for {machine}")
    return SIF_ARCH[machine]


def primary_partition(sif: Path) -> tuple[int, int]:
    """(offset, size) of the primary system squashfs partition, as ``siftool list`` reports it."""
    listing = siftool_list(sif)
    for line in listing.splitlines():
        match = _PRIMARY_ROW.match(line)
        if match:
            start, end = int(match.group(1)), int(match.group(2))
            return start, end - start
    raise HostError(f"{sif}: no primary system squashfs partition (siftool list shows none); rebuild the image")


def siftool_list(sif: Path) -> str:
    """The descriptor table of a SIF file (what Apptainer's loader checks)."""
    done = subprocess.run(["siftool", "list", str(sif)], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise HostError(f"{sif}: not a SIF image ({done.stderr.strip() or done.stdout.strip()})")
    return done.stdout
