"""Start a SIF image the way ``apptainer run/exec/test`` does, on machines without Apptainer (root).

What the container sees matches Apptainer's defaults: the image's squashfs partition as a read-only root
(a tmpfs overlay only provides the bind targets, then the root is remounted read-only), the host's /proc,
/sys, /dev, /tmp, $HOME and the working directory bound at the same paths (plus ``--bind`` ones), name
resolution from the host, the working directory kept. Environment: the host's variables pass through
(``--cleanenv``: only a few), PATH is reset to the container default, ``/.singularity.d/env/*.sh`` are
sourced in name order (so ``%environment`` beats host variables), then ``APPTAINERENV_X`` sets ``X``
(beating ``%environment``). Then the runscript, the test script or the given command is exec'ed. Usage::

    python3 containers/imagerun.py [--cleanenv] [--bind SRC[:DST]] {run,exec,test,shell} IMAGE.sif [ARGS...]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import hosttools

CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV_PREFIX = "APPTAINERENV_"
# Variables --cleanenv keeps; the rest of the host environment stays outside.
CLEANENV_KEEP = ("HOME", "USER", "LOGNAME", "TERM", "LANG")
# Host variables that would break the image's own set-up.
NEVER_PASSED = ("PATH", "LD_LIBRARY_PATH", "PS1", "PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")
TARGETS = {"run": ["/.singularity.d/runscript"], "test": ["/.singularity.d/test"], "exec": [],
           "shell": ["/.singularity.d/actions/shell"]}


def container_environment(host: dict[str, str], *, cleanenv: bool, image: Path, action: str) -> tuple[
        dict[str, str], dict[str, str]]:
    """(environment the container starts with, overrides applied after the env scripts)."""
    overrides = {k[len(ENV_PREFIX):]: v for k, v in host.items() if k.startswith(ENV_PREFIX) and len(k) > len(ENV_PREFIX)}
    for special, variable in (("PATH", "SING_USER_DEFINED_PATH"), ("PREPEND_PATH", "SING_USER_DEFINED_PREPEND_PATH"),
                              ("APPEND_PATH", "SING_USER_DEFINED_APPEND_PATH")):
        if special in overrides:
            overrides[variable] = overrides.pop(special)
    keep = (lambda k: k in CLEANENV_KEEP) if cleanenv else (lambda k: k not in NEVER_PASSED)
    env = {k: v for k, v in host.items() if keep(k) and not k.startswith(ENV_PREFIX)}
    env.update(PATH=CONTAINER_PATH, APPTAINER_CONTAINER=str(image), APPTAINER_NAME=image.name,
               APPTAINER_COMMAND=action)
    return env, overrides


def _entry_script(overrides: dict[str, str]) -> str:
    """Runs inside the container: cd, env scripts, runtime overrides, exec."""
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in overrides.items() if k.isidentifier())
    path_vars = ". /.singularity.d/env/99-runtimevars.sh\n" if any(k.startswith("SING_USER") for k in overrides) else ""
    return ('cd "$1" 2>/dev/null || cd "$HOME" 2>/dev/null || cd /\nshift\n'
            'for script in /.singularity.d/env/*.sh; do\n    if [ -f "$script" ]; then . "$script"; fi\ndone\n'
            f'{exports}{path_vars}exec "$@"\n')


def run_image(image: Path, action: str, args: list[str], *, cleanenv: bool = False,
              binds: list[str] | None = None, cwd: Path | None = None) -> int:
    """Run ``action`` (run, exec, test, shell) of ``image`` with ``args``; returns the exit status."""
    hosttools.require_root("running the image")
    hosttools.ensure_tools(["siftool", "unshare", "chroot"])
    image = image.resolve()
    offset, size = hosttools.primary_partition(image)
    cwd = (cwd or Path.cwd()).resolve()
    env, overrides = container_environment(dict(os.environ), cleanenv=cleanenv, image=image, action=action)
    home = os.environ.get("HOME", "/root")
    bind_specs = ["/tmp", home, str(cwd), *(binds or [])]
    stage = Path(tempfile.mkdtemp(prefix="udmt-run-"))
    try:
        root = stage / "root"
        setup = [
            f"mkdir -p {stage}/image {stage}/rw {root}",
            f"mount -t squashfs -o ro,loop,offset={offset},sizelimit={size} {shlex.quote(str(image))} {stage}/image",
            f"mount -t tmpfs -o mode=0755 udmt-session {stage}/rw",
            f"mkdir {stage}/rw/upper {stage}/rw/work",
            f"mount -t overlay -o lowerdir={stage}/image,upperdir={stage}/rw/upper,workdir={stage}/rw/work "
            f"overlay {root}",
            hosttools.bind_commands("/proc", f"{root}/proc"),
            hosttools.bind_commands("/sys", f"{root}/sys"),
            hosttools.bind_commands("/dev", f"{root}/dev"),
        ]
        setup += [hosttools.bind_commands(f, f"{root}{f}", read_only=True)
                  for f in ("/etc/resolv.conf", "/etc/hosts") if os.path.isfile(f)]
        for spec in bind_specs:
            source, _, target = spec.partition(":")
            if not os.path.exists(source):
                raise hosttools.HostError(f"bind source {source} does not exist")
            setup.append(hosttools.bind_commands(source, f"{root}{target or source}"))
        setup.append(f"mount -o remount,bind,ro {root}")  # read-only root; the binds keep their own flags
        command = [*TARGETS[action], *args] if action != "exec" else args
        if not command:
            raise hosttools.HostError("exec needs a command to run in the image")
        script = "\n".join(setup) + f'\nexec chroot {root} /bin/sh -c "$1" udmt-entry "${{@:2}}"\n'
        return hosttools.run_in_mount_namespace(script, [_entry_script(overrides), str(cwd), *command], env)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: exit status is the container's; runner errors are one line and status 2."""
    parser = argparse.ArgumentParser(description="Run a SIF image like apptainer, without apptainer (root).")
    parser.add_argument("action", choices=sorted(TARGETS))
    parser.add_argument("image", type=Path)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    parser.add_argument("--cleanenv", "-e", action="store_true", help="do not pass the host environment")
    parser.add_argument("--bind", "-B", action="append", default=[], metavar="SRC[:DST]")
    args = parser.parse_args(argv)
    try:
        return run_image(args.image, args.action, args.args, cleanenv=args.cleanenv,
                         binds=[b for spec in args.bind for b in spec.split(",")])
    except hosttools.HostError as err:
        print(f"run: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
