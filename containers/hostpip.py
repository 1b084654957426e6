"""Make the host's pip configuration reachable from a chroot build.

On machines behind a package proxy, pip only works with the host's configuration: local wheel directories and
``file://`` indexes, and a CA bundle that exists only on the host. A chroot does not see any of it. For the
``%post`` of a build without Apptainer we therefore merge the host's pip configuration (files in pip's order,
then ``PIP_*`` variables, which pip ranks highest), bind every local path it names read-only under
``/.udmt-build/host`` in the image, and point the settings there. Nothing of it stays in the image, and a
cluster build with real Apptainer downloads from the indexes as usual.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

HOST_MOUNT = "/.udmt-build/host"


@dataclass(frozen=True)
class PipForwarding:
    """What a chroot needs to use the host's pip set-up."""

    config: str                  # pip.conf text with paths rewritten under HOST_MOUNT
    environment: dict[str, str]  # PIP_* variables, rewritten likewise
    binds: list[str]             # host paths to bind at HOST_MOUNT + path


def forward_host_pip(environ: dict[str, str] | None = None, home: Path | None = None) -> PipForwarding:
    """Collect and rewrite the host's pip configuration for use inside a build chroot."""
    environ = dict(os.environ if environ is None else environ)
    home = Path.home() if home is None else home
    binds: set[str] = set()
    parser = configparser.RawConfigParser()
    for path in _config_files(environ, home):
        parser.read(path)
    for section in parser.sections():
        for key, value in parser.items(section):
            parser.set(section, key, _rewrite(value, binds))
    environment = {key: _rewrite(value, binds) for key, value in environ.items()
                   if key.startswith("PIP_") and key != "PIP_CONFIG_FILE"}
    lines = []
    for section in parser.sections():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in parser.items(section))
    return PipForwarding("\n".join(lines) + "\n", environment, sorted(binds))


def _config_files(environ: dict[str, str], home: Path) -> list[Path]:
    """pip's configuration files, lowest priority first (site-wide, user, then PIP_CONFIG_FILE)."""
    config_file = environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    candidates = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d]
    candidates += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"]
    if config_file:
        candidates.append(Path(config_file))
    return [p for p in candidates if p.is_file()]


def _rewrite(value: str, binds: set[str]) -> str:
    """Point every existing absolute path or file:// URL in a setting at its bind under HOST_MOUNT."""
    words = []
    for word in value.split():
        scheme = "file://" if word.startswith("file://") else ""
        path = word[len(scheme):]
        if path.startswith("/") and os.path.exists(path):
            path = os.path.normpath(path)
            # A file:// simple index links to its files relatively (e.g. ../../files/x.whl): bind its parent too.
            binds.add(os.path.dirname(path) if scheme and os.path.isdir(path) else path)
            word = f"{scheme}{HOST_MOUNT}{path}"
        words.append(word)
    return " ".join(words) if words else value
