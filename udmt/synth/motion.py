"""Animal motion: correlated random walks with pauses, bursts, wall avoidance and social attraction.

Everything is simulated before anything is drawn, vectorised over animals, one step per frame. Animals pick a
partner to approach, so that they meet, touch, overlap and cross (a weak repulsion only stops them from
merging for good), pause to sniff, and leave again. The heading follows the motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udmt.synth.scenarios import Motion

PAUSE, WALK, BURST = 0, 1, 2
# Next mode when a mode ends (rows: current mode; columns: pause, walk, burst).
_NEXT_MODE = np.array([[0.0, 0.75, 0.25], [0.45, 0.35, 0.20], [0.35, 0.65, 0.0]])


@dataclass(frozen=True)
class Arena:
    """Round (``half`` = radius) or square (``half`` = half side) arena centred on ``(cx, cy)``."""

    shape: str
    cx: float
    cy: float
    half: float

    def wall_distance(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance of points ``(n, 2)`` to the wall (positive inside) and the unit inward normal ``(n, 2)``."""
        d = p - (self.cx, self.cy)
        if self.shape == "round":
            r = np.hypot(d[:, 0], d[:, 1])
            return self.half - r, -d / np.maximum(r, 1e-9)[:, None]
        ax = np.abs(d)
        along_x = ax[:, 0] >= ax[:, 1]
        normal = np.where(along_x[:, None], [[1.0, 0.0]], [[0.0, 1.0]]) * -np.sign(d)
        return self.half - ax.max(axis=1), normal


@dataclass(frozen=True)
class Trajectories:
    """Simulated state per frame and animal; positions are body centres in pixel-centre coordinates."""

    position: np.ndarray  # (T, N, 2) float64
    heading: np.ndarray  # (T, N) rad, direction of the head
    speed: np.ndarray  # (T, N) px / frame
    turn: np.ndarray  # (T, N) smoothed turn rate, rad / frame (bends tails and bodies)
    phase: np.ndarray  # (T, N) undulation phase (worm body wave, fish tail beat)
    order: np.ndarray  # (T, N) drawing order, bottom to top


def _place(arena: Arena, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Initial positions apart from each other and from the wall: the first frame is a clean one."""
    n = len(lengths)
    placed: list[np.ndarray] = []
    spacing = 1.3 * float(lengths.max())
    for tries in range(20000):
        p = rng.uniform(arena.half * -1, arena.half, size=2) + (arena.cx, arena.cy)
        if arena.wall_distance(p[None])[0][0] < 0.7 * lengths[len(placed)]:
            continue
        relax = 1.0 - tries / 20000  # shrink the spacing if the arena is crowded
        if all(np.hypot(*(p - q)) > spacing * relax for q in placed):
            placed.append(p)
            if len(placed) == n:
                return np.array(placed)
    raise RuntimeError("cannot place the animals in the arena")  # unreachable for sane scenarios


def simulate(motion: Motion, arena: Arena, lengths: np.ndarray, n_frames: int, fps: float,
             scale: float, rng: np.random.Generator) -> Trajectories:  # fmt: skip
    """Simulate ``n_frames`` steps for animals of body ``lengths`` (px); deterministic given ``rng``.

    ``scale`` is image size over the scenario's default size (caps in px / frame scale with it).
    """
    n = len(lengths)
    dt = 1.0 / fps
    durations = np.array([motion.pause_s, motion.walk_s, motion.burst_s])
    turn_keep = np.exp(-dt / motion.turn_memory_s)
    rise, fall = 1 - np.exp(-dt / motion.rise_s), 1 - np.exp(-dt / motion.fall_s)
    max_step = motion.max_step * scale

    pos = _place(arena, lengths, rng)
    heading = rng.uniform(-np.pi, np.pi, n)
    mode = rng.choice(3, size=n, p=[0.3, 0.6, 0.1])
    timer = rng.exponential(durations[mode])
    target = np.where(mode == PAUSE, 0.0, motion.walk_speed) * lengths * dt
    speed = target.copy()
    omega = np.zeros(n)
    turn = np.zeros(n)
    phase = rng.uniform(0, 2 * np.pi, n)
    partner = (np.arange(n) + rng.integers(1, max(n, 2), n)) % max(n, 1)
    seeking = rng.random(n) < motion.social
    depth = rng.random(n)

    out_pos = np.empty((n_frames, n, 2))
    out_heading, out_speed, out_turn, out_phase = (np.empty((n_frames, n)) for _ in range(4))
    out_order = np.empty((n_frames, n), np.int16)
    eye = np.eye(n, dtype=bool)
    for t in range(n_frames):
        out_pos[t], out_heading[t], out_speed[t], out_turn[t], out_phase[t] = pos, heading, speed, turn, phase
        out_order[t] = np.argsort(depth, kind="stable")
        gauss = rng.standard_normal((n, 3))
        unif = rng.random((n, 8))

        # Modes: when one ends, draw the next, its duration, its target speed and maybe a new partner.
        timer -= dt
        ended = timer <= 0
        if ended.any():
            cum = np.cumsum(_NEXT_MODE[mode], axis=1)
            new_mode = (unif[:, :1] > cum).sum(axis=1).clip(0, 2)
            mode = np.where(ended, new_mode, mode)
            timer = np.where(ended, -durations[mode] * np.log1p(-unif[:, 1]), timer)
            wanted = np.select([mode == WALK, mode == BURST], [motion.walk_speed, motion.burst_speed], 0.0)
            wanted = wanted * np.exp(0.25 * gauss[:, 2]) * lengths * dt
            target = np.where(ended, wanted, target)
            heading = heading + np.where(ended & (mode == BURST), motion.bout_turn * gauss[:, 1], 0.0)
            repick = ended & (unif[:, 2] < 0.5)
            partner = np.where(repick, (np.arange(n) + 1 + (unif[:, 3] * (n - 1)).astype(int)) % n, partner)
            seeking = np.where(ended, unif[:, 4] < motion.social, seeking)

        # Steering: wall avoidance and attraction to the partner, added to the heading as a desired direction.
        wall_d, inward = arena.wall_distance(pos)
        toward = pos[partner] - pos
        dist = np.hypot(toward[:, 0], toward[:, 1])
        meeting = dist < 0.9 * (lengths + lengths[partner]) / 2
        sniff = meeting & (mode != PAUSE) & (unif[:, 5] < motion.contact_pause * dt / 0.5)
        mode, target = np.where(sniff, PAUSE, mode), np.where(sniff, 0.0, target)
        timer = np.where(sniff, motion.pause_s, timer)
        pull = np.where(seeking & ~meeting, 0.8, 0.0) / np.maximum(dist, 1e-9)
        push = np.clip(1.5 - wall_d / lengths, 0.0, None) ** 2 * 2.0
        desired = np.stack([np.cos(heading), np.sin(heading)], 1) + pull[:, None] * toward + push[:, None] * inward
        steer = np.angle(np.exp(1j * (np.arctan2(desired[:, 1], desired[:, 0]) - heading)))
        moving = speed > 0.05 * lengths * dt
        omega = turn_keep * omega + motion.turn_sd * np.sqrt(dt) * (1 - turn_keep) * gauss[:, 0]
        d_heading = omega + np.where(moving, 3.0 * dt, 0.3 * dt) * steer
        d_heading = np.where(moving, d_heading, 0.25 * d_heading)  # paused animals only look around
        heading = np.angle(np.exp(1j * (heading + d_heading)))
        turn = 0.8 * turn + 0.2 * d_heading

        # Speed and step; the wall holds the body inside; heavy overlaps relax slowly (animals can cross).
        speed = speed + (target - speed) * np.where(target > speed, rise, fall)
        step = np.minimum(speed, max_step)
        pos = pos + step[:, None] * np.stack([np.cos(heading), np.sin(heading)], 1)
        gap = pos[:, None, :] - pos[None, :, :]
        pair = np.hypot(gap[..., 0], gap[..., 1])
        overlap = np.clip(0.35 * (lengths[:, None] + lengths[None, :]) / 2 - pair, 0.0, None)
        overlap[eye] = 0.0
        pos = pos + 0.08 * ((overlap / np.maximum(pair, 1e-9))[..., None] * gap).sum(axis=1)
        wall_d, inward = arena.wall_distance(pos)
        inside = 0.45 * lengths
        out = wall_d < inside
        if out.any():
            pos = pos + np.where(out, inside - wall_d, 0.0)[:, None] * inward
            normal_part = np.cos(heading) * inward[:, 0] + np.sin(heading) * inward[:, 1]
            slide = np.stack([np.cos(heading), np.sin(heading)], 1) - np.minimum(normal_part, 0)[:, None] * inward
            heading = np.where(out, np.arctan2(slide[:, 1], slide[:, 0]), heading)
        phase = phase + 2 * np.pi * (0.2 * dt + step / (0.6 * lengths))  # one body wave per 0.6 lengths
        depth = np.where(unif[:, 6] < dt / 3.0, unif[:, 7], depth)  # who is on top changes every few s
    return Trajectories(out_pos, out_heading, out_speed, out_turn, out_phase % (2 * np.pi), out_order)
