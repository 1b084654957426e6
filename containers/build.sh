#!/usr/bin/env bash
# Build the udmt Apptainer image from containers/udmt.def.
#   containers/build.sh [--fast] [--notest] [--build-arg KEY=VALUE]... OUT.sif
# With `apptainer` on PATH this is `apptainer build`. Without it (root, Debian host) the same image is built
# from the same recipe by containers/imagebuild.py: debootstrap root (cached in $UDMT_CONTAINER_CACHE or
# ~/.cache/udmt-container), %post in a chroot, /.singularity.d metadata, squashfs, SIF via siftool.
# --fast: lz4 instead of gzip squashfs (quick throw-away test images); --notest: skip %test.
set -euo pipefail

usage() { echo "usage: $0 [--fast] [--notest] [--build-arg KEY=VALUE]... OUT.sif" >&2; exit 2; }

fast=0 notest=0 out="" build_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fast) fast=1 ;;
    --notest) notest=1 ;;
    --build-arg) [[ $# -ge 2 ]] || usage; build_args+=(--build-arg "$2"); shift ;;
    --build-arg=*) build_args+=(--build-arg "${1#*=}") ;;
    -h|--help) usage ;;
    -*) echo "$0: unknown option $1" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$1" ;;
  esac
  shift
done
[[ -n "$out" ]] || usage
out="$(realpath -m "$out")"

# %files paths in the recipe are relative to the repository root.
cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.."

if command -v apptainer > /dev/null; then
  options=(--force "${build_args[@]}")
  [[ $fast -eq 1 ]] && options+=(--mksquashfs-args "-comp lz4")
  [[ $notest -eq 1 ]] && options+=(--notest)
  exec apptainer build "${options[@]}" "$out" containers/udmt.def
fi

options=("${build_args[@]}")
[[ $fast -eq 1 ]] && options+=(--fast)
[[ $notest -eq 1 ]] && options+=(--notest)
exec python3 containers/imagebuild.py "${options[@]}" "$out" containers/udmt.def
