"""Share of garment photos whose main colour the captioner names right, on photos with a known colour.

    python bench/caption_colors.py [--n N] [--seeds 2] [--json]

Each demo-catalog item (`stylist.data.demo_catalog`, colours from `stylist.core.colors.PALETTE`) is drawn by
`stylist.data.render.floor_photo` (300x400) as a phone photo of the garment lying on wood, a bed sheet or tiles, with
uneven light, noise and blur. A solid garment is right when the captioner's first colour is its colour;
a patterned one (stripes, checks, dots, flowers in two colours) when it is one of its colours, since which
of two colours dominates a striped shirt is not well defined. The strict figure is printed as well.
The surface is deliberately photographed too, so naming the floor instead of the garment scores wrong.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from tqdm import tqdm

from stylist.core.catalog import load_catalog
from stylist.data.render import floor_photo, seed_of
from stylist.models.captioner import Captioner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="number of catalog items (default: all)")
    parser.add_argument("--seeds", type=int, default=2, help="photos per item (different floor, light, pose)")
    parser.add_argument("--captioner", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    captioner = Captioner.load(args.captioner)
    items = [i for i in load_catalog("demo").items.values() if i.colors][: args.n]
    strict, lenient, total, misses = Counter(), Counter(), Counter(), Counter()
    skipped = []
    for item, seed in tqdm([(i, s) for i in items for s in range(args.seeds)], desc="colour photos"):
        try:
            photo = floor_photo(item.category, item.colors, item.pattern, item.material, size=(300, 400),
                                seed=seed_of("bench", item.id, seed))
        except ValueError as exc:  # a renderer failure is not a captioner result: report it, do not score it
            skipped.append(f"{item.id} seed {seed}: {exc}")
            continue
        named = captioner.caption_image(photo, path=item.id).colors[0]
        kind = item.pattern if item.pattern not in ("", "solid") else "solid"
        total[kind] += 1
        strict[kind] += named == item.colors[0]
        lenient[kind] += named in item.colors
        if named not in item.colors:
            misses[f"{item.colors[0]}->{named}"] += 1
    n, solid = sum(total.values()), total["solid"]
    # a solid garment has one right answer; a striped/checked one is right when named by one of its colours
    score = (strict["solid"] + sum(lenient[k] for k in total if k != "solid")) / n
    result = {"main_colour_accuracy": round(score, 4), "n": n,
              "solid_accuracy": round(strict["solid"] / max(solid, 1), 4), "n_solid": solid,
              "strict_first_colour_accuracy": round(sum(strict.values()) / n, 4),
              "by_pattern": {k: {"n": total[k], "first_colour": round(strict[k] / total[k], 4),
                                 "one_of_its_colours": round(lenient[k] / total[k], 4)} for k in sorted(total)},
              "top_confusions": dict(misses.most_common(8)), "render_failures": len(skipped)}
    print(f"main colour right on {n} photos: {score:.3f} (solid garments {result['solid_accuracy']:.3f} of {solid}; "
          f"patterned ones count when named by one of their colours)")
    print(f"strict (always the item's first colour): {result['strict_first_colour_accuracy']:.3f}")
    for k, v in result["by_pattern"].items():
        print(f"  {k:10s} n={v['n']:3d}  first colour {v['first_colour']:.3f}  one of its colours {v['one_of_its_colours']:.3f}")
    print("most common misses:", ", ".join(f"{k} x{v}" for k, v in misses.most_common(8)) or "none")
    if skipped:
        print(f"{len(skipped)} photos could not be rendered (not scored), e.g. {skipped[0]}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
