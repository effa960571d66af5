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


_NAMES = list(PALETTE)
_LAB = rgb_to_lab(np.array([PALETTE[n] for n in _NAMES]))


def name_color(rgb) -> str:
    """The palette name nearest to an sRGB colour in CIELAB."""
    lab = rgb_to_lab(np.asarray(rgb, dtype=np.float64).reshape(1, 3))
    return _NAMES[int(np.argmin(((_LAB - lab) ** 2).sum(-1)))]
