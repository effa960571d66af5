"""A stylist's judgement of the first suggestions over many varied requests on the demo catalog: the rubric of
`docs/styling.md` (`stylist/recommend/styling.py`) per occasion, and how alike the answers are.

    python bench/stylist_judge.py [--split valid|test] [--weights 0 1] [--json]

A request is an outfit worn x an occasion x a season (12 outfits per split x 4 x 4 = 192 requests); the valid
outfits choose the re-ranker's weight, the test ones are read once it is chosen. For each weight of the stylist's
rubric in the re-ranking (0: the model's order alone) it prints the mean rubric marks (0-2) of the first
suggestion of every slot, per occasion, with formality and pairing apart; the share of first picks per colour;
how many distinct items ever come first; and each slot's most frequent first item with its share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict

from stylist.core.catalog import load_catalog
from stylist.core.vocabulary import OCCASIONS, SEASONS
from stylist.recommend import styling
from stylist.recommend.reasons import colours_in
from stylist.recommend.recommender import Recommender

OUTFITS = {
    "valid": [["black satin slip dress"], ["navy cotton t-shirt", "blue denim jeans"], ["white striped cotton shirt"],
              ["red silk blouse", "black wool trousers"], ["yellow floral sundress"], ["grey wool sweater"],
              ["black velvet dress"], ["white linen shirt", "beige linen trousers"], ["pink floral cotton skirt"],
              ["burgundy wool turtleneck", "grey wool skirt"], ["light blue denim shorts"], ["green cotton hoodie"]],
    "test": [["red silk slip dress"], ["navy striped t-shirt"], ["black leather jacket", "black denim jeans"],
             ["white cotton blouse", "navy wool skirt"], ["olive cotton shirt"],
             ["beige cashmere sweater", "brown corduroy trousers"], ["blue polka dot dress"], ["black silk camisole"],
             ["white cotton t-shirt with short sleeves"], ["grey checked wool blazer"], ["purple satin dress"],
             ["orange linen shorts"]],
}


def judge(recommender: Recommender, outfits: list[list[str]]) -> dict:
    """The rubric and sameness figures of the first suggestion of every slot over every request."""
    marks: dict[str, list[tuple[float, float]]] = defaultdict(list)
    firsts: list[tuple[str, str]] = []  # (slot, item id)
    colours: Counter = Counter()
    for worn in outfits:
        for occasion in OCCASIONS:
            for season in SEASONS:
                for slot, found in recommender.recommend(worn, occasion, season, k=3).items():
                    item = found[0].item
                    marks[occasion].append((styling.fit(item, slot, worn, occasion, season),
                                            styling.pairing(item, worn, occasion)))
                    firsts.append((slot, item.id))
                    colours[(colours_in(item.text) or item.colors or ["none"])[0]] += 1
    per_slot: dict[str, Counter] = defaultdict(Counter)
    for slot, item in firsts:
        per_slot[slot][item] += 1
    return {
        "rubric": {o: {"n": len(m), "mean": round(sum(f + p for f, p in m) / len(m), 3),
                       "formality": round(sum(f for f, _ in m) / len(m), 3),
                       "pairing": round(sum(p for _, p in m) / len(m), 3)} for o, m in marks.items()},
        "rubric_all": round(sum(f + p for m in marks.values() for f, p in m) / len(firsts), 3),
        "first_picks": len(firsts), "distinct_first_items": len({i for _, i in firsts}),
        "colour_share": {c: round(n / len(firsts), 3) for c, n in colours.most_common()},
        "most_frequent": {s: {"item": c.most_common(1)[0][0], "share": round(c.most_common(1)[0][1] / sum(c.values()), 3),
                              "of": sum(c.values())} for s, c in per_slot.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=list(OUTFITS), default="valid", help="which outfits (test: read once)")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0], help="rubric weights to compare")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    base = Recommender.load(load_catalog("demo"))
    results = {}
    for weight in args.weights:
        recommender = Recommender(base.catalog, base.model, base.embedder, style_weight=weight)
        results[weight] = judge(recommender, OUTFITS[args.split])
    if args.json:
        print(json.dumps({str(w): r for w, r in results.items()}))
        return 0
    print(f"{args.split}: {len(OUTFITS[args.split])} outfits x {len(OCCASIONS)} occasions x {len(SEASONS)} seasons, "
          f"load {os.getloadavg()[0]:.1f}")
    for weight, r in results.items():
        print(f"\nrubric weight {weight:g}: {r['first_picks']} first picks, {r['distinct_first_items']} distinct items "
              f"(of {len(base.items)}), rubric mean {r['rubric_all']:.3f} of 2")
        for occasion, row in r["rubric"].items():
            print(f"  {occasion:8s} {row['mean']:.3f}  (formality {row['formality']:.3f}, pairing {row['pairing']:.3f},"
                  f" n {row['n']})")
        print("  colours: " + ", ".join(f"{c} {s:.0%}" for c, s in list(r["colour_share"].items())[:6]))
        for slot, row in r["most_frequent"].items():
            print(f"  {slot:12s} most often first: {row['item']:24s} {row['share']:.0%} of {row['of']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
