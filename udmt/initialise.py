"""First positions: from a points file, or found automatically at the cleanest frame near a start.

A clean frame shows N foreground blobs of one animal each. Where animals never come apart (a courting
pair), the best frame available is used and shared blobs are split by k-means, which still puts one start
point on each animal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from udmt import identity, kernels
from udmt.errors import InputError
from udmt.scene import Observation, Scene


def read_points(path: Path, width: int, height: int) -> np.ndarray:
    """(N, 2) positions in original pixels from a CSV with columns x,y (a header row is optional)."""
    try:
        rows = [line.split(",") for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError as err:
        raise InputError(f"{path}: cannot read points file ({err.strerror})") from None
    if rows and not _is_number(rows[0][0]):
        header = [c.strip().lower() for c in rows[0]]
        if "x" not in header or "y" not in header:
            raise InputError(f"{path}: the header must name columns x and y")
        ix, iy = header.index("x"), header.index("y")
        rows = rows[1:]
    else:
        ix, iy = 0, 1
    try:
        points = np.array([[float(r[ix]), float(r[iy])] for r in rows], dtype=np.float64)
    except (ValueError, IndexError):
        raise InputError(f"{path}: every row needs numeric x,y values") from None
    if len(points) == 0:
        raise InputError(f"{path}: no points given; list one x,y row per animal")
    outside = (points[:, 0] < -0.5) | (points[:, 0] > width - 0.5) | (points[:, 1] < -0.5) | (points[:, 1] > height - 0.5)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(f"{path}: point {i} ({points[i, 0]:g}, {points[i, 1]:g}) lies outside the {width}×{height} frame")
    return points


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cleanliness(obs: Observation, scene: Scene) -> float:
    """1.0 for a frame with exactly N single-animal blobs; lower the more animals share or miss blobs."""
    areas = obs.blobs.areas
    single = np.sum(scene.is_single(areas))
    return float(single - abs(len(areas) - scene.n_animals)) / scene.n_animals


def place_animals(obs: Observation, scene: Scene) -> np.ndarray:
    """N positions (working px) in one frame: blob centroids, shared blobs split by k-means."""
    blobs, n = obs.blobs, scene.n_animals
    if len(blobs) == 0:
        raise InputError(f"frame {obs.index}: no animal visible to start from; give --init points.csv")
    counts = identity.blob_capacity(blobs.areas, scene.animal_area)
    while counts.sum() > n:  # the blob with the least area per animal gives one up; a blob on its own keeps its
        shared = counts > 1  # one animal while any blob holds more (one large animal is not several small ones)
        ratio = np.where(shared if shared.any() else counts > 0, blobs.areas / np.maximum(counts, 1), np.inf)
        counts[np.argmin(ratio)] -= 1
    while counts.sum() < n:  # the blob with the most area per animal takes one more
        counts[np.argmax(blobs.areas / (counts + 1))] += 1
    positions = []
    for b in np.flatnonzero(counts):
        k = int(counts[b])
        if k == 1:
            positions.append(blobs.centroids[b])
            continue
        x, y = blobs.pixels(int(b))
        weights = np.clip(obs.diff[y, x], 0.0, None)
        pts = np.stack([x, y], axis=1).astype(np.float64)
        centre = blobs.centroids[b]
        axis = np.linalg.eigh(np.cov(pts.T))[1][:, -1]
        spread = np.sqrt(blobs.areas[b] / np.pi)
        starts = centre + np.linspace(-0.6, 0.6, k)[:, None] * spread * axis[None, :]
        positions.extend(kernels.split_blob(x, y, weights, starts, iterations=10))
    return np.array(positions, dtype=np.float64)


def find_start(observations: Iterable[Observation], scene: Scene) -> tuple[Observation, np.ndarray]:
    """The first perfectly clean observation (or else the cleanest) and the animals' positions in it."""
    best: Observation | None = None
    best_score = -np.inf
    for obs in observations:
        score = cleanliness(obs, scene)
        if score > best_score:
            best, best_score = obs, score
        if score >= 1.0:
            break
    if best is None:
        raise InputError("no frames to start tracking from")
    return best, place_animals(best, scene)
