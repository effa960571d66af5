"""The second, later Polyvore crawl ("Polyvore Outfits", Vasileva et al. 2018): 7,501 outfits, titles only.

Its items have no category or price, so the garment type is read from the title: an item's category is
the slot its title names (`slot_of`), or empty when the title names none (a brand, a lipstick). That
gives the captions the same "what is it" hint Maryland captions carry, and gives hard FITB negatives a
category to share. Outfits split 70/10/20 by set id hash exactly like Maryland (`splits.split_outfits`):
'test' is held out from all training, 'valid' is what model choices are made on.

    python -c "from stylist.data.polyvore_outfits import crawl_split; print({k: len(v) for k, v in crawl_split().items()})"
"""

from __future__ import annotations

import os
from pathlib import Path

from stylist.core.catalog import Catalog, load_polyvore
from stylist.core.paths import shared_data
from stylist.core.vocabulary import OTHER, slot_of
from stylist.data.corpus import TrainingOutfit, outfits_of
from stylist.data.splits import split_outfits


def crawl_path() -> Path:
    return shared_data() / "polyvore-outfits" / "outfits.json"


def crawl_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """The new crawl as a catalog whose items' categories are the slots their titles name."""
    catalog = load_polyvore(path or crawl_path())
    for item in catalog.items.values():
        slot = slot_of(item.title)
        item.category = "" if slot == OTHER else slot
    return catalog


def load_outfits(path: str | os.PathLike) -> Catalog:
    """Any Polyvore-format outfits file: as `crawl_catalog` when no item has a category (the new crawl's
    format), else as Maryland's (`load_polyvore`, with category_id.txt beside it)."""
    catalog = load_polyvore(path)
    return crawl_catalog(path) if not any(i.category for i in catalog.items.values()) else catalog


def crawl_split(catalog: Catalog | None = None) -> dict:
    """The crawl's outfits by part: 'train', 'valid', 'test' and 'fit' (= train + valid)."""
    return split_outfits((catalog or crawl_catalog()).outfits)


def crawl_training_outfits(part: str = "train", catalog: Catalog | None = None) -> list[TrainingOutfit]:
    """The crawl's outfits of a part ('train', 'valid' or 'fit'), never 'test'."""
    if part == "test":
        raise ValueError("the test part is held out from all training")
    catalog = catalog or crawl_catalog()
    return outfits_of(catalog, crawl_split(catalog)[part])
