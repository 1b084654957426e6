"""udmt.plot and the plot / report / info commands."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from udmt import store
from udmt.cli.app import run_app
from udmt.plot import Segment, segments

T = 60
NAMES = ["animal_0", "animal_1"]


def _make_store(tmp_path: Path, attrs: dict) -> Path:
    t = np.arange(T, dtype=np.float32)
    position = np.stack([np.stack([10 + 2 * t, 50 + 0 * t], -1), np.stack([300 - t, 200 + t], -1)], 1)
    position[40:45, 1] = np.nan
    confidence = np.full((T, 2), 0.9, np.float32)
    confidence[10:13, 0] = 0.2
    flags = np.zeros((T, 2), np.uint8)
    flags[20:25, 1] = store.FLAG_CORRECTED
    flags[40:45, 1] = store.FLAG_LOST
    path = tmp_path / "run.zarr"
    store.create_store(path, n_frames=T, individuals=NAMES, fps=20.0, time_chunk=T, attrs=attrs)
    store.write_block(path, 0, position, confidence, flags)
    return path


ATTRS = {
    "video_path": "/data/mice.mp4",
    "video_hash": "f00d",
    "params": {"lambda": 0.01, "window_scale": 2.5},
    "qc": {"fraction_lost": 0.0417, "mean_confidence": 0.87},
    "stitch_links": [{"frame": 30, "cost_px": [1.0, 2.0], "margin": [4.5, 3.25], "low_margin": False}],
    "tuning": {"chosen": {"search_scale": 2.4}, "score": 0.15, "given_score": 0.24, "trials": [], "windows": 3,
               "frames": 288, "seconds": 6.2},
}


def test_segments_hand_checked(tmp_path: Path) -> None:
    found = segments(store.read_tracks(_make_store(tmp_path, {})))
    assert found == [
        Segment("animal_0", "low confidence", 10, 13),
        Segment("animal_1", "corrected", 20, 25),
        Segment("animal_1", "lost", 40, 45),
    ]


def test_plot_command_writes_pngs_without_gui(tmp_path: Path) -> None:
    """Run in a fresh interpreter so the check that no GUI toolkit (or pyplot) was imported is meaningful."""
    path = _make_store(tmp_path, ATTRS)
    out = tmp_path / "figs"
    code = (
        "import sys; from udmt.cli.app import run_app; import udmt.cli; "
        f"rc = run_app(['plot', {str(path)!r}, '-o', {str(out)!r}]); "
        "bad = [m for m in ('tkinter', 'PyQt5', 'PyQt6', 'PySide6', 'gi', 'matplotlib.pyplot') if m in sys.modules]; "
        "sys.exit(rc or (7 if bad else 0))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["confidence.png", "distance.png", "occupancy.png", "speed.png", "trajectories.png"]
    for png in out.glob("*.png"):
        image = imread(png)
        assert image.shape[0] > 200 and image.shape[1] > 200 and image.std() > 0.01  # not blank


def test_report_is_self_contained(tmp_path: Path) -> None:
    path = _make_store(tmp_path, ATTRS)
    out = tmp_path / "report.html"
    assert run_app(["report", str(path), "-o", str(out)]) == 0
    page = out.read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "fraction_lost" in page and "0.0417" in page
    # segments with inclusive frame ranges
    assert re.search(r"<td>animal_1</td><td>lost</td><td>40</td><td>44</td><td>0.25</td>", page)
    assert re.search(r"<td>animal_0</td><td>low confidence</td><td>10</td><td>12</td>", page)


def test_report_without_qc_and_bad_output(tmp_path: Path) -> None:
    path = _make_store(tmp_path, {})
    out = tmp_path / "r.html"
    assert run_app(["report", str(path), "-o", str(out)]) == 0
    assert "no QC summary" in out.read_text()
    assert run_app(["report", str(path), "-o", str(tmp_path / "no" / "such" / "r.html")]) == 3


def test_info_shows_what_is_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _make_store(tmp_path, ATTRS)
    assert run_app(["info", str(path)]) == 0
    text = capsys.readouterr().out
    for expected in ("/data/mice.mp4", "f00d", "60 at 20 fps", "animal_1 91.7%", "qc.fraction_lost", "params.lambda",
                     "1, 0 with low margin, smallest margin 3.25", "search_scale = 2.4; forward–backward gap 0.24 → 0.15"):
        assert expected in text, expected
    bare = _make_store(tmp_path / "bare", {"tuning": None})
    assert run_app(["info", str(bare)]) == 0
    text = capsys.readouterr().out
    assert "60 at 20 fps" in text and "off (--no-tune)" in text
    assert run_app(["info", str(tmp_path / "nothing.zarr")]) == 3


def test_figures_for_one_animal_and_empty_tracks(tmp_path: Path) -> None:
    """Edge cases a real run produces: a single animal, and an animal never found."""
    import warnings

    from udmt.plot import figures

    path = tmp_path / "one.zarr"
    store.create_store(path, n_frames=5, individuals=["solo"], fps=10.0, time_chunk=5, attrs={})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = figures(store.read_tracks(path))  # nothing written: every position unknown
        assert set(drawn) == {"trajectories", "confidence", "speed", "occupancy", "distance"}
        for fig in drawn.values():
            fig.savefig(tmp_path / "x.png")
