"""Shop-sized catalogs for the benchmarks, made from the real Polyvore product titles in `../shared/data` and the
demo catalog.

    python bench/make_catalogs.py [--sizes 10000 100000] [--out runs/catalogs]

Every distinct wearable title of the Maryland Polyvore outfits and of the demo catalog is used once (with its
category and price where it has them); beyond those (about 5,000), more items are the same titles in another
palette colour, as a shop lists one cut in several colours. The catalogs are stylist catalog JSON files under `runs/` (git-ignored):
they derive from research-only data and are never committed. A catalog already made is reused.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from stylist.core.catalog import Catalog, Item, load_catalog
from stylist.core.colors import PALETTE
from stylist.core.paths import RUNS, shared_data

OUT = RUNS / "catalogs"
SOURCES = (shared_data() / "polyvore" / "outfits.json", "demo")


def real_items() -> list[Item]:
    """The wearable Polyvore items with a title, one per distinct title, in the files' order."""
    seen, items = set(), []
    for source in SOURCES:
        for item in load_catalog(source).wearable():
            if item.title and item.title not in seen:
                seen.add(item.title)
                items.append(item)
    return items


def recoloured(title: str, rng: random.Random) -> str:
    """The title in another palette colour: its first colour word replaced, or a colour put in front."""
    colours = sorted(PALETTE, key=len, reverse=True)
    pattern = re.compile(rf"\b({'|'.join(map(re.escape, colours))})\b")
    colour = rng.choice(colours)
    return pattern.sub(colour, title, count=1) if pattern.search(title) else f"{colour} {title}"


def make_catalog(size: int, out: Path = OUT) -> Path:
    """The catalog file of `size` items (made once)."""
    path = out / f"polyvore-{size}.json"
    if path.exists():
        return path
    base, rng = real_items(), random.Random(size)
    catalog = Catalog(path.stem)
    for n in range(size):
        item = base[n % len(base)]
        title = item.title if n < len(base) else recoloured(item.title, rng)
        catalog.add(Item(f"p{n}", title, item.category, price=item.price))
    out.mkdir(parents=True, exist_ok=True)
    catalog.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for size in args.sizes:
        print(make_catalog(size, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
