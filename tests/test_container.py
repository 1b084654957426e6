"""The Apptainer image: the recipe by Apptainer's rules, the built SIF, and udmt running inside it.

No Apptainer runtime exists on the CI machines (see ../shared/notes/hpc.md), so the image is built from
``containers/udmt.def`` by ``containers/build.sh`` (debootstrap, %post in a chroot, squashfs, SIF via siftool)
and started by ``containers/run.sh`` the way Apptainer does it (read-only root, $PWD/$HOME//tmp bound,
environment rules). Tests needing the image are root-only; the recipe tests run everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from container_support import CONTAINERS, REPO, RECIPE, built_image, host_udmt, run_image  # noqa: F401
from slurm_cluster import SlurmCluster

import defparse  # noqa: E402  (containers/ is put on sys.path by container_support)
import hosttools  # noqa: E402

pytestmark = pytest.mark.container

MINIMAL = textwrap.dedent("""\
    Bootstrap: debootstrap
    OSVersion: bookworm
    %post
        echo hello
    """)


def parse(text: str, **build_args: str) -> defparse.Recipe:
    return defparse.parse_recipe(text, build_args, name="test.def")


# --- the recipe, by Apptainer's parsing rules --------------------------------------------------------------

def test_recipe_parses_with_the_sections_the_image_needs() -> None:
    recipe = parse(RECIPE.read_text())
    assert recipe.header["bootstrap"] == "debootstrap"
    assert recipe.header["osversion"] == "bookworm"
    assert {"arguments", "post", "environment", "runscript", "test", "labels", "help"} <= set(recipe.sections)
    assert recipe.script("runscript").strip().splitlines()[-1].strip() == 'exec udmt "$@"'
    for variable in ("NUMBA_CACHE_DIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "TORCH_HOME"):
        assert f'export {variable}="$TMPDIR/' in recipe.script("environment")
    test = recipe.script("test")
    assert "udmt synth" in test and "udmt track" in test and "udmt eval" in test
    assert recipe.labels["udmt.torch.index"] == "https://download.pytorch.org/whl/cpu"
    assert "{{" not in recipe.script("post") and not recipe.warnings


def test_build_arguments_replace_the_defaults_everywhere() -> None:
    recipe = parse(RECIPE.read_text(), TORCH_INDEX="https://download.pytorch.org/whl/cu128")
    assert "--index-url https://download.pytorch.org/whl/cu128" in recipe.script("post")
    assert recipe.labels["udmt.torch.index"] == "https://download.pytorch.org/whl/cu128"
    assert "unused build variables: NOPE" in parse(RECIPE.read_text(), NOPE="1").warnings[0]


def test_files_copy_the_source_tree_only() -> None:
    recipe = parse(RECIPE.read_text())
    sources = [src for src, _ in recipe.files]
    assert all((REPO / src).exists() for src in sources), sources
    assert not {".venv", "build", ".", "tests"} & set(sources)


def test_placeholders_after_a_comment_stay_but_a_shebang_is_not_a_comment() -> None:
    text = MINIMAL + "%arguments\n    X=1\n%runscript\n    #!/bin/{{ X }}\n    echo {{ X }} # {{ X }}\n"
    body = parse(text).script("runscript")
    assert "#!/bin/1" in body and "echo 1 # {{ X }}" in body


@pytest.mark.parametrize(("text", "message"), [
    (MINIMAL + "%install\n    make\n", "invalid section %install"),
    (MINIMAL + "    cat > /x <<EOF\n    %not-a-section\n    EOF\n", "invalid section %not-a-section"),
    ("%post\n    echo hi\nBootstrap: debootstrap\nOSVersion: bookworm\n", "all must have headers"),
    ("%post\n    echo hi\n", "no 'Bootstrap:' header"),
    ("Bootstrap: debootstrap\nColour: blue\n%post\n    true\n", "invalid header keyword 'colour'"),
    ("Bootstrap: debootstrap\njust words\n%post\n    true\n", "is not 'Key: value'"),
    (MINIMAL + "%runscript\n    echo {{ MISSING }}\n", "build var MISSING is not defined"),
    (MINIMAL + "%appinstall foo\n    true\n", "SCIF app sections"),
], ids=["unknown-section", "percent-in-heredoc", "header-after-section", "no-header", "unknown-header-key",
        "header-without-colon", "undefined-build-var", "scif-app"])
def test_recipes_apptainer_refuses_are_refused(text: str, message: str) -> None:
    with pytest.raises(defparse.RecipeError, match=message.replace("(", r"\(")):
        parse(text)


# --- the built image --------------------------------------------------------------------------------------

def test_sif_holds_the_def_file_and_a_primary_system_squashfs(built_image: Path) -> None:
    listing = hosttools.siftool_list(built_image)
    assert "|Def.FILE" in listing and "|FS (Squashfs/*System/" in listing
    offset, _ = hosttools.primary_partition(built_image)
    with built_image.open("rb") as sif:
        assert sif.read(32).startswith(b"#!/usr/bin/env run-singularity")
        sif.seek(offset)
        assert sif.read(4) == b"hsqs"  # squashfs superblock magic
    dumped = subprocess.run(["siftool", "dump", "1", str(built_image)], capture_output=True, text=True, check=True)
    # The stored recipe is the one built: build arguments substituted.
    assert 'exec udmt "$@"' in dumped.stdout and "--index-url https://pypi.org/simple" in dumped.stdout


def test_runscript_runs_udmt_on_a_read_only_root(built_image: Path, tmp_path: Path) -> None:
    helped = run_image(built_image, "run", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "Usage" in helped.stdout and "udmt" in helped.stdout
    root = run_image(built_image, "exec", "sh", "-c", "touch /probe", cwd=tmp_path)
    assert root.returncode != 0 and "Read-only file system" in root.stderr
    bound = run_image(built_image, "exec", "sh", "-c", "echo ok > written-inside && pwd", cwd=tmp_path)
    assert bound.returncode == 0, bound.stderr
    assert bound.stdout.strip() == str(tmp_path) and (tmp_path / "written-inside").read_text() == "ok\n"


def test_environment_follows_apptainers_rules(built_image: Path, tmp_path: Path) -> None:
    env = {**os.environ, "UDMT_HOST_ONLY": "passed", "NUMBA_CACHE_DIR": "/host/numba",
           "APPTAINERENV_MPLCONFIGDIR": "/tmp/from-host"}
    show = 'echo "$UDMT_HOST_ONLY|$NUMBA_CACHE_DIR|$MPLCONFIGDIR|$PATH"'
    out = run_image(built_image, "exec", "sh", "-c", show, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    host_only, numba, mpl, path = out.stdout.strip().split("|")
    assert host_only == "passed"                     # host variables pass through
    assert numba.endswith("/udmt-cache/numba")       # %environment beats the host
    assert mpl == "/tmp/from-host"                   # APPTAINERENV_X beats %environment
    assert path.startswith("/opt/udmt/bin:") and ".venv" not in path  # PATH reset, then %environment
    clean = run_image(built_image, "exec", "sh", "-c", show, cwd=tmp_path, env=env, options=["--cleanenv"])
    assert clean.stdout.split("|")[0] == ""


def test_percent_test_passes(built_image: Path, tmp_path: Path) -> None:
    done = run_image(built_image, "test", cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_track_inside_the_image_matches_track_outside(built_image: Path, tmp_path: Path) -> None:
    from udmt.store import read_tracks

    scene = tmp_path / "scene"
    subprocess.run([host_udmt(), "synth", "mice", "-o", str(scene), "--frames", "60", "--quiet"], check=True,
                   capture_output=True, timeout=300)
    n_animals = str(json.loads((scene / "meta.json").read_text())["n_animals"])
    # Training capped by steps, not by the wall clock, so both runs do the same work.
    (tmp_path / "params.toml").write_text("[udmt]\ntrain_steps = 10\nidentity_steps = 30\ntrain_seconds = 600.0\n")
    args = ["track", "scene/video.mp4", "-n", n_animals, "--config", "params.toml", "--seed", "0", "--quiet"]
    outside = subprocess.run([host_udmt(), *args, "-o", "outside.zarr"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
    assert outside.returncode == 0, outside.stderr[-2000:]
    inside = run_image(built_image, "run", *args, "-o", "inside.zarr", cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr[-2000:]
    expected, got = read_tracks(tmp_path / "outside.zarr"), read_tracks(tmp_path / "inside.zarr")
    assert got.position.shape == expected.position.shape
    np.testing.assert_allclose(got.position, expected.position, atol=1e-3, equal_nan=True)


def test_a_slurm_array_task_runs_the_image(built_image: Path, slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    run = CONTAINERS / "run.sh"
    script = tmp_path / "job.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        #SBATCH --array=0-1
        #SBATCH --output=task_%a.log
        set -euo pipefail
        {run} exec {built_image} sh -c 'echo "$SLURM_ARRAY_TASK_ID $PWD"' > "inside_$SLURM_ARRAY_TASK_ID.txt"
        {run} run {built_image} --help > /dev/null
        """))
    job = slurm_cluster.submit(script, cwd=tmp_path)
    slurm_cluster.wait([job], timeout=120)
    for task in (0, 1):
        log = (tmp_path / f"task_{task}.log").read_text() if (tmp_path / f"task_{task}.log").exists() else ""
        assert (tmp_path / f"inside_{task}.txt").read_text() == f"{task} {tmp_path}\n", log
