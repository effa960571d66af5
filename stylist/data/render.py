"""Draw one garment as a picture: a flat-lay silhouette per category with shading, fabric and pattern.

    from stylist.data.render import render_item, floor_photo
    render_item("t-shirt", ["navy", "white"], "striped", "cotton").save("tee.png")
    floor_photo("jeans", ["blue"], "solid", "denim", seed=3).save("photo.png")

The demo catalog (`stylist.data.demo_catalog`) draws every item with this, and the captioner may train on
the renders, so the painted colour is the palette colour the title names (`stylist.core.colors.PALETTE`):
shading is centred on 1.0, so `name_color` of a solid garment's median pixel gives back its name.

How a picture is made: each category function below describes its garment as an ordered list of
pieces (sleeves, body, collar, soles, straps...) in unit coordinates; a `Canvas` paints each piece at
twice the target size with its own soft edge shading (so pieces read as separate layers of cloth),
top-down lighting, low-frequency folds and a fabric texture (denim twill, knit ribs, linen slubs,
leather sheen, straw weave...) under a pattern (stripes, checks, plaid, dots, flowers) that the
silhouette clips. Seams, stitching, buttons and buckles go on top; a soft drop shadow goes under.
Every random number comes from a generator seeded by the caller, so equal arguments give equal pixels.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy.ndimage import gaussian_filter, map_coordinates

from stylist.core.colors import PALETTE

SUPERSAMPLE = 2  # draw at 2x and downsample: anti-aliased edges without per-shape work
BACKGROUND = (238, 236, 231)  # the light neutral studio background of catalog images
PATTERNS = ("solid", "striped", "checked", "plaid", "polka dot", "floral")
RIGID = ("sneakers", "ankle boots", "heels", "loafers", "sandals", "shoulder bag", "clutch", "backpack", "sunglasses",
         "hat")  # keep their shape in a photo; cloth crumples
KNITWEAR = ("sweater", "beanie", "scarf")  # where "wool"/"cashmere" means a knit, not a woven cloth
GOLD, SILVER, SOLE_WHITE = (201, 168, 92), (196, 198, 204), (238, 236, 230)

Point = tuple[float, float]


# ----------------------------------------------------------------------------------------------------
# geometry helpers (unit square, y down)

def bez(p0: Point, p1: Point, p2: Point, n: int = 10) -> list[Point]:
    """A quadratic Bezier from p0 to p2 pulled towards p1 (end points included)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 2 * np.array(p0) + 2 * (1 - t) * t * np.array(p1) + t ** 2 * np.array(p2)
    return [tuple(p) for p in pts]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[Point]:
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


def sym(right: list[Point]) -> list[Point]:
    """A left-right symmetric outline from its right half, given from top centre to bottom centre."""
    return right + [(1 - x, y) for x, y in reversed(right)]


def mirror(pts: list[Point]) -> list[Point]:
    return [(1 - x, y) for x, y in pts]


def both(draw: Callable[..., None], pts: list[Point], *args, **kwargs) -> None:
    """Draw a piece and its mirror image (pockets, sleeves, collar points...)."""
    draw(pts, *args, **kwargs)
    draw(mirror(pts), *args, **kwargs)


def fit(pts: list[Point], box: tuple[float, float, float, float]) -> list[Point]:
    """Map unit-square points into the box (x0, y0, x1, y1): shoes are drawn in their own frame."""
    x0, y0, x1, y1 = box
    return [(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in pts]


# ----------------------------------------------------------------------------------------------------
# fabric: pattern x material

def _smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a few random values upsampled smoothly (cloth folds, mottling)."""
    small = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    img = Image.fromarray(small).resize((n, n), Image.BICUBIC)
    return np.clip(np.asarray(img), -1, 1)


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    return gaussian_filter(a.astype(np.float32), radius / 2, mode="nearest")


def _bands(coord: np.ndarray, period: float, duty: float, offset: float = 0.0) -> np.ndarray:
    """Anti-aliased stripes: 1 inside a band `duty` of each `period`, 0 elsewhere."""
    f = ((coord + offset) / period) % 1.0
    return np.clip((duty / 2 - np.abs(f - 0.5)) * period / 1.5 + 0.5, 0, 1)


def _pattern(pattern: str, base: np.ndarray, second: np.ndarray, rng: np.random.Generator, n: int,
             vertical: bool) -> np.ndarray:
    """The garment's colours before any lighting: (n, n, 3) floats in 0-255."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    tex = np.broadcast_to(base, (n, n, 3)).astype(np.float32).copy()

    def mix(t: np.ndarray, colour: np.ndarray) -> None:
        tex[:] = tex * (1 - t[..., None]) + colour * t[..., None]

    p = n / 13
    if pattern == "striped":
        mix(_bands(xx if vertical else yy, p * (0.55 if vertical else 1), 0.28 if vertical else 0.45), second)
    elif pattern == "checked":
        mix(0.5 * (_bands(xx, p * 0.8, 0.5) + _bands(yy, p * 0.8, 0.5)), second)
    elif pattern == "plaid":
        mix(0.55 * np.maximum(_bands(xx, p * 1.6, 0.35), _bands(yy, p * 1.6, 0.35)), second)
        mix(0.4 * (_bands(xx, p * 1.6, 0.12, p * 0.8) + _bands(yy, p * 1.6, 0.12, p * 0.8)), second * 0.45)
        mix(0.9 * np.maximum(_bands(xx, p * 1.6, 0.04, p * 0.55), _bands(yy, p * 1.6, 0.04, p * 0.55)),
            np.array(PALETTE["yellow" if base.mean() < 120 else "white"], np.float32))
    elif pattern == "polka dot":
        q = p * 0.9
        row = np.floor(yy / q)
        fx = ((xx / q + 0.5 * (row % 2)) % 1) - 0.5
        fy = ((yy / q) % 1) - 0.5
        mix(np.clip((0.2 * q - np.hypot(fx, fy) * q) / 1.5 + 0.5, 0, 1), second)
    elif pattern == "floral":
        img = Image.fromarray(tex.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        q = p * 1.4
        leaf = tuple(int(v) for v in (np.array(PALETTE["green"]) * 0.8))
        centre = PALETTE["yellow"] if tuple(second) != PALETTE["yellow"] else PALETTE["white"]
        for gy in np.arange(-q, n + q, q):
            for gx in np.arange(-q, n + q, q):
                cx, cy = gx + rng.uniform(0, q * 0.6), gy + rng.uniform(0, q * 0.6)
                r, turn = q * rng.uniform(0.16, 0.22), rng.uniform(0, 2 * math.pi)
                lx, ly = cx + math.cos(turn + 2.5) * r * 2.1, cy + math.sin(turn + 2.5) * r * 2.1
                draw.ellipse([lx - r * 0.9, ly - r * 0.5, lx + r * 0.9, ly + r * 0.5], fill=leaf)
                for k in range(5):
                    a = turn + k * 2 * math.pi / 5
                    px, py = cx + math.cos(a) * r, cy + math.sin(a) * r
                    draw.ellipse([px - r * 0.75, py - r * 0.75, px + r * 0.75, py + r * 0.75],
                                 fill=tuple(int(v) for v in second))
                draw.ellipse([cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45], fill=centre)
        tex = np.asarray(img).astype(np.float32)
    return tex


def _material(material: str, knit: bool, rng: np.random.Generator, n: int) -> tuple[np.ndarray, float]:
    """A multiplicative texture field around 0 (the weave) and the sheen strength of the material."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    grain = rng.normal(0, 1, (n, n)).astype(np.float32)
    u = n / 224  # one output pixel at the default size
    if knit:
        rib = 0.09 * np.cos(2 * np.pi * xx / (3.2 * u)) + 0.05 * np.cos(2 * np.pi * yy / (2.6 * u))
        return rib + 0.05 * _blur(grain, 0.8 * u), 0.0
    if material == "denim":
        twill = 0.08 * np.sin(2 * np.pi * (xx * 0.6 + yy) / (2.4 * u))
        streak = Image.fromarray(rng.normal(0, 1, (n, n)).astype(np.float32))
        streak = np.asarray(streak.resize((n, n // 10), Image.BILINEAR).resize((n, n), Image.BILINEAR))
        return twill + 0.10 * streak + 0.05 * grain, 0.0
    if material == "corduroy":
        return 0.13 * np.abs(np.sin(np.pi * xx / (3.5 * u))) - 0.07 + 0.03 * grain, 0.05
    if material == "linen":
        rows = np.repeat(rng.normal(0, 1, (n, 1)), n, 1) * np.repeat(rng.normal(1, 0.5, (1, -(-n // 16))), 16, 1)[:, :n]
        return 0.05 * _blur(rows.astype(np.float32), 0.7) + 0.03 * grain, 0.0
    if material in ("canvas", "cotton", "jersey"):
        weave = 0.04 * np.sin(2 * np.pi * xx / (1.8 * u)) * np.sin(2 * np.pi * yy / (1.8 * u))
        return weave + (0.05 if material == "canvas" else 0.035) * _blur(grain, 0.6 * u), 0.05
    if material == "straw":
        cell = ((xx // (7 * u)) + (yy // (7 * u))) % 2
        hatch = np.where(cell > 0, np.sin(2 * np.pi * xx / (2.3 * u)), np.sin(2 * np.pi * yy / (2.3 * u)))
        return 0.12 * hatch + 0.05 * grain, 0.0
    if material == "leather":
        return 0.035 * _blur(grain, 1.2 * u), 0.22
    if material == "suede":
        return 0.07 * _blur(grain, 1.0 * u), 0.0
    if material in ("silk", "satin", "nylon"):
        return 0.015 * grain, 0.3
    if material == "velvet":
        return 0.03 * _blur(grain, 1.0 * u), 0.18
    # wool, cashmere or tweed woven: a soft felted surface with a faint twill
    return 0.05 * _blur(grain, 0.9 * u) + 0.025 * np.sin(2 * np.pi * (xx + yy) / (2.8 * u)), 0.02


# ----------------------------------------------------------------------------------------------------
# the canvas: pieces composited in order

class Canvas:
    """Paints pieces of one garment at SUPERSAMPLE x size; `image()` returns the downsampled RGBA."""

    def __init__(self, size: int, colors: Sequence[str], pattern: str, material: str, category: str,
                 rng: np.random.Generator):
        n = self.n = size * SUPERSAMPLE
        self.size, self.rng, self.material = size, rng, material
        self.base = np.array(PALETTE[colors[0]], np.float32)
        self.second = np.array(PALETTE[colors[1]] if len(colors) > 1 else _contrast(colors[0]), np.float32)
        vertical = category in ("shirt", "trousers", "skirt", "dress", "blouse")
        pat = _pattern(pattern if pattern in PATTERNS else "solid", self.base, self.second, rng, n, vertical)
        weave, self.sheen = _material(material, category in KNITWEAR, rng, n)
        self.fabric = self._textured(pat, weave)
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
        self.light = 1.07 - 0.09 * yy - 0.05 * xx + 0.06 * _smooth_noise(rng, n, 5)
        self.glow = np.exp(-((xx * 0.8 + yy * 0.6 - 0.55) / 0.18) ** 2)  # a diagonal highlight band
        self.rgb = np.zeros((n, n, 3), np.float32)
        self.alpha = np.zeros((n, n), np.float32)
        self.dim = 1.0  # < 1 while drawing the far shoe of a pair
        self.dark = self.base.max() < 60  # black cloth: darkening shows nothing, so seams and shades lighten

    def _textured(self, colours: np.ndarray, weave: np.ndarray) -> np.ndarray:
        # additive part keeps dark cloth (black, navy) visibly textured too
        return np.clip(colours * (1 + weave[..., None]) + 28 * weave[..., None], 0, 255)

    def _mask(self, paint: Callable[[ImageDraw.ImageDraw, Callable], None]) -> np.ndarray:
        img = Image.new("L", (self.n, self.n), 0)
        paint(ImageDraw.Draw(img), lambda pts: [(x * self.n, y * self.n) for x, y in pts])
        return np.asarray(img, np.float32) / 255.0

    def _put(self, mask: np.ndarray, tex: np.ndarray, depth: float, sheen: float) -> None:
        """Composite one piece: its own rounded edge shading, the light, and a sheen for shiny cloth."""
        edge = _blur(mask, max(1.0, depth * self.n * 0.035))
        shade = (0.74 + 0.34 * np.clip(2 * edge - 1, 0, 1) ** 0.6) * self.light
        lit = tex * shade[..., None] + (255 - tex) * (sheen * self.glow * edge)[..., None]
        m = mask[..., None]
        self.rgb = self.rgb * (1 - m) + np.clip(lit * self.dim, 0, 255) * m
        self.alpha = np.maximum(self.alpha, mask)

    def _tex(self, colour) -> np.ndarray:
        if colour is None:
            return self.fabric
        if isinstance(colour, (int, float)):  # a darker or lighter shade of the fabric (lining, cuffs)
            return np.clip(self.fabric + abs(1 - colour) * 70 if self.dark else self.fabric * colour, 0, 255)
        flat = np.broadcast_to(np.array(colour, np.float32), (self.n, self.n, 3))
        return np.clip(flat + 5 * self.rng.normal(0, 1, (self.n, self.n, 1)).astype(np.float32), 0, 255)

    def piece(self, pts: list[Point], colour=None, depth: float = 1.0, sheen: float | None = None) -> None:
        """A polygon of cloth (colour None), a shade of it (a float) or another material (an RGB)."""
        mask = self._mask(lambda d, s: d.polygon(s(pts), fill=255))
        self._put(mask, self._tex(colour), depth, self.sheen if sheen is None else sheen)

    def oval(self, box: tuple[float, float, float, float], colour=None, depth: float = 1.0,
             sheen: float | None = None) -> None:
        mask = self._mask(lambda d, s: d.ellipse([*s([box[:2]])[0], *s([box[2:]])[0]], fill=255))
        self._put(mask, self._tex(colour), depth, self.sheen if sheen is None else sheen)

    def band(self, pts: list[Point], width: float, colour=None, depth: float = 0.4, closed: bool = False) -> None:
        """A strap, handle or rim: a thick polyline of cloth."""
        pts = pts + pts[:1] if closed else pts
        mask = self._mask(lambda d, s: d.line(s(pts), fill=255, width=max(1, int(width * self.n)), joint="curve"))
        self._put(mask, self._tex(colour), depth, self.sheen)

    def seam(self, pts: list[Point], strength: float = 0.35, width: float = 0.006, dashed: bool = False,
             colour=None) -> None:
        """A seam darkens the cloth under it; stitching is a dashed line (optionally coloured thread)."""
        w = max(1, int(width * self.n))
        segments = _dashes(pts, 0.014) if dashed else [pts]
        mask = self._mask(lambda d, s: [d.line(s(seg), fill=255, width=w, joint="curve") for seg in segments])
        mask = mask * self.alpha
        if colour is None and self.dark:
            self.rgb += 90 * strength * mask[..., None]
        elif colour is None:
            self.rgb *= 1 - strength * mask[..., None]
        else:
            m = (strength * mask)[..., None]
            self.rgb = self.rgb * (1 - m) + np.array(colour, np.float32) * m

    def dot(self, centre: Point, r: float, colour) -> None:
        """A button, rivet, eyelet or belt hole: a small shaded disc."""
        x, y = centre
        self.oval((x - r, y - r, x + r, y + r), colour, depth=0.25, sheen=0.25)

    def image(self) -> Image.Image:
        rgba = np.dstack([self.rgb, self.alpha * 255]).clip(0, 255).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA").resize((self.size, self.size), Image.LANCZOS)


def _contrast(name: str) -> tuple[int, int, int]:
    """A pattern's second colour when none is given: white on dark cloth, navy on light cloth."""
    r, g, b = PALETTE[name]
    return PALETTE["white"] if 0.299 * r + 0.587 * g + 0.114 * b < 150 else PALETTE["navy"]


def _dashes(pts: list[Point], step: float) -> list[list[Point]]:
    """Split a polyline into dashes of length `step` with equal gaps."""
    dense: list[Point] = []
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        k = max(1, int(math.hypot(x1 - x0, y1 - y0) / (step / 4)))
        dense += [(x0 + (x1 - x0) * i / k, y0 + (y1 - y0) * i / k) for i in range(k)]
    dense.append(pts[-1])
    return [dense[i:i + 3] for i in range(0, len(dense) - 2, 8)]


# ----------------------------------------------------------------------------------------------------
# silhouettes: one function per category family, each drawing pieces back to front

def _top(c: Canvas, sleeve: str = "short", neck: str = "crew", hem: float = 0.88, width: float = 0.17,
         flare: float = 0.01, open_front: bool = False, ribbed: bool = False) -> None:
    """Shared by t-shirts, shirts, blouses, sweaters, hoodies, tanks and all jackets and coats."""
    sx, sy = 0.5 + width * 0.97, 0.16  # shoulder point
    if sleeve != "none":
        puff = 0.04 if sleeve == "puff" else 0.0
        if sleeve == "short":
            right = [(sx - 0.05, 0.14), (sx + 0.02, sy), (sx + 0.19, 0.31), (sx + 0.11, 0.41), (0.5 + width, 0.37)]
        else:
            end = 0.66 if sleeve == "puff" else min(0.83, hem - 0.03)
            right = [(sx - 0.04, 0.14), (sx + 0.03 + puff, sy + 0.02), (sx + 0.17 + puff, end - 0.02),
                     (sx + 0.06 + puff, end + 0.02), (0.5 + width - 0.005, 0.38)]
        both(c.piece, right, depth=0.8)
        if sleeve in ("long", "puff"):
            cuff = [(sx + 0.06 + puff, end + 0.02), (sx + 0.17 + puff, end - 0.02)]
            if ribbed:  # knit cuffs: a band of the same yarn, slightly darker, up the sleeve end
                dx, dy = 0.14, end - 0.2
                k = 0.055 / math.hypot(dx, dy)
                cuff += [(cuff[1][0] - dx * k, cuff[1][1] - dy * k), (cuff[0][0] - dx * k, cuff[0][1] - dy * k)]
            for pts in (cuff, mirror(cuff)):
                if ribbed:
                    c.piece(pts, 0.88, depth=0.3)
                else:
                    c.seam(bez(pts[0], ((pts[0][0] + pts[1][0]) / 2, pts[0][1] - 0.05), pts[1]), 0.3)
    neck_w, neck_y = (0.06, 0.09) if neck == "strap" else (0.085, 0.125)
    if neck == "strap":
        right = [(0.5, 0.27)] + bez((0.5, 0.27), (0.56, 0.26), (0.5 + neck_w, neck_y), 8) + [
            (0.5 + neck_w + 0.04, neck_y)] + bez((0.5 + neck_w + 0.04, neck_y), (0.62, 0.32), (0.5 + width, 0.38), 8)
    else:
        right = [(0.5, neck_y), (0.5 + neck_w, neck_y - 0.005), (sx, sy), (0.5 + width, 0.38)]
    right += [(0.5 + width + flare, hem), (0.5, hem + 0.012)]
    c.piece(sym(right))
    if neck == "crew":
        front = bez((0.5 - neck_w, neck_y - 0.003), (0.5, 0.225), (0.5 + neck_w, neck_y - 0.003), 14)
        c.piece(front + bez((0.5 + neck_w, neck_y), (0.5, 0.15), (0.5 - neck_w, neck_y), 10), 0.55, depth=0.4)
        c.band(front, 0.018, 0.92)
    elif neck == "v":
        c.piece([(0.5 - neck_w, neck_y), (0.5 + neck_w, neck_y), (0.5, 0.30)], 0.55, depth=0.4)
        c.band([(0.5 - neck_w, neck_y), (0.5, 0.30), (0.5 + neck_w, neck_y)], 0.014, 0.95)
    elif neck == "collar":
        c.piece(bez((0.5 - neck_w, neck_y), (0.5, 0.16), (0.5 + neck_w, neck_y), 10), 0.55, depth=0.3)
        pts = [(0.5, 0.2), (0.5 + neck_w + 0.005, 0.105), (0.5 + neck_w + 0.04, 0.13), (0.55, 0.235)]
        both(c.piece, pts, depth=0.35)
    if not open_front:
        c.seam([(0.5 - width - flare + 0.005, hem - 0.03), (0.5 + width + flare - 0.005, hem - 0.03)],
               0.25, dashed=True)


def _lapels(c: Canvas, bottom: float, notch: bool, lining: float = 0.4) -> None:
    """The open front of a jacket or coat: a dark V of lining under two folded lapels."""
    c.piece([(0.42, 0.12), (0.58, 0.12), (0.5, bottom)], lining, depth=0.3)
    right = [(0.56, 0.115), (0.6, 0.12), (0.635, 0.2)]
    right += [(0.615, 0.215), (0.64, 0.235)] if notch else []
    right += [(0.655, 0.27), (0.505, bottom + 0.01), (0.5, bottom - 0.02)]
    both(c.piece, right, 1.04, depth=0.35)
    both(c.seam, right, 0.25)


def _tee(c: Canvas) -> None:
    _top(c, "short", "crew", hem=0.8, width=0.2)


def _tank(c: Canvas) -> None:
    _top(c, "none", "strap", width=0.15, flare=0.015)


def _shirt(c: Canvas) -> None:
    _top(c, "long", "collar", hem=0.87, width=0.165)
    c.seam([(0.5, 0.22), (0.5, 0.87)], 0.3)
    c.seam([(0.52, 0.22), (0.52, 0.87)], 0.2, width=0.004)
    for k in range(6):
        c.dot((0.51, 0.26 + k * 0.11), 0.011, (236, 234, 226))
    c.piece([(0.57, 0.3), (0.64, 0.3), (0.64, 0.38), (0.605, 0.4), (0.57, 0.38)], 0.97, depth=0.25)


def _blouse(c: Canvas) -> None:
    _top(c, "puff", "v", hem=0.84, width=0.17, flare=0.04)
    for x in (0.36, 0.64):
        c.seam(bez((x, 0.16), (x + (0.02 if x > 0.5 else -0.02), 0.22), (x, 0.28)), 0.18)


def _sweater(c: Canvas) -> None:
    _top(c, "long", "crew", hem=0.86, width=0.175, ribbed=True)
    rib = [(0.5 - 0.175, 0.86), (0.5 + 0.175, 0.86), (0.5 + 0.18, 0.8), (0.5 - 0.18, 0.8)]
    c.piece(rib, 0.9, depth=0.3)
    for x in np.arange(0.335, 0.67, 0.018):
        c.seam([(x, 0.805), (x, 0.86)], 0.15, width=0.003)


def _hoodie(c: Canvas) -> None:
    c.piece([(0.35, 0.2), (0.37, 0.07), (0.5, 0.035), (0.63, 0.07), (0.65, 0.2)], depth=0.8)
    _top(c, "long", "crew", hem=0.86, width=0.18, ribbed=True)
    c.piece(bez((0.41, 0.13), (0.5, 0.27), (0.59, 0.13), 12) + bez((0.59, 0.13), (0.5, 0.06), (0.41, 0.13), 10),
            0.5, depth=0.4)
    c.piece([(0.37, 0.58), (0.63, 0.58), (0.68, 0.78), (0.32, 0.78)], 0.97, depth=0.3)
    for x in (0.47, 0.53):
        c.band([(x, 0.2), (x + (x - 0.5) * 0.5, 0.4)], 0.008, (236, 234, 226))
    c.piece([(0.32, 0.86), (0.68, 0.86), (0.68, 0.81), (0.32, 0.81)], 0.9, depth=0.3)


def _jacket(c: Canvas, hem: float = 0.8, notch: bool = False, buttons: int = 4, pockets: bool = True) -> None:
    _top(c, "long", "none", hem=hem, width=0.18, open_front=True)
    _lapels(c, 0.42 if notch else 0.34, notch)
    c.seam([(0.5, 0.42), (0.5, hem)], 0.45)
    for k in range(buttons):
        c.dot((0.52, 0.47 + k * (hem - 0.52) / max(1, buttons)), 0.012, c.base * 0.55)
    if pockets:
        pocket = [(0.56, 0.3), (0.64, 0.3), (0.645, 0.36), (0.555, 0.36)]
        both(c.seam, pocket + pocket[:1], 0.3)
    c.seam([(0.33, hem - 0.06), (0.67, hem - 0.06)], 0.3, dashed=True)


def _denim_jacket(c: Canvas) -> None:
    _top(c, "long", "collar", hem=0.74, width=0.18)
    c.seam([(0.5, 0.22), (0.5, 0.74)], 0.45)
    for y in (0.28, 0.68):
        c.seam([(0.33, y + 0.02), (0.67, y + 0.02)], 0.55, dashed=True, colour=GOLD)
    for k in range(5):
        c.dot((0.52, 0.28 + k * 0.1), 0.012, SILVER)


def _blazer(c: Canvas) -> None:
    _jacket(c, hem=0.84, notch=True, buttons=2, pockets=False)
    both(c.piece, [(0.56, 0.63), (0.66, 0.63), (0.66, 0.66), (0.56, 0.66)], 0.98, depth=0.2)
    c.seam([(0.37, 0.3), (0.43, 0.3)], 0.35)


def _coat(c: Canvas) -> None:
    _top(c, "long", "none", hem=0.95, width=0.18, flare=0.05, open_front=True)
    _lapels(c, 0.4, True)
    c.seam([(0.5, 0.4), (0.52, 0.95)], 0.45)
    for k in range(3):
        for x in (0.45, 0.58):
            c.dot((x, 0.46 + k * 0.09), 0.013, c.base * 0.5)
    c.band([(0.32, 0.52), (0.68, 0.52)], 0.03, 1.0, depth=0.3)
    both(c.seam, [(0.58, 0.68), (0.68, 0.68)], 0.4)


def _puffer(c: Canvas) -> None:
    _top(c, "long", "none", hem=0.84, width=0.19, flare=0.02)
    c.piece([(0.4, 0.07), (0.6, 0.07), (0.62, 0.16), (0.38, 0.16)], 0.95, depth=0.5)
    for y in np.arange(0.24, 0.84, 0.085):
        c.seam([(0.15, y), (0.85, y + 0.01)], 0.35, width=0.008)
    c.seam([(0.5, 0.07), (0.5, 0.85)], 0.6, width=0.008, colour=SILVER)


def _legs(c: Canvas, top: float, hem: float, waist: float, knee: float, cuff: float, crotch: float) -> None:
    """Trousers, jeans and shorts: a waistband over two legs with a gap between them."""
    right = [(0.5, top), (0.5 + waist, top), (0.5 + waist + 0.02, top + (hem - top) * 0.25),
             (0.5 + knee, top + (hem - top) * 0.6), (0.5 + cuff, hem), (0.505 + 0.01, hem + 0.005),
             (0.505, crotch)]
    c.piece(sym(right))
    c.piece([(0.5 - waist, top), (0.5 + waist, top), (0.502 + waist, top + 0.05), (0.498 - waist, top + 0.05)],
            0.96, depth=0.3)
    for x in (0.5 - waist * 0.72, 0.5 + waist * 0.72, 0.5 - waist * 0.2, 0.5 + waist * 0.2):
        c.piece([(x - 0.008, top - 0.005), (x + 0.008, top - 0.005), (x + 0.008, top + 0.06), (x - 0.008, top + 0.06)],
                0.92, depth=0.2)


def _jeans(c: Canvas) -> None:
    _legs(c, 0.07, 0.93, 0.17, 0.15, 0.12, 0.37)
    c.seam(bez((0.5, 0.12), (0.5, 0.33), (0.455, 0.3)), 0.5, dashed=True, colour=GOLD)
    both(c.seam, bez((0.59, 0.12), (0.6, 0.2), (0.675, 0.21)), 0.5, dashed=True, colour=GOLD)
    c.seam([(0.33, 0.115), (0.67, 0.115)], 0.5, dashed=True, colour=GOLD)
    c.dot((0.5, 0.095), 0.014, SILVER)
    for x in (0.595, 0.405):
        c.dot((x, 0.125), 0.006, (185, 120, 60))
    for x in (0.515, 0.485):
        c.seam([(x, 0.9), (x + (0.105 if x > 0.5 else -0.105), 0.9)], 0.45, dashed=True, colour=GOLD)


def _trousers(c: Canvas) -> None:
    _legs(c, 0.07, 0.94, 0.165, 0.165, 0.16, 0.36)
    c.seam([(0.5, 0.12), (0.5, 0.33)], 0.4)
    for x in (0.585, 0.415):
        c.seam([(x, 0.14), (x + (x - 0.5) * 0.1, 0.92)], 0.18, width=0.004)
    both(c.seam, [(0.62, 0.12), (0.665, 0.22)], 0.4)
    c.dot((0.5, 0.095), 0.01, c.base * 0.6)


def _track_pants(c: Canvas) -> None:
    _legs(c, 0.07, 0.93, 0.17, 0.15, 0.11, 0.37)
    for x in (0.68, 0.32):
        c.band([(x, 0.13), (0.5 + (x - 0.5) * 0.58, 0.92)], 0.016, (236, 234, 226), depth=0.2)
    for x in (0.47, 0.53):
        c.band([(x, 0.1), (x + (x - 0.5), 0.2)], 0.007, (236, 234, 226))


def _shorts(c: Canvas) -> None:
    _legs(c, 0.18, 0.78, 0.23, 0.27, 0.28, 0.55)
    c.seam([(0.5, 0.25), (0.5, 0.45)], 0.4)
    both(c.seam, [(0.66, 0.24), (0.72, 0.36)], 0.4)
    c.seam([(0.225, 0.74), (0.49, 0.75)], 0.3, dashed=True)
    c.seam([(0.775, 0.74), (0.51, 0.75)], 0.3, dashed=True)


def _skirt(c: Canvas) -> None:
    right = [(0.5, 0.15), (0.66, 0.15), (0.67, 0.24), (0.79, 0.82)] + bez((0.79, 0.82), (0.65, 0.86), (0.5, 0.855), 8)
    c.piece(sym(right))
    c.piece([(0.34, 0.13), (0.66, 0.13), (0.665, 0.2), (0.335, 0.2)], 0.95, depth=0.3)
    for x in (0.42, 0.58, 0.34, 0.66):
        c.seam([(x, 0.22), (0.5 + (x - 0.5) * 1.7, 0.84)], 0.16, width=0.004)
    c.dot((0.64, 0.165), 0.011, c.base * 0.6)


def _dress(c: Canvas) -> None:
    slip = c.sheen > 0.1  # silk and satin dresses are slip dresses; others have cap sleeves
    if not slip:
        pts = [(0.6, 0.1), (0.67, 0.13), (0.73, 0.22), (0.66, 0.26), (0.63, 0.2)]
        both(c.piece, pts, depth=0.6)
    right = ([(0.5, 0.2), (0.56, 0.12), (0.575, 0.05), (0.59, 0.05), (0.635, 0.2)] if slip else
             [(0.5, 0.17)] + bez((0.5, 0.17), (0.56, 0.17), (0.57, 0.09), 6) + [(0.625, 0.1), (0.645, 0.22)])
    right += [(0.62, 0.4), (0.64, 0.44), (0.81, 0.92)] + bez((0.81, 0.92), (0.66, 0.96), (0.5, 0.95), 8)
    c.piece(sym(right))
    c.band(bez((0.38, 0.41), (0.5, 0.425), (0.62, 0.41)), 0.02, 0.9, depth=0.3)
    for x in (0.44, 0.56):
        c.seam([(x, 0.45), (0.5 + (x - 0.5) * 3, 0.93)], 0.14, width=0.004)


# shoes are drawn in profile in a unit frame (heel left, toe right, ground at y = 1), as a pair

def _pair(c: Canvas, draw: Callable[[Canvas, Callable[[list[Point]], list[Point]]], None],
          box: tuple[float, float, float, float], shift: tuple[float, float] = (-0.08, -0.12)) -> None:
    """The far shoe sits behind, up and left, a little darker; then the near shoe over it."""
    back = (box[0] + shift[0], box[1] + shift[1], box[2] + shift[0], box[3] + shift[1])
    for frame, dim in ((back, 0.86), (box, 1.0)):
        c.dim = dim
        draw(c, lambda pts, frame=frame: fit(pts, frame))
    c.dim = 1.0


def _sneaker(c: Canvas, f) -> None:
    light = c.base.mean() > 200
    sole = (40, 40, 44) if light else SOLE_WHITE
    upper = ([(0.03, 0.8)] + bez((0.03, 0.8), (-0.02, 0.45), (0.06, 0.24), 8)
             + bez((0.06, 0.24), (0.18, 0.36), (0.3, 0.3), 6)
             + [(0.33, 0.08), (0.42, 0.05), (0.46, 0.2)] + bez((0.46, 0.2), (0.62, 0.32), (0.8, 0.44), 8)
             + bez((0.8, 0.44), (1.0, 0.5), (0.99, 0.8), 8))
    c.piece(f(upper))
    c.piece(f([(0.3, 0.3), (0.34, 0.1), (0.42, 0.07), (0.46, 0.2), (0.4, 0.3)]), 0.88, depth=0.3)
    c.band(f(bez((0.44, 0.24), (0.57, 0.31), (0.7, 0.42))), 0.028, 0.9, depth=0.2)
    for k in range(4):
        x, y = 0.45 + k * 0.065, 0.24 + k * 0.048
        lace = (60, 60, 64) if light else SOLE_WHITE
        c.band(f([(x - 0.035, y - 0.055), (x + 0.03, y + 0.045)]), 0.011, lace, depth=0.1)
    c.seam(f(bez((0.2, 0.66), (0.45, 0.62), (0.66, 0.42))), 0.7, width=0.013, colour=c.second)
    c.seam(f(bez((0.82, 0.74), (0.8, 0.5), (0.9, 0.47))), 0.3)
    c.piece(f([(0.0, 0.72), (0.97, 0.72)] + bez((0.97, 0.72), (1.03, 0.82), (0.95, 0.93), 6) + [(0.05, 0.93)]
              + bez((0.05, 0.93), (-0.01, 0.9), (0.0, 0.72), 5)), sole, depth=0.3)
    c.seam(f([(0.02, 0.79), (0.99, 0.79)]), 0.35, dashed=True)


def _ankle_boot(c: Canvas, f) -> None:
    dark = (42, 36, 32)
    c.band(f([(0.08, 0.06), (0.06, -0.07), (0.13, -0.07), (0.14, 0.04)]), 0.012, 0.8)
    upper = ([(0.07, 0.87)] + bez((0.07, 0.87), (0.0, 0.5), (0.05, 0.02), 8) + [(0.4, 0.0)]
             + bez((0.4, 0.0), (0.38, 0.36), (0.5, 0.48), 6) + bez((0.5, 0.48), (0.8, 0.55), (0.92, 0.66), 6)
             + bez((0.92, 0.66), (1.02, 0.72), (0.99, 0.88), 6))
    c.piece(f(upper))
    c.piece(f([(0.15, 0.01), (0.31, 0.005), (0.24, 0.44)]), 0.72, depth=0.3)
    for k in range(4):
        c.seam(f([(0.17 + k * 0.04, 0.02), (0.24, 0.42)]), 0.15, width=0.003)
    c.piece(f([(0.2, 0.87), (0.99, 0.87), (0.97, 0.94), (0.22, 0.94)]), dark, depth=0.2)
    c.piece(f([(0.05, 0.85), (0.25, 0.85), (0.24, 1.0), (0.07, 1.0)]), dark, depth=0.3)
    c.seam(f(bez((0.55, 0.52), (0.8, 0.58), (0.97, 0.82))), 0.25, dashed=True)


def _heel(c: Canvas, f) -> None:
    dark = (28, 28, 30)
    c.piece(f([(0.05, 0.42), (0.18, 0.47), (0.13, 0.98), (0.1, 0.98)]), 0.8, depth=0.3)
    c.piece(f([(0.098, 0.96), (0.132, 0.96), (0.132, 1.0), (0.098, 1.0)]), dark, depth=0.1)
    top = bez((0.05, 0.16), (0.3, 0.5), (0.64, 0.64), 10)
    under = bez((0.07, 0.46), (0.45, 0.55), (0.6, 0.93), 10) + [(0.9, 0.96), (0.99, 0.93)]
    c.piece(f(top + bez((0.64, 0.64), (0.9, 0.74), (0.99, 0.93), 6) + under[::-1]
              + bez((0.07, 0.46), (0.0, 0.3), (0.05, 0.16), 6)))
    c.piece(f(top + bez((0.64, 0.64), (0.4, 0.5), (0.09, 0.22), 10)), (210, 186, 156), depth=0.2, sheen=0.0)
    c.seam(f(under), 0.5, width=0.008)


def _loafer(c: Canvas, f) -> None:
    upper = ([(0.03, 0.84)] + bez((0.03, 0.84), (0.0, 0.55), (0.04, 0.36), 6)
             + bez((0.04, 0.36), (0.22, 0.5), (0.4, 0.4), 8)
             + bez((0.4, 0.4), (0.7, 0.28), (0.88, 0.5), 8) + bez((0.88, 0.5), (1.01, 0.6), (0.99, 0.84), 6))
    c.piece(f([(0.04, 0.36), (0.22, 0.3), (0.4, 0.4), (0.22, 0.47)]), 0.45, depth=0.3)
    c.piece(f(upper))
    c.piece(f([(0.43, 0.4), (0.6, 0.35), (0.63, 0.48), (0.46, 0.54)]), 0.86, depth=0.25)
    c.piece(f([(0.48, 0.44), (0.58, 0.41), (0.59, 0.44), (0.49, 0.47)]), 0.35, depth=0.1)
    c.seam(f(bez((0.42, 0.42), (0.82, 0.24), (0.93, 0.62))), 0.55, dashed=True)
    sole = [(0.16, 0.82), (0.99, 0.82)] + bez((0.99, 0.82), (1.0, 0.9), (0.95, 0.9), 4) + [(0.18, 0.9)]
    c.piece(f(sole), c.base * 0.45, depth=0.2)
    c.piece(f([(0.03, 0.8), (0.22, 0.8), (0.21, 0.97), (0.04, 0.97)]), c.base * 0.4, depth=0.2)


def _sandal_top(c: Canvas, cx: float, flip: bool) -> None:
    """Sandals read better from above: a foot-shaped footbed and two straps across it."""
    sole = [(cx + (-x if flip else x), y) for x, y in
            arc(0, 0.26, 0.1, 0.14, 180, 360, 14) + [(0.11, 0.5)] + arc(0.0, 0.74, 0.085, 0.13, 0, 180, 14)]
    c.piece(sole, 0.8, depth=0.5)
    for y0, y1 in ((0.26, 0.33), (0.44, 0.5)):
        strap = [(cx - 0.13, y0), (cx + 0.13, y0 + 0.02), (cx + 0.13, y1 + 0.02), (cx - 0.13, y1)]
        c.piece(strap, depth=0.35)
        c.seam(strap + strap[:1], 0.35, dashed=True)
        c.dot((cx + 0.115 * (-1 if flip else 1), (y0 + y1) / 2 + 0.01), 0.016, GOLD)


def _sneakers(c): _pair(c, _sneaker, (0.16, 0.44, 0.92, 0.84))
def _ankle_boots(c): _pair(c, _ankle_boot, (0.3, 0.22, 0.86, 0.86), (-0.17, -0.06))
def _heels(c): _pair(c, _heel, (0.18, 0.34, 0.9, 0.84))
def _loafers(c): _pair(c, _loafer, (0.14, 0.46, 0.92, 0.82))
def _sandals(c): _sandal_top(c, 0.36, True); _sandal_top(c, 0.64, False)


def _shoulder_bag(c: Canvas) -> None:
    c.band(bez((0.23, 0.46), (0.5, -0.28), (0.77, 0.46), 24), 0.022, depth=0.5)
    c.piece([(0.22, 0.42), (0.78, 0.42), (0.84, 0.84), (0.8, 0.87), (0.2, 0.87), (0.16, 0.84)])
    c.piece([(0.215, 0.42), (0.785, 0.42), (0.8, 0.6)] + bez((0.8, 0.6), (0.5, 0.72), (0.2, 0.6), 10), 1.03, depth=0.4)
    c.piece([(0.47, 0.62), (0.53, 0.62), (0.53, 0.68), (0.47, 0.68)], GOLD, depth=0.2, sheen=0.4)
    c.seam([(0.2, 0.83), (0.8, 0.83)], 0.3, dashed=True)


def _clutch(c: Canvas) -> None:
    c.piece([(0.14, 0.36), (0.86, 0.36), (0.88, 0.7), (0.84, 0.74), (0.16, 0.74), (0.12, 0.7)])
    c.piece([(0.14, 0.36), (0.86, 0.36), (0.5, 0.62)], 1.04, depth=0.4)
    c.oval((0.47, 0.57, 0.53, 0.63), GOLD, depth=0.2, sheen=0.4)


def _tote_bag(c: Canvas) -> None:
    for x0, x1 in ((0.27, 0.45), (0.55, 0.73)):
        c.band(bez((x0, 0.38), ((x0 + x1) / 2, -0.02), (x1, 0.38), 16), 0.04, 0.95, depth=0.5)
    c.piece([(0.17, 0.34), (0.83, 0.34), (0.87, 0.9), (0.13, 0.9)])
    c.seam([(0.175, 0.39), (0.825, 0.39)], 0.35, dashed=True)
    for x in (0.27, 0.45, 0.55, 0.73):
        c.seam([(x - 0.025, 0.35), (x + 0.025, 0.35), (x + 0.025, 0.42), (x - 0.025, 0.42), (x - 0.025, 0.35)], 0.3)


def _backpack(c: Canvas) -> None:
    for side in (1, -1):
        c.band([(0.5 + side * 0.17, 0.22), (0.5 + side * 0.33, 0.55), (0.5 + side * 0.3, 0.86)], 0.05, 0.8)
    c.band(bez((0.44, 0.15), (0.5, 0.04), (0.56, 0.15)), 0.025, 0.85)
    c.piece(arc(0.5, 0.34, 0.27, 0.22, 180, 360, 24) + [(0.79, 0.86), (0.75, 0.91), (0.25, 0.91), (0.21, 0.86)])
    c.seam(arc(0.5, 0.37, 0.235, 0.19, 185, 355, 20), 0.6, colour=SILVER)
    c.piece([(0.3, 0.56), (0.7, 0.56), (0.72, 0.86), (0.28, 0.86)], 0.97, depth=0.4)
    c.seam([(0.31, 0.62), (0.69, 0.62)], 0.6, colour=SILVER)
    c.band([(0.62, 0.62), (0.63, 0.69)], 0.014, SILVER)


def _scarf(c: Canvas) -> None:
    c.band(bez((0.36, 0.16), (0.5, 0.0), (0.64, 0.16)), 0.09, depth=0.5)
    c.piece([(0.3, 0.12), (0.44, 0.14), (0.47, 0.86), (0.31, 0.88)], depth=0.7)
    c.piece([(0.56, 0.14), (0.7, 0.12), (0.69, 0.78), (0.53, 0.77)], 0.97, depth=0.7)
    c.piece([(0.38, 0.12), (0.62, 0.12), (0.6, 0.24), (0.4, 0.24)], 1.03, depth=0.5)
    for x0, x1, y in ((0.31, 0.47, 0.87), (0.53, 0.69, 0.775)):
        for k in range(9):
            x = x0 + (x1 - x0) * (k + 0.5) / 9
            c.band([(x, y), (x + 0.002, y + 0.06)], 0.008, 0.9, depth=0.1)


def _belt(c: Canvas) -> None:
    ring = arc(0.5, 0.5, 0.36, 0.2, 0, 360, 48)
    c.band(ring, 0.075, depth=0.3, closed=True)
    c.band(arc(0.5, 0.5, 0.36, 0.2, 60, 128, 12), 0.078, 1.04, depth=0.3)
    buckle = GOLD if c.base.mean() > 90 else SILVER
    c.band([(0.34, 0.62), (0.34, 0.76), (0.44, 0.78), (0.44, 0.64), (0.34, 0.62)], 0.018, buckle)
    for k in range(4):
        c.dot((0.52 + k * 0.06, 0.697 - k * 0.003), 0.008, (30, 28, 26))
    c.seam(arc(0.5, 0.5, 0.34, 0.185, 0, 360, 48), 0.3, dashed=True)


def _sunglasses(c: Canvas) -> None:
    lens = [(0.53, 0.38), (0.86, 0.37), (0.85, 0.5), (0.78, 0.62), (0.62, 0.63), (0.55, 0.52)]
    both(c.band, [(0.86, 0.39), (0.95, 0.42)], 0.03, depth=0.3)
    both(c.band, lens, 0.035, depth=0.3, closed=True)
    both(c.piece, lens, (34, 34, 40), depth=0.5, sheen=0.6)
    c.band(bez((0.45, 0.42), (0.5, 0.37), (0.55, 0.42)), 0.03, depth=0.3)
    c.band([(0.12, 0.375), (0.88, 0.365)], 0.04, depth=0.3)


def _hat(c: Canvas) -> None:
    w = 0.47 if c.material == "straw" else 0.4  # straw sun hats have a wide brim
    c.oval((0.5 - w, 0.5, 0.5 + w, 0.82), 0.97, depth=0.6)
    c.piece([(0.3, 0.68), (0.31, 0.35)] + bez((0.31, 0.35), (0.36, 0.2), (0.44, 0.22), 6) + [(0.5, 0.28)] +
            bez((0.56, 0.22), (0.64, 0.2), (0.69, 0.35), 6) + [(0.7, 0.68)]
            + bez((0.7, 0.68), (0.5, 0.73), (0.3, 0.68), 8))
    c.piece([(0.3, 0.58)] + bez((0.3, 0.58), (0.5, 0.63), (0.7, 0.58), 8) + [(0.7, 0.67)] +
            bez((0.7, 0.67), (0.5, 0.72), (0.3, 0.67), 8), c.second, depth=0.2)


def _beanie(c: Canvas) -> None:
    c.oval((0.4, 0.08, 0.6, 0.27), 1.05, depth=1.0)
    c.piece([(0.23, 0.62)] + arc(0.5, 0.62, 0.27, 0.42, 180, 360, 24))
    c.piece([(0.21, 0.58), (0.79, 0.58), (0.8, 0.82), (0.2, 0.82)], 0.92, depth=0.4)
    for x in np.arange(0.22, 0.79, 0.025):
        c.seam([(x, 0.6), (x, 0.8)], 0.2, width=0.004)


DRAWERS: dict[str, Callable[[Canvas], None]] = {
    "t-shirt": _tee, "tank top": _tank, "shirt": _shirt, "blouse": _blouse, "sweater": _sweater,
    "hoodie": _hoodie, "jeans": _jeans, "trousers": _trousers, "track pants": _track_pants, "shorts": _shorts,
    "skirt": _skirt, "dress": _dress, "jacket": _jacket, "denim jacket": _denim_jacket, "blazer": _blazer,
    "coat": _coat, "puffer jacket": _puffer, "sneakers": _sneakers, "ankle boots": _ankle_boots,
    "heels": _heels, "loafers": _loafers, "sandals": _sandals, "shoulder bag": _shoulder_bag, "clutch": _clutch,
    "tote bag": _tote_bag,
    "backpack": _backpack, "scarf": _scarf, "belt": _belt, "sunglasses": _sunglasses, "hat": _hat,
    "beanie": _beanie,
}


# ----------------------------------------------------------------------------------------------------
# public API

def seed_of(*parts: object) -> int:
    """A stable seed from any labels (Python's hash() is salted per process, crc32 is not)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def render_garment(category: str, colors: Sequence[str], pattern: str = "solid", material: str = "",
                   size: int = 224, seed: int = 0) -> Image.Image:
    """The garment alone on a transparent background (RGBA), with its soft shadow in the alpha."""
    key = "denim jacket" if category == "jacket" and material == "denim" else category
    if key not in DRAWERS:
        raise ValueError(f"no drawing for category {category!r}; known: {', '.join(sorted(DRAWERS))}")
    canvas = Canvas(size, colors, pattern, material, category, np.random.default_rng(seed))
    DRAWERS[key](canvas)
    garment = canvas.image()
    alpha = garment.getchannel("A")
    shadow = Image.new("RGBA", garment.size, (40, 34, 28, 0))
    shadow.putalpha(alpha.filter(ImageFilter.GaussianBlur(size * 0.02)).point(lambda v: int(v * 0.35)))
    shadow = shadow.transform(shadow.size, Image.AFFINE, (1, 0, -size * 0.012, 0, 1, -size * 0.018))
    return Image.alpha_composite(shadow, garment)


def render_item(category: str, colors: Sequence[str], pattern: str = "solid", material: str = "",
                size: int = 224, seed: int = 0, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """A catalog image: the garment centred on a light neutral background (RGB)."""
    out = Image.new("RGBA", (size, size), (*background, 255))
    return Image.alpha_composite(out, render_garment(category, colors, pattern, material, size, seed)).convert("RGB")


def _floor(rng: np.random.Generator, width: int, height: int, kind: str) -> Image.Image:
    """A phone-photo surface: wooden planks, a rumpled bed sheet or a tiled floor."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = rng.normal(0, 1, (height, width)).astype(np.float32)
    if kind == "wood":
        plank = np.floor(xx / (width / 4.3))
        tone = rng.uniform(0.85, 1.1, int(plank.max()) + 1)[plank.astype(int)]
        grain = 0.05 * np.sin(xx / 2.5 + 2.5 * np.sin(yy / 61 + plank * 7)) * np.sin(xx / 11 + plank)
        base = np.array([178, 140, 100], np.float32) * (tone + grain)[..., None]
        base *= (1 - 0.5 * _bands(xx, width / 4.3, 0.012))[..., None]
    elif kind == "sheet":
        folds = _smooth_noise(rng, max(width, height), 6)[:height, :width]
        colour = np.array([(222, 226, 232), (236, 228, 214), (205, 214, 226)][int(rng.integers(3))], np.float32)
        base = colour * (1 + 0.07 * folds)[..., None]
    else:
        tile = width / 3.2
        grout = np.maximum(_bands(xx, tile, 0.02), _bands(yy, tile, 0.02))
        base = np.array([196, 192, 184], np.float32) * (1 - 0.35 * grout)[..., None]
    base = base * (1 + 0.025 * _blur(noise, 1.0))[..., None]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _crumple(image: Image.Image, rng: np.random.Generator, amount: float = 0.012) -> Image.Image:
    """Cloth on a floor is never flat: push pixels around by a smooth random field (wavy edges and
    bent stripes) and shade its ridges."""
    n = image.width
    dx, dy = (_smooth_noise(rng, n, 5) * amount * n for _ in range(2))
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    rgba = np.asarray(image, np.float32)
    warped = np.stack([map_coordinates(rgba[..., k], [yy + dy, xx + dx], order=1, mode="nearest")
                       for k in range(4)], -1)
    ridges = 1 + 0.6 * (np.gradient(dx, axis=1) + np.gradient(dy, axis=0))
    warped[..., :3] *= ridges[..., None]
    return Image.fromarray(np.clip(warped, 0, 255).astype(np.uint8), "RGBA")


def floor_photo(category: str, colors: Sequence[str], pattern: str = "solid", material: str = "",
                size: tuple[int, int] = (384, 512), seed: int = 0) -> Image.Image:
    """A garment photographed lying on a floor or bed, like the photos a visitor uploads: a 3:4 frame,
    cloth that does not lie flat, a small rotation, uneven light, sensor noise and a touch of blur."""
    rng = np.random.default_rng(seed)
    width, height = size
    photo = _floor(rng, width, height, ("wood", "sheet", "tiles")[int(rng.integers(3))]).convert("RGBA")
    side = int(min(width, height) * rng.uniform(0.95, 1.05))
    garment = render_garment(category, colors, pattern, material, side, seed)
    garment = _crumple(garment, rng, 0.004 if category in RIGID else 0.012)
    garment = garment.rotate(float(rng.uniform(-12, 12)), Image.BICUBIC, expand=False)
    photo.alpha_composite(garment, ((width - side) // 2, (height - side) // 2 + int(rng.integers(-20, 21))))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    lx, ly = rng.uniform(0, width), rng.uniform(0, height * 0.5)
    light = 1.1 - 0.3 * np.hypot(xx - lx, yy - ly) / np.hypot(width, height)
    pixels = np.asarray(photo.convert("RGB"), np.float32) * light[..., None] * rng.uniform(0.97, 1.03, 3)
    pixels += rng.normal(0, 3, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(0.6))
