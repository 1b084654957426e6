"""Build a SIF image from an Apptainer definition file without Apptainer (root, Debian host).

This is the path ``containers/build.sh`` takes where ``apptainer`` is not installed. It follows
``apptainer build`` step by step so that the recipe itself is exercised: debootstrap root (cached), base
``/.singularity.d`` layout, ``%setup`` on the host, ``%files``, ``%post`` in a chroot with a clean environment,
metadata (runscript, test, environment, labels, help, the def file), squashfs, SIF with the def file and the
primary system partition, then ``%test`` run from the finished image (read-only root), which is stricter than
Apptainer's test on the unpacked tree. Usage::

    python3 containers/imagebuild.py [--fast] [--notest] [--build-arg K=V ...] OUT.sif [RECIPE.def]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import defparse
import hostpip
import hosttools
import imagerun
import sifenv

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RECIPE = REPO / "containers" / "udmt.def"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAUNCH_SCRIPT = b"#!/usr/bin/env run-singularity\n"  # SIF header field: lets `./udmt.sif` start Apptainer


def default_cache() -> Path:
    """Where debootstrap roots are kept between builds (CI re-runs and test sessions reuse them)."""
    return Path(os.environ.get("UDMT_CONTAINER_CACHE") or Path.home() / ".cache" / "udmt-container")


def build(recipe: defparse.Recipe, out: Path, *, fast: bool = False, run_test: bool = True,
          cache: Path | None = None, log: TextIO = sys.stderr) -> None:
    """Build ``out`` (a SIF file) from a parsed recipe; the output appears only when every step passed."""
    if recipe.header["bootstrap"].lower() != "debootstrap":
        raise hosttools.HostError(f"Bootstrap: {recipe.header['bootstrap']} needs apptainer; "
                                  "this builder supports Bootstrap: debootstrap")
    if recipe.script("pre"):
        raise hosttools.HostError("%pre is not supported (deprecated in Apptainer); use %setup")
    hosttools.require_root("building the image")
    hosttools.ensure_tools(["debootstrap", "mksquashfs", "siftool", "unshare", "chroot"])
    work_parent = os.environ.get("APPTAINER_TMPDIR") or None
    with tempfile.TemporaryDirectory(prefix="udmt-build-", dir=work_parent) as tmp:
        root = Path(tmp) / "rootfs"
        steps = [
            ("bootstrap", lambda: _bootstrap(recipe.header, root, cache or default_cache())),
            ("base layout", lambda: sifenv.write_base_layout(root)),
            ("%setup", lambda: _run_host_script(recipe, root)),
            ("%files", lambda: _copy_files(recipe.files, root)),
            ("%post", lambda: _run_post(recipe, root)),
            ("metadata", lambda: sifenv.write_metadata(root, recipe)),
            ("squashfs", lambda: _squash(root, Path(tmp) / "rootfs.squashfs", fast)),
            ("sif", lambda: _assemble(recipe.text, Path(tmp) / "rootfs.squashfs", Path(tmp) / "image.sif")),
        ]
        for name, step in steps:
            started = time.monotonic()
            step()
            print(f"build: {name} done in {time.monotonic() - started:.1f} s", file=log)
        if run_test and recipe.script("test"):
            status = imagerun.run_image(Path(tmp) / "image.sif", "test", [], cleanenv=True)
            if status != 0:
                raise hosttools.HostError(f"%test failed with exit status {status}; no image written")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "image.sif"), out)


def _bootstrap(header: dict[str, str], root: Path, cache: Path) -> None:
    """Copy a minbase debootstrap root from the cache, creating it first when this header is new."""
    suite = header.get("osversion") or "stable"
    mirror = header.get("mirrorurl") or "http://deb.debian.org/debian"
    include = ",".join(header.get("include", "").replace(",", " ").split())
    key = json.dumps({"suite": suite, "mirror": mirror, "include": include, "arch": os.uname().machine,
                      "variant": "minbase"}, sort_keys=True)
    cached = cache / f"debootstrap-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not cached.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
        command = ["debootstrap", "--variant=minbase", *([f"--include={include}"] if include else []),
                   suite, str(fresh), mirror]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(fresh, ignore_errors=True)
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise hosttools.HostError(f"debootstrap {suite} from {mirror} failed: {' | '.join(tail)}")
        # The downloaded .debs are not part of any image: drop them before caching.
        shutil.rmtree(fresh / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        (fresh / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True)
        try:
            fresh.rename(cached)
        except OSError:
            if not cached.is_dir():  # else a concurrent build cached the same root first
                raise
            shutil.rmtree(fresh)
    subprocess.run(["cp", "-a", f"{cached}/.", str(root)], check=True)


def _run_host_script(recipe: defparse.Recipe, root: Path) -> None:
    """``%setup`` runs on the host with $APPTAINER_ROOTFS pointing at the image tree, as in Apptainer."""
    script = recipe.script("setup")
    if not script:
        return
    env = {"PATH": os.environ.get("PATH", CONTAINER_PATH), "APPTAINER_ROOTFS": str(root),
           "SINGULARITY_ROOTFS": str(root)}
    subprocess.run(["/bin/sh", "-e", "-x", "-c", script], env=env, check=True)


def _copy_files(files: list[tuple[str, str]], root: Path) -> None:
    """``%files``: ``cp -fLr`` of each source (relative to the working directory, globs allowed)."""
    for src, dst in files:
        sources = sorted(glob.glob(src))
        if not sources:
            raise hosttools.HostError(f"%files: {src} not found (relative paths start at {Path.cwd()})")
        target = root / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-fLr", *sources, str(target)], check=True)


def _run_post(recipe: defparse.Recipe, root: Path) -> None:
    """``%post`` in a chroot: clean environment, /proc /sys /dev and name resolution from the host."""
    script = recipe.script("post")
    if not script:
        return
    pip = hostpip.forward_host_pip()
    build_dir = root / ".udmt-build"
    build_dir.mkdir()
    (build_dir / "post.sh").write_text(script)
    (build_dir / "pip.conf").write_text(pip.config)
    interpreter = sifenv.interpreter(recipe, "post")
    env = {"PATH": CONTAINER_PATH, "HOME": "/root", "LANG": "C", "TERM": os.environ.get("TERM", "dumb"),
           "APPTAINER_ENVIRONMENT": sifenv.POST_ENVIRONMENT, "SINGULARITY_ENVIRONMENT": sifenv.POST_ENVIRONMENT,
           "APPTAINER_ROOTFS": "/", "PIP_CONFIG_FILE": "/.udmt-build/pip.conf", **pip.environment}
    quoted_root = shlex.quote(str(root))
    mounts = [f"mount -t proc proc {quoted_root}/proc",
              hosttools.bind_commands("/sys", f"{root}/sys"),
              hosttools.bind_commands("/dev", f"{root}/dev")]
    mounts += [hosttools.bind_commands(f, f"{root}/etc/{Path(f).name}", read_only=True)
               for f in ("/etc/resolv.conf", "/etc/hosts") if os.path.isfile(f)]
    mounts += [hosttools.bind_commands(p, f"{root}{hostpip.HOST_MOUNT}{p}", read_only=True) for p in pip.binds]
    env_args = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    script_text = "\n".join(mounts) + (
        f"\nexec chroot {quoted_root} /usr/bin/env -i {env_args} {shlex.quote(interpreter)} -e -x "
        "/.udmt-build/post.sh\n")
    status = hosttools.run_in_mount_namespace(script_text, [], env={"PATH": CONTAINER_PATH})
    shutil.rmtree(build_dir)
    if status != 0:
        raise hosttools.HostError(f"%post failed with exit status {status}")


def _squash(root: Path, out: Path, fast: bool) -> None:
    """mksquashfs of the tree: gzip like Apptainer (readable everywhere), lz4 for throw-away test images."""
    compression = ["-comp", "lz4"] if fast else ["-comp", "gzip"]
    subprocess.run(["mksquashfs", str(root), str(out), "-noappend", *compression, "-quiet", "-no-progress"],
                   check=True, stdout=subprocess.DEVNULL)


def _assemble(deffile: str, squashfs: Path, out: Path) -> None:
    """SIF: the def file (data type 1) and the root filesystem as PRIMARY system partition (type 4, part 2)."""
    recipe_file = squashfs.with_name("recipe.def")
    recipe_file.write_text(deffile)
    subprocess.run(["siftool", "new", str(out)], check=True)
    subprocess.run(["siftool", "add", "--datatype", "1", "--groupid", "1", str(out), str(recipe_file)], check=True)
    subprocess.run(["siftool", "add", "--datatype", "4", "--parttype", "2", "--partfs", "1",
                    "--partarch", str(hosttools.sif_arch()), "--groupid", "1", str(out), str(squashfs)],
                   check=True)
    with out.open("r+b") as sif:
        sif.write(LAUNCH_SCRIPT)


def main(argv: list[str] | None = None) -> int:
    """Command line of the fallback builder; errors are one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(description="Build a SIF image from an Apptainer recipe without Apptainer.")
    parser.add_argument("out", type=Path, help="SIF file to write")
    parser.add_argument("recipe", type=Path, nargs="?", default=DEFAULT_RECIPE, help="definition file")
    parser.add_argument("--fast", action="store_true", help="lz4 instead of gzip squashfs (test images)")
    parser.add_argument("--notest", action="store_true", help="skip %%test after the build")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--cache", type=Path, default=None, help="debootstrap cache directory")
    args = parser.parse_args(argv)
    try:
        build_args = dict(defparse.parse_key_value(a) for a in args.build_arg)
        recipe = defparse.parse_recipe(args.recipe.read_text(), build_args, name=str(args.recipe))
        for warning in recipe.warnings:
            print(f"build: warning: {warning}", file=sys.stderr)
        build(recipe, args.out.resolve(), fast=args.fast, run_test=not args.notest, cache=args.cache)
    except (defparse.RecipeError, hosttools.HostError, OSError) as err:
        print(f"build: error: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"build: error: {shlex.join(map(str, err.cmd))} exited with {err.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
