"""Output commands: ``udmt eval``, ``udmt export``, ``udmt info``, ``udmt plot``, ``udmt report``.

Heavy modules (zarr, motmetrics, matplotlib) are imported inside each command so ``udmt --help`` stays fast.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from udmt.cli.app import app
from udmt.errors import InputError, UsageError

STORE = Annotated[Path, typer.Argument(help="Result store (.zarr) written by `udmt track` or `udmt stitch`.")]


def _console() -> Console:
    return Console(highlight=False)


class ExportFormat(str, Enum):
    csv = "csv"
    sleap = "sleap"
    dlc = "dlc"
    idtracker = "idtracker"
    behaviour = "behaviour"


@app.command("eval")
def eval_command(
    store: STORE,
    gt: Annotated[
        Path, typer.Option("--gt", help="Ground truth CSV with columns frame,id,x,y (extra columns ignored).")
    ],
    radius: Annotated[
        Optional[float],
        typer.Option(help="Match radius in pixels. Default: match_radius_px from the meta.json beside the CSV."),
    ] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write all scores to this JSON file.")] = None,
) -> None:
    """Score a result against ground truth: MOTA, IDF1, HOTA, ID switches, localisation error.

    Frames of the ground truth that the result does not cover count as misses.
    """
    from udmt.evaluate import evaluate_store

    console = _console()
    with console.status("scoring…"):
        metrics = evaluate_store(store, gt, radius)
    table = Table(title=f"{store.name} vs {gt.name} (radius {metrics.radius_px:g} px, {metrics.n_frames} frames)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("HOTA", metrics.hota, "{:.4f}"),
        ("  DetA", metrics.deta, "{:.4f}"),
        ("  AssA", metrics.assa, "{:.4f}"),
        ("IDF1", metrics.idf1, "{:.4f}"),
        ("  IDP / IDR", (metrics.idp, metrics.idr), "{:.4f} / {:.4f}"),
        ("MOTA", metrics.mota, "{:.4f}"),
        ("ID switches", metrics.id_switches, "{}"),
        ("precision / recall", (metrics.precision, metrics.recall), "{:.4f} / {:.4f}"),
        ("misses / false positives", (metrics.misses, metrics.false_positives), "{} / {}"),
        ("loc. error mean / median (px)", (metrics.loc_error_mean_px, metrics.loc_error_median_px), "{:.2f} / {:.2f}"),
    ]
    for name, value, fmt in rows:
        table.add_row(name, fmt.format(*value) if isinstance(value, tuple) else fmt.format(value))
    console.print(table)
    if json_out is not None:
        _write_text(json_out, json.dumps(metrics.as_dict(), indent=2))
        console.print(f"scores written to {json_out}")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text + "\n")
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror}); check the folder exists and is writable") from err


@app.command("export")
def export_command(
    store: STORE,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: tidy table · sleap: SLEAP analysis .h5 · dlc: DeepLabCut .h5 · "
            "idtracker: idtracker.ai trajectories .npy or .h5 · "
            "behaviour: speed and nearest neighbour per frame (.csv).",
        ),
    ],
    out: Annotated[Path, typer.Option("--output", "-o", help="File to write (its suffix must suit the format).")],
    timeline: Annotated[
        Optional[Path],
        typer.Option(help="behaviour only: CSV of times in seconds to resample onto (column 'time' or the first)."),
    ] = None,
    proximity_px: Annotated[
        Optional[float],
        typer.Option(
            help="behaviour only: also list close encounters (distance below this, px) in <name>_proximity.csv."
        ),
    ] = None,
    min_duration: Annotated[
        float, typer.Option(help="behaviour only: shortest proximity event to list, in seconds.")
    ] = 0.0,
) -> None:
    """Write a result in a format other tools read (SLEAP, DeepLabCut, idtracker.ai, movement, spreadsheets)."""
    from udmt.export import export_store

    options: dict[str, Any] = {}
    if fmt is ExportFormat.behaviour:
        options = {"timeline": timeline, "proximity_px": proximity_px, "min_duration_s": min_duration}
    elif timeline is not None or proximity_px is not None:
        raise UsageError("--timeline and --proximity-px apply only to --format behaviour")
    for path in export_store(store, fmt.value, out, **options):
        _console().print(f"wrote {path}")


@app.command("info")
def info_command(store: STORE) -> None:
    """One-screen summary of a result: video, animals, frames, parameters, QC and stitching."""
    from udmt.plot import flatten, overview
    from udmt.store import read_tracks

    tracks = read_tracks(store)
    attrs = dict(tracks.attrs)
    table = Table(title=str(store), show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")

    def add(key: str, value: Any) -> None:
        if value not in (None, "", {}, []):
            table.add_row(key, value if isinstance(value, str) else json.dumps(value))

    video = attrs.pop("video", None)
    if isinstance(video, dict):
        for key, value in video.items():
            add(f"video {key}", value)
    else:
        add("video", video)
    for key in ("video_path", "video_hash", "model_checksum", "udmt_version"):
        add(key.replace("_", " "), attrs.pop(key, None))
    for key, value in overview(tracks):
        add(key, value)
    links = attrs.pop("stitch_links", None)
    if isinstance(links, list) and links:
        margins = [m for link in links for m in link.get("margin", []) if isinstance(m, (int, float))]
        low = sum(bool(link.get("low_margin")) for link in links)
        smallest = f", smallest margin {min(margins):.3g}" if margins else ""
        add("stitch links", f"{len(links)}, {low} with low margin{smallest}")
    if "tuning" in attrs:
        add("tuning", _tuning_line(attrs.pop("tuning")))
    for section in ("qc", "params", "parameters", "scene"):
        value = attrs.pop(section, None)
        for key, text in flatten(value, f"{section}.") if isinstance(value, dict) else []:
            add(key, text)
    for key in ("ds_type", "source_software", "fps", "time_unit", "n_frames", "chunk_plan"):
        attrs.pop(key, None)
    for key, text in flatten(attrs):
        add(key, text)
    _console().print(table)


def _tuning_line(tuning: dict[str, Any] | None) -> str:
    """What automatic tuning changed, and the consistency score before and after (``udmt.tune``)."""
    if tuning is None:
        return "off (--no-tune)"
    changed = ", ".join(f"{k} = {v:g}" for k, v in tuning.get("chosen", {}).items()) or "given values kept"
    return (f"{changed}; forward–backward gap {tuning.get('given_score')} → {tuning.get('score')} body lengths "
            f"({tuning.get('windows')} windows, {tuning.get('seconds')} s)")


@app.command("plot")
def plot_command(
    store: STORE,
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the PNG figures (created if missing).")],
) -> None:
    """Draw trajectories, confidence, speed, occupancy and inter-animal distance as PNGs."""
    from udmt.plot import save_figures

    for path in save_figures(store, out):
        _console().print(f"wrote {path}")


@app.command("report")
def report_command(
    store: STORE,
    out: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write (self-contained, figures embedded).")],
) -> None:
    """Write a one-page HTML report: QC summary, segments worth checking (frame ranges) and all figures."""
    from udmt.plot import write_report

    _console().print(f"wrote {write_report(store, out)}")

