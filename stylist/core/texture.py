"""How busy a garment's own surface is: the pixel half of what tells a print or denim from a plain fabric.

A graphic, a floral or an all-over print puts edges and second colours inside the garment's outline; a plain
fabric has only folds and shading there, denim its twill and fades. These statistics are measured inside the
garment mask (eroded, so the outline itself does not count) on the thumbnail the colours are read from, so
they cost about a millisecond. The captioner's caption words read them together with its own features
(`stylist.models.captioner`).
"""

from __future__ import annotations

import numpy as np

from stylist.core.colors import kmeans, rgb_to_lab

TEXTURE_FEATURES = ("fine_detail_mean", "fine_detail_std", "coarse_detail_mean", "edge_mean", "edge_p90",
                    "lightness_std", "a_std", "b_std", "off_main_colour_20", "off_main_colour_35",
                    "main_colour_share", "second_colour_share", "chroma_std", "garment_share")


def texture_statistics(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The TEXTURE_FEATURES of a garment: `rgb` is its photo's `thumbnail`, `mask` that thumbnail's `garment_mask`."""
    from scipy import ndimage

    inner = ndimage.binary_erosion(mask, iterations=2)
    if inner.sum() < 50:  # a thin garment (a strap top seen small): its whole mask
        inner = mask
    if inner.sum() < 4:
        inner = np.ones_like(mask)
    lab = rgb_to_lab(rgb).astype(np.float32)
    points, lightness = lab[inner], lab[..., 0]
    fine = np.abs(lightness - ndimage.gaussian_filter(lightness, 1))[inner]
    coarse = np.abs(lightness - ndimage.gaussian_filter(lightness, 2))[inner]
    edges = np.hypot(ndimage.sobel(lightness, 0), ndimage.sobel(lightness, 1))[inner]
    centres, labels = kmeans(points, 4)
    counts = np.bincount(labels, minlength=4)
    shares = np.sort(counts / len(labels))
    off_main = np.sqrt(((points - centres[np.argmax(counts[:len(centres)])]) ** 2).sum(1))
    return np.array([fine.mean(), fine.std(), coarse.mean(), edges.mean(), np.percentile(edges, 90),
                     points[:, 0].std(), points[:, 1].std(), points[:, 2].std(), (off_main > 20).mean(),
                     (off_main > 35).mean(), shares[-1], shares[-2], np.hypot(points[:, 1], points[:, 2]).std(),
                     inner.mean()], dtype=np.float32)
