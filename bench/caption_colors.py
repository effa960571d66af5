"""Share of garment photos whose main colour the captioner names right, on photos with a known colour.

    python bench/caption_colors.py [--n 277] [--json]

Each demo-catalog item (`stylist.demo_catalog`, colours from `stylist.colors.PALETTE`) is drawn by
`stylist.render.floor_photo` as a phone photo of the garment lying on wood, a bed sheet or tiles, with
uneven light, noise and blur; the captioner's first colour must equal the item's first (main) colour.
The surface is deliberately photographed too, so naming the floor instead of the garment scores wrong.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from tqdm import tqdm

from stylist.captioning import Captioner
from stylist.catalog import load_catalog
from stylist.render import floor_photo, seed_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="number of catalog items (default: all)")
    parser.add_argument("--captioner", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    captioner = Captioner.load(args.captioner)
    items = [i for i in load_catalog("demo").items.values() if i.colors][: args.n]
    right, total, misses = Counter(), Counter(), Counter()
    for item in tqdm(items, desc="colour photos"):
        photo = floor_photo(item.category, item.colors, item.pattern, item.material, seed=seed_of("bench", item.id))
        named = captioner.caption_image(photo, path=item.id).colors[0]
        kind = "solid" if item.pattern in ("", "solid") else "patterned"
        total[kind] += 1
        right[kind] += named == item.colors[0]
        if named != item.colors[0]:
            misses[f"{item.colors[0]}->{named}"] += 1
    n = sum(total.values())
    result = {"main_colour_accuracy": round(sum(right.values()) / n, 4), "n": n,
              "by_kind": {k: round(right[k] / total[k], 4) for k in total}, "n_by_kind": dict(total),
              "top_confusions": dict(misses.most_common(8))}
    print(f"main colour right on {sum(right.values())}/{n} = {result['main_colour_accuracy']:.3f} "
          f"(solid {result['by_kind'].get('solid', 0):.3f}, patterned {result['by_kind'].get('patterned', 0):.3f})")
    print("most common misses:", ", ".join(f"{k} x{v}" for k, v in misses.most_common(8)) or "none")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
