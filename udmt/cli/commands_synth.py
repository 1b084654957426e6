"""``udmt synth`` (synthetic videos with ground truth) and ``udmt render`` (overlay video).

Stage modules are imported inside the commands so that ``udmt --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from udmt.cli.app import app
from udmt.cli.progress_bar import progress_for
from udmt.errors import UsageError

QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (batch jobs, logs).")]


@app.command()
def synth(
    scenario: Annotated[Optional[str], typer.Argument(help="Scene to generate; see --list.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output directory (created).")] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Frames to render (default: the scenario's).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")] = 0,
    animals: Annotated[Optional[int], typer.Option("--animals", help="Number of animals (default: the scenario's).")] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Image side in px, even; the scene scales with it.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Frame rate; speeds stay in body lengths per second.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    quiet: QUIET = False,
) -> None:  # fmt: skip
    """Make a synthetic top-down video with ground truth: DIR/video.mp4, DIR/gt.csv (frame,id,x,y), DIR/meta.json.

    Look-alike animals walk, pause, burst, meet, touch and cross in a lit, noisy, compressed scene.

    Deterministic: the same arguments give the same files.
    """
    from udmt.synth import SCENARIOS, generate, get_scenario

    if list_:
        for name, scn in SCENARIOS.items():
            typer.echo(f"{name:<14} {scn.size}x{scn.size} {scn.fps:g} fps {scn.frames} frames  {scn.description}")
        return
    if scenario is None:
        raise UsageError(f"synth: name a scenario ({', '.join(SCENARIOS)}) or pass --list")
    get_scenario(scenario)  # an unknown name is a usage error before anything is written
    if out is None:
        raise UsageError("synth: give the output directory with -o DIR")
    done = generate(scenario, out, n_frames=frames, seed=seed, n_animals=animals, size=size, fps=fps,
                    progress=progress_for(quiet))  # fmt: skip
    typer.echo(f"wrote {done / 'video.mp4'}, {done / 'gt.csv'} and {done / 'meta.json'}")


@app.command()
def render(
    store: Annotated[Path, typer.Argument(help="Result store (.zarr) written by `udmt track` or `udmt stitch`.")],
    video: Annotated[Path, typer.Argument(help="The video the store was tracked from.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Overlay video to write (.mp4).")] = Path("overlay.mp4"),
    start: Annotated[int, typer.Option("--start", help="First frame to draw.")] = 0,
    stop: Annotated[Optional[int], typer.Option("--stop", help="Frame to stop before (default: the end).")] = None,
    trail: Annotated[int, typer.Option("--trail", help="Frames of fading trail behind each animal.")] = 30,
    quiet: QUIET = False,
) -> None:  # fmt: skip
    """Draw the tracks on the video: a colour and id per animal, fading trails, flagged frames marked.

    White ring: identity corrected. Grey with a dashed ring: lost or low confidence.
    """
    from udmt.render import render_overlay
    from udmt.store import check_tracked_from
    from udmt.video import VideoReader

    with VideoReader(video) as reader:  # a missing or unreadable video is named first
        check_tracked_from(store, video, reader.content_hash())
    done = render_overlay(store, video, out, start=start, stop=stop, trail=trail, progress=progress_for(quiet))
    typer.echo(f"wrote {done}")
