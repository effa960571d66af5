"""Do the outfit LM's descriptions of a missing piece name the slot asked for? Held-out Polyvore outfits.

    python bench/describe_slots.py [--outfits 300] [--json]

One item of each held-out (test part) outfit is hidden; the LM describes the missing piece of its slot from
the other items' captions. Printed: the share of descriptions whose `slot_of` is that slot, for the LM's
single greedy text ("greedy"), for any of the recommender's candidates ("candidates": the LM's own words),
and for what `Recommender.describe` returns ("described", a candidate or one given the slot's noun).
The test part is only measured here, never used to choose anything.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import torch

from stylist.core.catalog import load_catalog
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import OTHER, slot_of
from stylist.data.splits import polyvore_catalog, polyvore_split
from stylist.recommend.recommender import DESCRIPTION_CANDIDATES, Recommender


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outfits", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    polyvore = polyvore_catalog()
    outfits = polyvore_split(polyvore)["test"]
    rng = random.Random(args.seed)
    rng.shuffle(outfits)
    questions: list[tuple[list[str], str]] = []
    for outfit in outfits:
        items = [i for i in polyvore.outfit_items(outfit) if i.slot != OTHER]
        if len(items) >= 3 and len(questions) < args.outfits:
            hidden = rng.choice(items)
            questions.append(([item_caption(i) for i in items if i is not hidden], hidden.slot))
    recommender = Recommender.load(load_catalog("demo"))  # its catalog names the nouns a description may end in
    start = time.perf_counter()
    greedy = candidates = described = 0
    for captions, slot in questions:
        [texts] = recommender.model.describe(captions, [slot], None, None, min(len(captions), DESCRIPTION_CANDIDATES),
                                             recommender.description_tokens)
        greedy += slot_of(texts[0]) == slot
        candidates += any(slot_of(t) == slot for t in texts)
        described += slot_of(recommender.describe(captions, [slot], None, None)[0]) == slot
    n = len(questions)
    report = {"outfits": n, "greedy": round(greedy / n, 4), "candidates": round(candidates / n, 4),
              "described": round(described / n, 4), "seconds": round(time.perf_counter() - start, 1)}
    print(f"{n} held-out outfits: descriptions naming the slot asked for: greedy {report['greedy']:.1%}, "
          f"any of {DESCRIPTION_CANDIDATES} candidates {report['candidates']:.1%}, "
          f"described {report['described']:.1%}")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
