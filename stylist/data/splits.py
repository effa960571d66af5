"""The deterministic 80/20 split of Polyvore outfits by set_id, and the training/validation cut inside the 80%.

The 20% test part is held out from ALL training (base LM, adapter, embedder, counts). Model choices are
made on a validation cut of the training part, never on the test part. The split hashes the set_id, so
it is the same on every machine and for any subset or superset of the outfits.

    python -c "from stylist.data.splits import polyvore_split; print({k: len(v) for k, v in polyvore_split().items()})"
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from stylist.core.catalog import Catalog, Outfit, load_polyvore
from stylist.core.paths import shared_data

TEST_PERCENT = 20
VALID_PERCENT = 10  # of the whole set, taken from the training part: 70 / 10 / 20
PHOTO_TEST_SHARE = 0.3  # of clothing-extra's photos of each type, by sha1 of the path: never trained on


def bucket(set_id: str) -> int:
    """A stable number in [0, 100) for an outfit id (sha1, so no Python hash seed is involved)."""
    return int(hashlib.sha1(str(set_id).encode()).hexdigest(), 16) % 100


def part_of(set_id: str) -> str:
    """'test' (held out from all training), 'valid' (model selection) or 'train'."""
    b = bucket(set_id)
    if b < TEST_PERCENT:
        return "test"
    return "valid" if b < TEST_PERCENT + VALID_PERCENT else "train"


def photo_test_set(photos: Iterable[tuple[str, str]]) -> set[str]:
    """The held-out test photos of clothing-extra: per label, the PHOTO_TEST_SHARE whose sha1 of the path (as
    images.csv names it) sorts first. Stratified, so the rare types (blouse, hat, skirt) are all tested."""
    by_label: dict[str, list[str]] = {}
    for image, label in photos:
        by_label.setdefault(label, []).append(image)
    key = lambda image: hashlib.sha1(f"photo:{image}".encode()).hexdigest()  # noqa: E731
    return {image for images in by_label.values()
            for image in sorted(images, key=key)[:round(PHOTO_TEST_SHARE * len(images))]}


def split_outfits(outfits: Iterable[Outfit]) -> dict[str, list[Outfit]]:
    """Outfits by part: 'train', 'valid', 'test', and 'fit' = train + valid (all that training may see)."""
    parts: dict[str, list[Outfit]] = {"train": [], "valid": [], "test": [], "fit": []}
    for outfit in outfits:
        part = part_of(outfit.id)
        parts[part].append(outfit)
        if part != "test":
            parts["fit"].append(outfit)
    return parts


def polyvore_catalog() -> Catalog:
    """The shared Polyvore outfits (all parts); use `split_outfits` before training on them."""
    return load_polyvore(shared_data() / "polyvore" / "outfits.json")


def polyvore_split(catalog: Catalog | None = None) -> dict[str, list[Outfit]]:
    return split_outfits((catalog or polyvore_catalog()).outfits)

