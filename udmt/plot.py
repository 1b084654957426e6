"""Figures and the one-page HTML report of a tracking result, for a person checking it by eye.

Figures are drawn on bare ``matplotlib.figure.Figure`` objects rendered by Agg: no pyplot state and no GUI
toolkit, so this runs on headless cluster nodes. The report embeds the PNGs as base64 so it is one file that
can be mailed or opened from a cluster's scratch space.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from udmt import behaviour
from udmt.errors import InputError
from udmt.store import FLAG_CORRECTED, FLAG_INTERPOLATED, FLAG_LOST, Tracks, read_tracks

MAX_POINTS = 20_000  # time series are decimated to this many samples: a figure cannot show more
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Segment:
    """Frames ``start .. stop`` (exclusive) of one animal that deserve a look."""

    individual: str
    kind: str
    start: int
    stop: int


def _decimated(tracks: Tracks) -> tuple[np.ndarray, slice]:
    step = max(1, tracks.n_frames // MAX_POINTS)
    return np.arange(0, tracks.n_frames, step) / tracks.fps, slice(None, None, step)


def _time_series(tracks: Tracks, values: np.ndarray, labels: list[str], ylabel: str, title: str) -> Figure:
    """One line per column of ``values`` (T, K) against time, decimated to :data:`MAX_POINTS`."""
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    ax = fig.add_subplot()
    time, every = _decimated(tracks)
    for i, label in enumerate(labels):
        ax.plot(time, values[every, i], lw=0.8, label=label)
    ax.set(xlabel="time (s)", ylabel=ylabel, title=title)
    if not labels:
        ax.text(0.5, 0.5, "nothing to show (one animal)", transform=ax.transAxes, ha="center")
    elif len(labels) <= 12:
        ax.legend(fontsize="small", ncols=min(6, len(labels)), loc="upper right")
    return fig


def distance_figure(tracks: Tracks) -> Figure:
    """Distance between each pair for up to 4 animals; beyond that each animal's nearest-neighbour distance."""
    names = tracks.individuals
    if len(names) <= 4:
        a, b = np.triu_indices(len(names), k=1)
        d = behaviour.pairwise_distances(tracks.position)[:, a, b]
        return _time_series(tracks, d, [f"{names[i]}–{names[j]}" for i, j in zip(a, b)], "distance (px)",
                            "Inter-animal distance")
    nn_distance, _ = behaviour.nearest_neighbour(tracks.position)
    return _time_series(tracks, nn_distance, names, "distance (px)", "Distance to the nearest other animal")


def _frame_size(tracks: Tracks) -> tuple[float, float]:
    """Video width and height from the attributes, else the extent of the positions."""
    video = tracks.attrs.get("video") if isinstance(tracks.attrs.get("video"), dict) else {}
    width = video.get("width", tracks.attrs.get("width"))
    height = video.get("height", tracks.attrs.get("height"))
    if width and height:
        return float(width), float(height)
    known = tracks.position[~np.isnan(tracks.position).any(-1)]
    return (float(known[:, 0].max()) + 1, float(known[:, 1].max()) + 1) if len(known) else (1.0, 1.0)


def trajectories_figure(tracks: Tracks) -> Figure:
    """One panel per animal, path coloured by time, in image coordinates (y down)."""
    n = len(tracks.individuals)
    cols = min(4, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.2 * cols, 3.2 * rows + 0.4), layout="constrained")
    width, height = _frame_size(tracks)
    _, every = _decimated(tracks)
    for i, name in enumerate(tracks.individuals):
        ax = fig.add_subplot(rows, cols, i + 1)
        xy = tracks.position[every, i]
        ax.plot(xy[:, 0], xy[:, 1], lw=0.4, color="0.7")
        points = ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)), s=1.5, cmap="viridis")
        ax.set(xlim=(0, width), ylim=(height, 0), aspect="equal", title=name)
        ax.tick_params(labelsize="x-small")
    fig.colorbar(points, ax=fig.axes, shrink=0.6, label="sample (time →)")
    fig.suptitle("Trajectories")
    return fig


def occupancy_figure(tracks: Tracks, bins: int = 64) -> Figure:
    """Where the animals spent their time: 2-D histogram of all known positions."""
    width, height = _frame_size(tracks)
    known = tracks.position[~np.isnan(tracks.position).any(-1)]
    counts, _, _ = np.histogram2d(known[:, 1], known[:, 0], bins=bins, range=[[0, height], [0, width]])
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.log1p(counts), extent=(0, width, height, 0), cmap="magma", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="log(1 + frames)")
    ax.set(title="Occupancy (all animals)", xlabel="x (px)", ylabel="y (px)")
    return fig


def figures(tracks: Tracks) -> dict[str, Figure]:
    """All report figures by file stem."""
    names = tracks.individuals
    speed = behaviour.speed(tracks.position, tracks.fps)
    return {
        "trajectories": trajectories_figure(tracks),
        "confidence": _time_series(tracks, tracks.confidence, names, "confidence", "Tracking confidence"),
        "speed": _time_series(tracks, speed, names, "speed (px/s)", "Speed"),
        "occupancy": occupancy_figure(tracks),
        "distance": distance_figure(tracks),
    }


def save_figures(store: str | Path, out_dir: str | Path) -> list[Path]:
    """Write every figure of ``store`` as ``out_dir/<name>.png``; returns the paths."""
    tracks = read_tracks(store)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{out_dir}: cannot create the output folder ({err.strerror})") from err
    paths = []
    for name, fig in figures(tracks).items():
        paths.append(out_dir / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
    return paths


def segments(tracks: Tracks, low_confidence: float = LOW_CONFIDENCE) -> list[Segment]:
    """Stretches a person should check: lost, low confidence, corrected identity, interpolated."""
    lost = np.isnan(tracks.position).any(-1) | (tracks.flags & FLAG_LOST).astype(bool)
    kinds = {
        "lost": lost,
        "low confidence": ~lost & (tracks.confidence < low_confidence),
        "corrected": (tracks.flags & FLAG_CORRECTED).astype(bool),
        "interpolated": (tracks.flags & FLAG_INTERPOLATED).astype(bool),
    }
    found = [
        Segment(name, kind, int(start), int(stop))
        for kind, mask in kinds.items()
        for i, name in enumerate(tracks.individuals)
        for start, stop in zip(*behaviour.true_runs(mask[:, i]))
    ]
    return sorted(found, key=lambda s: (s.start, s.individual, s.kind))


def flatten(attrs: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested attributes as ``("qc.fb_error_px", "1.2")`` rows, lists shortened to one line."""
    rows = []
    for key, value in attrs.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, f"{name}."))
        else:
            text = json.dumps(value) if not isinstance(value, str) else value
            rows.append((name, text if len(text) <= 120 else text[:117] + "..."))
    return rows


def overview(tracks: Tracks) -> list[tuple[str, str]]:
    """The headline facts of a result: frames, duration, animals and how much of each was found."""
    known = ~np.isnan(tracks.position).any(-1)
    coverage = ", ".join(f"{name} {100 * known[:, i].mean():.1f}%" for i, name in enumerate(tracks.individuals))
    return [
        ("frames", f"{tracks.n_frames} at {tracks.fps:g} fps ({tracks.n_frames / tracks.fps:.1f} s)"),
        ("animals", f"{len(tracks.individuals)}: {', '.join(tracks.individuals)}"),
        ("positions known", coverage),
        ("mean confidence", f"{np.nanmean(tracks.confidence):.3f}" if np.isfinite(tracks.confidence).any() else "–"),
    ]


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;
font-size:14px}img{max-width:100%;display:block;margin:1em 0}h2{border-bottom:1px solid #ddd}"""


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _png_base64(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_report(store: str | Path, out_html: str | Path, max_segments: int = 500) -> Path:
    """One self-contained HTML page: overview, QC summary, segments to check, all figures embedded."""
    tracks = read_tracks(store)
    out_html = Path(out_html)
    if not out_html.parent.is_dir():
        raise InputError(f"{out_html}: folder {out_html.parent} does not exist; create it first")
    qc = tracks.attrs.get("qc")
    qc_rows = flatten(qc) if isinstance(qc, dict) else [("qc", "no QC summary in this store")]
    found = segments(tracks)
    segment_rows = [
        (s.individual, s.kind, s.start, s.stop - 1, f"{(s.stop - s.start) / tracks.fps:.2f}") for s in found
    ]
    shown = segment_rows[:max_segments]
    more = f"<p>… and {len(found) - len(shown)} more.</p>" if len(found) > len(shown) else ""
    other = {k: v for k, v in tracks.attrs.items() if k != "qc"}
    images = "".join(
        f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" src="data:image/png;base64,{_png_base64(fig)}">'
        for name, fig in figures(tracks).items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>udmt report: {html.escape(Path(store).name)}</title>
<style>{_CSS}</style></head><body>
<h1>udmt report: {html.escape(str(store))}</h1>
{_table(overview(tracks))}
<h2>Quality control</h2>{_table(qc_rows)}
<h2>Segments to check ({len(found)})</h2>
<p>Frame ranges are inclusive. Low confidence means below {LOW_CONFIDENCE}.</p>
{_table(shown, ("animal", "kind", "first frame", "last frame", "duration (s)"))}{more}
<h2>Figures</h2>{images}
<h2>Run details</h2><details><summary>all store attributes</summary>{_table(flatten(other))}</details>
</body></html>
"""
    out_html.write_text(page, encoding="utf-8")
    return out_html
