"""Drawing: a static lit arena and look-alike textured animals, composited in float32 with numpy.

Each animal is evaluated only on the pixels of its footprint inside its bounding box, in its own body
coordinates ``(u, v)`` (``u`` towards the head, ``v`` to its left), as an approximate signed distance to its
outline; the distance gives soft edges (anti-aliasing plus a little optical blur), a contact shadow and a
texture lookup. The footprints of all animals of a frame are concatenated and shaded in one batch of numpy
operations (per-call overhead, not pixels, dominates for small animals); only the final compositing runs per
animal, in depth order. No per-pixel Python loops.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from udmt.synth.motion import Arena
from udmt.synth.scenarios import Look

_SOFT = 1.1  # edge width in px: anti-aliasing and optical blur
_NOISE_BANK = 4  # sensor-noise fields; each frame takes one at a random offset
_NOISE_PAD = 48

Layer = tuple[np.ndarray, np.ndarray]  # (alpha, grey level before lighting) per footprint pixel


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation."""
    field = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field / max(float(field.std()), 1e-9)).astype(np.float32)


def _alpha(d: np.ndarray) -> np.ndarray:
    """Coverage of a pixel at signed distance ``d`` (negative inside) from an outline."""
    return np.clip(0.5 - d * (1.0 / _SOFT), 0.0, 1.0)


def _ellipse_d(u: np.ndarray, v: np.ndarray, ru: np.ndarray, rv: np.ndarray) -> np.ndarray:
    """Approximate signed distance to a centred axis-aligned ellipse (exact on the axes, good enough between)."""
    rho = np.sqrt((u / ru) ** 2 + (v / rv) ** 2)
    return (rho - 1.0) * np.minimum(ru, rv)


class Canvas:
    """The static scene (floor texture, arena wall, uneven lighting) and the camera's per-frame noise."""

    def __init__(self, size: int, arena: Arena, look: Look, rng: np.random.Generator) -> None:
        self.size = size
        self.look = look
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        c = (size - 1) / 2
        corner = ((xx - c) ** 2 + (yy - c) ** 2) / (2 * (size / 2) ** 2)  # 0 at the centre, 1 at corners
        angle, slope = rng.uniform(0, 2 * math.pi), rng.uniform(0.04, 0.1)
        gradient = slope * ((xx - c) * math.cos(angle) + (yy - c) * math.sin(angle)) / (size / 2)
        self.light = ((1.0 - look.vignetting * corner) * (1.0 + gradient)).astype(np.float32)

        if arena.shape == "round":
            inside = arena.half - np.hypot(xx - arena.cx, yy - arena.cy)
        else:
            inside = arena.half - np.maximum(np.abs(xx - arena.cx), np.abs(yy - arena.cy))
        wall_w = max(3.0, 0.022 * size)
        level = (look.outside + (look.wall - look.outside) * _alpha(-inside - wall_w)
                 + (look.floor - look.wall) * _alpha(-inside))  # fmt: skip
        level *= 1.0 - 0.1 * np.exp(-np.clip(inside, 0, None) / (0.02 * size))  # the wall's shade on the floor
        grain = look.floor_texture * (0.5 * _smooth_noise(rng, (size, size), 0.02 * size)
                                      + 0.5 * _smooth_noise(rng, (size, size), 0.8))  # fmt: skip
        self.background = (level * self.light + grain).astype(np.float32)
        bank = (_NOISE_BANK, size + _NOISE_PAD, size + _NOISE_PAD)
        self._noise = rng.standard_normal(bank, dtype=np.float32) * np.float32(look.noise_sd)
        self._frame = np.empty_like(self.background)  # reused buffers: fresh 1.6 MB arrays cost page faults
        self._out = np.empty((size, size), np.uint8)

    def blank(self) -> np.ndarray:
        """The empty scene in the canvas's float32 work buffer (valid until the next call)."""
        np.copyto(self._frame, self.background)
        return self._frame

    def expose(self, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add this frame's sensor noise and quantise to ``uint8`` (modifies ``frame``; the result is reused)."""
        k, oy, ox = rng.integers(0, (_NOISE_BANK, _NOISE_PAD, _NOISE_PAD))
        frame += self._noise[k, oy : oy + self.size, ox : ox + self.size]
        np.clip(frame, 0.0, 255.0, out=frame)
        np.copyto(self._out, frame, casting="unsafe")
        return self._out


class Herd:
    """The animals of one body plan in a scene: their constant looks and a batched renderer.

    Subclasses give the outline and shading. ``lengths`` are nose to rump (the body the ground-truth centre
    refers to); size (+-10 %), width and tone vary a little between animals, as between real litter-mates.
    """

    #: reach of the drawing from the centre in body lengths: (ahead, behind, to each side)
    extent: tuple[float, float, float] = (0.6, 0.6, 0.4)

    def __init__(self, lengths: np.ndarray, look: Look, rng: np.random.Generator) -> None:
        n = len(lengths)
        self.look = look
        self.length = np.asarray(lengths, np.float32)
        self.half_len = self.length / 2
        self.half_w = (self.length * look.width * rng.uniform(0.95, 1.05, n) / 2).astype(np.float32)
        self.tone = (look.animal + rng.uniform(-4, 4, n)).astype(np.float32)
        ahead, behind, side = self.window()
        self._cell = np.maximum(1.0, 0.03 * self.length)  # texture grain, px
        cols = ((ahead + behind) / self._cell).astype(np.intp) + 2
        rows = (2 * side / self._cell).astype(np.intp) + 2
        textures = [_smooth_noise(rng, (int(r), int(c)), 1.3).ravel() for r, c in zip(rows, cols)]
        self._tex = np.concatenate(textures) * np.float32(look.texture)
        self._tex_start = np.cumsum([0] + [len(t) for t in textures[:-1]])
        self._tex_cols = cols
        self._tex_origin = (behind / self._cell, side / self._cell)

    def window(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reach ahead of, behind and to each side of each animal's centre, px (soft edges included)."""
        return tuple(e * self.length + (2 * _SOFT + 2) for e in self.extent)  # type: ignore[return-value]

    def pose(self, turn: np.ndarray, phase: np.ndarray, speed: np.ndarray) -> dict[str, np.ndarray]:
        """Per-animal shape parameters of this frame (bends, beats), from the simulated motion."""
        return {}

    def footprint(self, u: np.ndarray, v: np.ndarray, i: int, pose: dict[str, float]) -> np.ndarray:
        """Pixels of animal ``i``'s window that the drawing may touch (body, shadow, appendages)."""
        ahead, behind, side = (float(e[i]) for e in self.window())
        return (np.abs(u - 0.5 * (ahead - behind)) < 0.5 * (ahead + behind)) & (np.abs(v) < side)

    def layers(self, u: np.ndarray, v: np.ndarray, who: np.ndarray, pose: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, list[Layer]]:  # fmt: skip
        """Signed distance of the body (for its shadow) and the layers to composite, bottom first.

        All arguments are per footprint pixel: ``who`` is the animal, ``pose`` its pose values.
        """
        raise NotImplementedError

    def texture(self, u: np.ndarray, v: np.ndarray, who: np.ndarray) -> np.ndarray:
        """Each animal's own body texture at body coordinates ``(u, v)``: one flat lookup."""
        k = 1.0 / self._cell[who]
        idx = (self._tex_start[who] + (v * k + self._tex_origin[1][who]).astype(np.intp) * self._tex_cols[who]
               + (u * k + self._tex_origin[0][who]).astype(np.intp))  # fmt: skip
        return np.take(self._tex, idx, mode="clip")

    def draw(self, img: np.ndarray, light: np.ndarray, position: np.ndarray, heading: np.ndarray,
             turn: np.ndarray, phase: np.ndarray, speed: np.ndarray, order: np.ndarray) -> None:  # fmt: skip
        """Composite all animals into the C-contiguous float32 frame ``img`` (in place), ``order`` last on top."""
        h, w = img.shape
        pose = self.pose(turn, phase, speed)
        reach = self.window()
        flats, us, vs = [], [], []
        for i in range(len(self.length)):
            x, y = float(position[i, 0]), float(position[i, 1])
            c, s = math.cos(heading[i]), math.sin(heading[i])
            ahead, behind, side = (float(e[i]) for e in reach)
            xs = [x + a * c - b * s for a in (ahead, -behind) for b in (side, -side)]
            ys = [y + a * s + b * c for a in (ahead, -behind) for b in (side, -side)]
            x0, x1 = max(math.floor(min(xs)), 0), min(math.ceil(max(xs)) + 1, w)
            y0, y1 = max(math.floor(min(ys)), 0), min(math.ceil(max(ys)) + 1, h)
            if x0 >= x1 or y0 >= y1:
                x0, x1, y0, y1 = 0, 0, 0, 0
            dx = np.arange(x0, x1, dtype=np.float32) - np.float32(x)
            dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(y))[:, None]
            u = (dx * np.float32(c) + dy * np.float32(s)).ravel()
            v = (dy * np.float32(c) - dx * np.float32(s)).ravel()
            inside = np.flatnonzero(self.footprint(u, v, i, {k: float(p[i]) for k, p in pose.items()}))
            rows, cols = np.divmod(inside, x1 - x0) if x1 > x0 else (inside, inside)
            flats.append((rows + y0) * w + (cols + x0))
            us.append(u[inside])
            vs.append(v[inside])
        bounds = np.cumsum([0] + [len(f) for f in flats])
        who = np.repeat(np.arange(len(flats)), np.diff(bounds))
        flat = np.concatenate(flats)
        d_body, layers = self.layers(np.concatenate(us), np.concatenate(vs), who,
                                     {k: p[who] for k, p in pose.items()})  # fmt: skip
        lit = light.reshape(-1)[flat]
        layers = [(alpha, value * lit) for alpha, value in layers]
        shade = 1.0 - self.look.shadow * np.clip(1.0 - d_body / (0.12 * self.length[who]), 0.0, 1.0)
        pixels_all = img.reshape(-1)
        for i in order:
            part = slice(bounds[i], bounds[i + 1])
            idx = flat[part]
            pixels = pixels_all[idx] * shade[part]
            for alpha, value in layers:
                pixels += alpha[part] * (value[part] - pixels)
            pixels_all[idx] = pixels


class Rodent(Herd):
    """Mouse or rat: egg-shaped body wider at the hips, neck, pointed snout, ears, and a thin curling tail."""

    extent = (0.6, 1.45, 0.55)

    def __init__(self, lengths: np.ndarray, look: Look, rng: np.random.Generator) -> None:
        super().__init__(lengths, look, rng)
        dark = look.animal < look.floor
        self.sheen = 10.0 if dark else -22.0  # dark fur shines along the back; white fur darkens at the flanks
        self.skin = self.tone + (18.0 if dark else -38.0)  # ears and tail: bare skin
        self.tail_len = 0.85 * self.length

    def pose(self, turn: np.ndarray, phase: np.ndarray, speed: np.ndarray) -> dict[str, np.ndarray]:
        bend = np.clip(turn * 4.0, -0.2, 0.2).astype(np.float32)  # the body curves into a turn
        sway = np.clip(2.0 * bend + 0.25 * np.sin(0.5 * phase), -0.45, 0.45).astype(np.float32)  # the tail
        return {"bend": bend, "sway": sway}

    def footprint(self, u: np.ndarray, v: np.ndarray, i: int, pose: dict[str, float]) -> np.ndarray:
        a, b, bend = float(self.half_len[i]), float(self.half_w[i]), pose["bend"]
        margin = 0.24 * a + 2 * _SOFT + 1
        trunk = (u * (1.0 / (a + margin))) ** 2 + ((v - (bend / a) * u * u) * (1.0 / (1.1 * b + margin))) ** 2
        tail_len = float(self.tail_len[i])
        reach = abs(pose["sway"]) * tail_len + 0.2 * b + 2 * _SOFT + 1
        tail = (u < -0.8 * a) & (u > -a - tail_len - 2) & (np.abs(v - bend * a) < reach)
        return (trunk < 1.0) | tail

    def layers(self, u: np.ndarray, v: np.ndarray, who: np.ndarray, pose: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, list[Layer]]:  # fmt: skip
        a, b, bend, tail_len = self.half_len[who], self.half_w[who], pose["bend"], self.tail_len[who]
        vb = v - (bend / a) * (u * u)
        avb = np.abs(vb)
        s = u / a
        # Half-width profile: round rump, widest behind the middle, narrower shoulders, pointed snout.
        rump = np.sqrt(np.maximum(1.0 - ((np.minimum(s, -0.2) + 0.2) * 1.25) ** 2, 0.0))
        shoulders = 1.0 - 0.28 * np.clip((s + 0.2) * 2.0, 0.0, 1.0) ** 2
        snout = np.clip((s - 0.3) * (1 / 0.7), 0.0, 1.0)
        head = np.sqrt(1.0 - snout * snout) * (1.0 - 0.55 * snout)
        half = b * rump * shoulders * head
        d_trunk = np.maximum(avb - half, np.abs(u) - a)
        d_ear = np.hypot(u - 0.3 * a, avb - 0.62 * b) - 0.3 * b
        d_body = np.minimum(d_trunk, d_ear)
        t = -a - u  # distance along the tail from the rump
        tail_mid = bend * a + (pose["sway"] / tail_len) * (t * t)  # trails the body's curve, swaying
        tail_half = b * (0.11 - 0.075 * t / tail_len)
        d_tail = np.maximum(np.abs(v - tail_mid) - tail_half, np.maximum(-1.0 - t, t - tail_len))
        fur = self.tone[who] + self.texture(u, vb, who) + self.sheen * (1.0 - np.minimum((vb / b) ** 2, 1.0))
        skin = self.skin[who]
        return d_body, [(_alpha(d_tail), skin), (_alpha(d_body), np.where(d_ear < d_trunk, skin, fur))]


class Fly(Herd):
    """Fly from above: head, thorax, striped abdomen and two translucent wings folded back."""

    extent = (0.6, 0.95, 0.6)

    def layers(self, u: np.ndarray, v: np.ndarray, who: np.ndarray, pose: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, list[Layer]]:  # fmt: skip
        a, b = self.half_len[who], self.half_w[who]
        d_body = np.minimum(np.minimum(_ellipse_d(u - 0.8 * a, v, 0.22 * a, 0.6 * b),
                                       _ellipse_d(u - 0.35 * a, v, 0.32 * a, 0.85 * b)),
                            _ellipse_d(u + 0.42 * a, v, 0.6 * a, b))  # fmt: skip
        stripes = np.where(u < 0.0, 9.0 * np.cos(u / a * (2 * math.pi / 0.24)), 0.0)
        body = self.tone[who] + self.texture(u, v, who) + stripes
        # Wings: ellipses from the thorax backwards, splayed by +-22 degrees.
        cw, sw = math.cos(math.radians(22)), math.sin(math.radians(22))
        du, av = u + 0.35 * a, np.abs(v) - 0.45 * b
        wings = _ellipse_d(du * cw + av * sw, av * cw - du * sw, 0.62 * a, 0.24 * a)
        wing_tone = self.tone[who] + 0.55 * (self.look.floor - self.tone[who])
        return d_body, [(_alpha(d_body), body), (0.45 * _alpha(wings), wing_tone)]


class Worm(Herd):
    """Nematode: a thin body whose midline is a wave travelling back as it crawls (concave shapes)."""

    extent = (0.56, 0.56, 0.3)

    def pose(self, turn: np.ndarray, phase: np.ndarray, speed: np.ndarray) -> dict[str, np.ndarray]:
        bend = np.clip(turn * 4.0, -0.25, 0.25) / self.half_len  # curvature of the whole body in a turn
        return {"bend": bend.astype(np.float32), "phase": phase.astype(np.float32),
                "lift": np.sin(-phase).astype(np.float32)}  # fmt: skip

    def layers(self, u: np.ndarray, v: np.ndarray, who: np.ndarray, pose: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, list[Layer]]:  # fmt: skip
        a, b, length, bend = self.half_len[who], self.half_w[who], self.length[who], pose["bend"]
        k = (2 * math.pi / 0.62) / length
        amp = 0.075 * length
        wave = k * u - pose["phase"]
        # Midline through the body centre (u = 0, v = 0): the ground-truth point lies on the worm.
        mid = amp * (np.sin(wave) - pose["lift"]) + bend * u * u
        slope = amp * k * np.cos(wave) + 2 * bend * u
        s = u / a
        half = b * np.clip(1.0 - s * s, 0.0, 1.0) ** 0.4 * (1.0 - 0.35 * np.clip(-s, 0.0, 1.0) ** 2)
        across = (v - mid) / np.sqrt(1.0 + slope * slope)
        d_body = np.maximum(np.abs(across) - half, np.abs(u) - a)
        gut = -14.0 * (1.0 - np.minimum((across / b) ** 2, 1.0))
        return d_body, [(0.9 * _alpha(d_body), self.tone[who] + gut + self.texture(u, across, who))]


class Fish(Herd):
    """Fish: fusiform body, dark eyes, a translucent forked tail fin; the rear beats while it swims."""

    extent = (0.6, 0.95, 0.45)

    def pose(self, turn: np.ndarray, phase: np.ndarray, speed: np.ndarray) -> dict[str, np.ndarray]:
        activity = np.minimum(1.0, speed / (0.08 * self.length))
        return {"activity": activity.astype(np.float32), "turn": np.clip(turn * 5.0, -0.5, 0.5).astype(np.float32),
                "phase": phase.astype(np.float32)}  # fmt: skip

    def layers(self, u: np.ndarray, v: np.ndarray, who: np.ndarray, pose: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, list[Layer]]:  # fmt: skip
        a, b, length = self.half_len[who], self.half_w[who], self.length[who]
        s = u / a
        rear = np.maximum((0.45 - s) * (1 / 1.45), 0.0)  # 0 in front of the widest point, 1 at the peduncle
        beat = 0.22 * pose["activity"] * np.sin(pose["phase"] * 3.0 - 3.0 * rear) + pose["turn"]
        vb = v - beat * a * rear * rear
        avb = np.abs(vb)
        front = np.sqrt(np.clip(1.0 - ((s - 0.45) * (1 / 0.55)) ** 2, 0.0, 1.0))
        half = b * np.where(s >= 0.45, front, 1.0 - 0.75 * np.minimum(rear, 1.0) ** 1.4)
        d_body = np.maximum(avb - half, np.abs(u) - a)
        t = -a - u  # along the fin
        fin_len = 0.32 * length
        fin_half = b * (0.25 + 0.95 * np.clip(t / fin_len, 0.0, 1.0))
        notch = t - fin_len * (0.55 + 0.45 * avb / (1.2 * b))  # forked trailing edge
        d_fin = np.maximum(np.maximum(avb - fin_half, -t), notch)
        d_eye = np.hypot(u - 0.62 * a, avb - 0.5 * b) - 0.34 * b
        value = np.where(d_eye < 0.5, np.float32(15.0), self.tone[who] + self.texture(u, vb, who))
        return d_body, [(0.5 * _alpha(d_fin), self.tone[who]), (_alpha(d_body), value)]


BODY_PLANS: dict[str, type[Herd]] = {"rodent": Rodent, "fly": Fly, "worm": Worm, "fish": Fish}
