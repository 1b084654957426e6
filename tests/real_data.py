"""The real clips of ../shared/data/real (human-labelled), and the mark that skips a test when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
THREE_FLIES = REAL / "dreem_three_flies" / "three_flies.mp4"
THREE_FLIES_GT = THREE_FLIES.with_name("gt.csv")

needs_real = pytest.mark.skipif(not REAL.exists(), reason="../shared/data/real is not beside the checkout")
