"""Named garment colours and naming a colour from pixels.

The demo renderer paints with these names and the captioner names pixels with them, so a render's
known colour and the caption's colour speak the same vocabulary.
"""

from __future__ import annotations

import numpy as np

# name -> sRGB. Chosen to be far apart in CIELAB so that naming is well defined.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 28),
    "white": (240, 240, 236),
    "grey": (128, 128, 130),
    "navy": (28, 38, 88),
    "blue": (45, 95, 190),
    "light blue": (140, 185, 225),
    "red": (195, 30, 40),
    "burgundy": (110, 20, 45),
    "pink": (235, 145, 175),
    "orange": (235, 120, 35),
    "yellow": (240, 205, 50),
    "green": (40, 140, 70),
    "olive": (110, 110, 50),
    "beige": (215, 195, 160),
    "brown": (110, 70, 40),
    "purple": (110, 60, 150),
}


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) in 0-255 -> CIELAB (D65), vectorised."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


ACHROMATIC = ("black", "white", "grey", "beige")  # little or no hue: no faded version
FADED, SHADED = 0.7, 0.75  # chroma and lightness factors of the extra anchors (chosen on hand-labelled photos)


def _anchors() -> tuple[list[str], np.ndarray]:
    """Each palette colour in CIELAB, plus a faded (chroma x FADED) and a faded-and-shaded (lightness x SHADED)
    anchor for every colour with a hue. Real photos show garments less saturated and darker than
    the palette: with the palette alone a dim navy jumper is "black" and a pale pink one "white"."""
    names, labs = list(PALETTE), list(rgb_to_lab(np.array(list(PALETTE.values()), dtype=np.float64)))
    for name, (L, a, b) in zip(list(PALETTE), labs[: len(PALETTE)]):
        if name not in ACHROMATIC:
            names += [name, name]
            labs += [np.array([L, FADED * a, FADED * b]), np.array([SHADED * L, FADED * a, FADED * b])]
    return names, np.array(labs)


_NAMES, _LAB = _anchors()
_HUED = ~np.isin(_NAMES, ACHROMATIC)
MIN_CHROMA = 5.0  # CIELAB chroma below which a colour has no hue to name: only the neutrals compete


def _nearest_name(lab: np.ndarray) -> str:
    lab = np.asarray(lab, dtype=np.float64).reshape(3)
    dist = ((_LAB - lab) ** 2).sum(-1)
    if np.hypot(lab[1], lab[2]) < MIN_CHROMA:  # a dark grey is not a shaded brown
        dist = np.where(_HUED, np.inf, dist)
    return _NAMES[int(np.argmin(dist))]


def name_color(rgb) -> str:
    """The palette name nearest to an sRGB colour in CIELAB (palette colours and their faded/shaded anchors)."""
    return _nearest_name(rgb_to_lab(np.asarray(rgb, dtype=np.float64).reshape(1, 3)))


# --- the garment's own pixels ----------------------------------------------------------------------
# Photos show a garment lying on a floor, bed or table. The background is what fills the frame's border,
# so a few colour modes of the border ring model it; the garment is the large central region that is far
# from all of them. This runs on a ~64 px thumbnail, so it costs a few milliseconds.

WORK_SIDE = 64  # thumbnail side used for separation and colour clustering


def kmeans(points: np.ndarray, k: int, iters: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic k-means (farthest-point init): (centres, labels). Small k and points, so numpy is enough."""
    points = np.asarray(points, dtype=np.float32)
    centres = points[[int(np.argmin(_sqdist(points, points.mean(0, keepdims=True))))]]
    while len(centres) < min(k, len(points)):
        centres = np.concatenate([centres, points[[int(np.argmax(_sqdist(points, centres).min(1)))]]])
    for _ in range(iters):
        labels = _sqdist(points, centres).argmin(1)
        counts = np.bincount(labels, minlength=len(centres))[:, None]
        sums = np.stack([np.bincount(labels, points[:, c], minlength=len(centres)) for c in range(3)], 1)
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres).astype(np.float32)
    return centres, _sqdist(points, centres).argmin(1)


def _sqdist(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distances (N, K) between points (..., 3) flattened and centres (K, 3)."""
    p = points.reshape(-1, 3)
    return np.maximum(_squared_norms(p)[:, None] - 2 * p @ centres.T + _squared_norms(centres), 0)


def _squared_norms(rows: np.ndarray) -> np.ndarray:
    """Each row's sum of squares, channel after channel: the same floats as `.sum(1)`, which is 10x slower over
    an axis of length 3 and was a third of `garment_mask`'s time."""
    squares = rows * rows
    return squares[:, 0] + squares[:, 1] + squares[:, 2]


def garment_mask(rgb: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Boolean (H, W) mask of the garment in an RGB thumbnail, separated from the surface it lies on.

    GrabCut-like, without graph cuts: start from "far from the border's colour modes", then alternate
    colour models of garment and surface (k-means in CIELAB) with a prior that favours the centre, and keep
    the large central connected regions. Border modes that are rare in the border ring and seen on fewer
    than three of its sides are the garment touching the edge (trousers, dresses), not surface.
    """
    from scipy import ndimage

    lab = rgb_to_lab(rgb).astype(np.float32)
    h, w = lab.shape[:2]
    b = max(2, round(0.06 * min(h, w)))
    sides = [np.s_[:b, :], np.s_[-b:, :], np.s_[:, :b], np.s_[:, -b:]]
    ring = np.zeros((h, w), bool)
    for side in sides:
        ring[side] = True
    ellipse = _central_ellipse(h, w)
    centres, _ = kmeans(lab[ring], 4)
    dist = np.sqrt(_sqdist(lab, centres)).reshape(h, w, -1)
    nearest, close = dist.argmin(-1), dist.min(-1) < 10.0
    surface = [j for j in range(len(centres)) if np.mean((nearest[ring] == j) & close[ring]) > 0.15
               or sum(np.mean((nearest[side] == j) & close[side]) > 0.1 for side in sides) >= 3]
    if not surface:  # the garment fills the frame (a close-up)
        return ellipse
    mask = _clean(dist[:, :, surface].min(-1) > 10.0, ellipse)
    y, x = np.ogrid[:h, :w]
    radius = np.sqrt(((y - (h - 1) / 2) / (0.5 * h)) ** 2 + ((x - (w - 1) / 2) / (0.5 * w)) ** 2)
    prior = 4.0 * (0.8 - radius)  # CIELAB units: a nudge towards the centre, decisive only where colours tie
    for _ in range(rounds):
        if mask.mean() < 0.03 or mask.mean() > 0.97:
            return ellipse
        fg, _ = kmeans(lab[mask], 3)
        bg, _ = kmeans(lab[~mask], 4)
        d_fg = np.sqrt(_sqdist(lab, fg).min(1)).reshape(h, w)
        d_bg = np.sqrt(_sqdist(lab, bg).min(1)).reshape(h, w)
        mask = _clean(ndimage.uniform_filter(d_bg - d_fg + prior, 3) > 0, ellipse)
    return mask if 0.03 <= mask.mean() <= 0.97 else ellipse


def _clean(mask: np.ndarray, ellipse: np.ndarray) -> np.ndarray:
    """Drop specks, keep the large, central regions (a cushion in a corner loses), fill holes (prints)."""
    from scipy import ndimage

    mask = ndimage.binary_opening(mask, iterations=1)
    components, n = ndimage.label(mask)
    if n == 0:
        return mask
    index = range(1, n + 1)
    sizes = np.asarray(ndimage.sum(mask, components, index))
    score = sizes + 2 * np.asarray(ndimage.sum(ellipse, components, index))
    keep = [i + 1 for i in range(n) if sizes[i] >= 0.25 * sizes[int(np.argmax(score))]]
    return ndimage.binary_fill_holes(np.isin(components, keep))


def _central_ellipse(h: int, w: int) -> np.ndarray:
    y, x = np.ogrid[:h, :w]
    return ((y - (h - 1) / 2) / (0.35 * h)) ** 2 + ((x - (w - 1) / 2) / (0.35 * w)) ** 2 <= 1


def garment_colors(image, mask: np.ndarray | None = None, max_colors: int = 3, min_share: float = 0.15) -> list[str]:
    """Palette names of the garment's main colours, largest share first (never empty).

    Garment pixels are clustered in CIELAB so shading and highlights of one colour stay one cluster;
    each cluster's mean is named, and clusters with the same name pool their share. `image` is a PIL image or
    its `thumbnail` array; `mask` is `garment_mask(thumbnail(image))` when the caller already has it.
    """
    rgb = image if isinstance(image, np.ndarray) else thumbnail(image)
    lab = rgb_to_lab(rgb)[garment_mask(rgb) if mask is None else mask]
    centres, labels = kmeans(lab, 4)
    shares: dict[str, float] = {}
    for j, centre in enumerate(centres):
        name = _nearest_name(centre)
        shares[name] = shares.get(name, 0.0) + float(np.mean(labels == j))
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    return [ranked[0][0]] + [n for n, s in ranked[1:max_colors] if s >= min_share]


def thumbnail(image, side: int = WORK_SIDE) -> np.ndarray:
    """An RGB PIL image as a uint8 array whose longer side is `side` (aspect kept)."""
    from PIL import Image

    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)
