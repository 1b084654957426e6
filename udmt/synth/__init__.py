"""Deterministic synthetic top-down videos of look-alike animals, with ground-truth body centres.

``generate(scenario, out_dir, seed=...)`` writes ``video.mp4``, ``gt.csv`` and ``meta.json``; ``SCENARIOS``
names the scenes (``udmt synth --list``). Same arguments, same files.
"""

from __future__ import annotations

from udmt.synth.make import generate, get_scenario
from udmt.synth.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Scenario", "generate", "get_scenario"]
