"""The named synthetic scenes: species, arena, looks and behaviour, in physical-ish units.

Lengths are pixels at the scenario's default image side (they scale with ``size``); speeds are body lengths
per second and durations seconds (they hold at any ``fps``), so overriding size or frame rate keeps the
behaviour. The values aim at what real top-down recordings show, because the tracker is judged on real
videos, not on this simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Motion:
    """Behaviour: a correlated random walk switching between pause, walk and burst."""

    walk_speed: float  # body lengths / s
    burst_speed: float  # body lengths / s
    pause_s: float = 1.5  # mean duration of each mode, seconds
    walk_s: float = 2.0
    burst_s: float = 0.4
    rise_s: float = 0.08  # speed time constant when speeding up
    fall_s: float = 0.12  # ... and when slowing down (long for gliding fish)
    turn_sd: float = 1.2  # heading diffusion, rad / sqrt(s)
    turn_memory_s: float = 0.3  # how long a turn persists (correlation time of the turn rate)
    social: float = 0.5  # 0–1: pull towards a chosen partner, so that animals meet and touch
    contact_pause: float = 0.5  # probability of stopping to sniff when meeting the partner
    bout_turn: float = 0.0  # heading kick (rad sd) at the start of a burst: fish bouts
    max_step: float = 1e9  # px / frame cap at the default size (flies: ~15)


@dataclass(frozen=True)
class Look:
    """Grey levels (0–255) and texture of the scene: animals of one species, arena, light."""

    floor: float
    animal: float
    wall: float
    outside: float
    width: float = 0.42  # body width / body length
    texture: float = 6.0  # body texture amplitude (grey levels)
    floor_texture: float = 5.0
    noise_sd: float = 2.2  # per-frame sensor noise (grey levels)
    shadow: float = 0.18  # contact shadow darkening (fraction)
    vignetting: float = 0.22  # light fall-off at the image corners (fraction)
    either_polarity: bool = False  # the seed picks light-on-dark or dark-on-light (fish)


@dataclass(frozen=True)
class Scenario:
    """A named scene; ``generate`` reads its defaults and overrides."""

    name: str
    description: str
    species: str
    body: str  # body plan: rodent, fly, worm, fish
    n_animals: int
    motion: Motion
    look: Look
    body_length: float  # px at `size` (nose to rump, without tail)
    size: int = 640
    fps: float = 30.0
    frames: int = 900
    arena: str = "round"  # round or square
    arena_frac: float = 0.92  # arena diameter (round) or side (square) / image side
    scale_first: tuple[float, ...] = field(default=())  # body-length multipliers of the first animals (a rat)


_MOUSE_MOTION = Motion(walk_speed=1.6, burst_speed=5.0)
_DARK_MICE = Look(floor=188.0, animal=42.0, wall=232.0, outside=86.0, width=0.45)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("mice", "5 dark mice on a light floor, square open field", "mouse", "rodent", 5,
                 _MOUSE_MOTION, _DARK_MICE, body_length=56.0, arena="square", arena_frac=0.9),
        Scenario("white-mice", "4 white mice on a light-grey floor: low contrast", "mouse", "rodent", 4,
                 _MOUSE_MOTION,
                 Look(floor=176.0, animal=222.0, wall=120.0, outside=70.0, width=0.45, texture=5.0, shadow=0.22),
                 body_length=56.0),
        Scenario("flies", "14 small fast flies in a back-lit round arena, up to ~15 px/frame", "fly", "fly", 14,
                 Motion(walk_speed=5.0, burst_speed=26.0, pause_s=1.0, walk_s=1.5, burst_s=0.25,
                        rise_s=0.04, fall_s=0.06, turn_sd=2.5, social=0.35, max_step=15.0),
                 Look(floor=205.0, animal=48.0, wall=110.0, outside=40.0, width=0.38, texture=4.0,
                      shadow=0.1),
                 body_length=20.0),
        Scenario("rat-mice", "1 rat (~1.8x body length) with 3 mice", "rat+mouse", "rodent", 4,
                 _MOUSE_MOTION, _DARK_MICE, body_length=52.0, arena="square", arena_frac=0.9,
                 scale_first=(1.8,)),
        Scenario("worms", "6 slow C. elegans-like worms crawling on an agar plate", "c_elegans", "worm", 6,
                 Motion(walk_speed=0.16, burst_speed=0.3, pause_s=0.8, walk_s=6.0, burst_s=2.0,
                        rise_s=0.5, fall_s=0.5, turn_sd=0.35, turn_memory_s=1.5, social=0.6,
                        contact_pause=0.2),
                 Look(floor=172.0, animal=104.0, wall=135.0, outside=60.0, width=0.085, texture=3.0,
                      shadow=0.0),
                 body_length=84.0, arena_frac=0.96),
        Scenario("fish", "8 fish with fast swim bouts (light on dark or dark on light, by seed)", "fish", "fish",
                 8,
                 Motion(walk_speed=0.8, burst_speed=11.0, pause_s=0.6, walk_s=0.8, burst_s=0.12,
                        rise_s=0.02, fall_s=0.3, turn_sd=1.0, social=0.45, contact_pause=0.1,
                        bout_turn=0.6),
                 Look(floor=46.0, animal=196.0, wall=92.0, outside=20.0, width=0.2, texture=5.0, shadow=0.0,
                      either_polarity=True),
                 body_length=46.0, arena_frac=0.96),
        Scenario("mice-crowded", "10 mice in a small round arena, touching often", "mouse", "rodent", 10,
                 Motion(walk_speed=1.4, burst_speed=4.0, social=0.6), _DARK_MICE, body_length=52.0,
                 arena_frac=0.66),
        Scenario("long", "4 mice, 320x320 at 15 fps, 20 minutes (18000 frames)", "mouse", "rodent", 4,
                 _MOUSE_MOTION, _DARK_MICE, body_length=28.0, size=320, fps=15.0, frames=18000,
                 arena="square", arena_frac=0.9),
    )
}  # fmt: skip
