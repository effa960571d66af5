"""Do suggestions keep to the season and occasion asked for? Outfit x season x occasion requests on the demo
catalog, judged by the catalog's own styling rules.

    python bench/season_occasion.py [--k 3] [--json]

Each request asks for every missing slot of a starting outfit; a top-k suggestion breaks a rule when
`stylist.data.demo_catalog.check_outfit` finds it is not for the season or not of the occasion's formality
(the rules every demo outfit keeps). Also printed: for the same outfit and occasion, the share of top-k items a
summer and a winter request have in common (the season should change the list), and how many of a
many-item outfit's pieces the reasons name (they should not all name one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from stylist.core.catalog import load_catalog
from stylist.core.vocabulary import OCCASIONS, SEASONS
from stylist.data.demo_catalog import check_outfit
from stylist.recommend.recommender import Recommender

OUTFITS = (
    ("white cotton t-shirt", "blue denim shorts"),
    ("black silk dress",),
    ("grey wool sweater", "black wool trousers"),
    ("light blue cotton shirt", "blue denim jeans", "white canvas sneakers"),
    ("burgundy velvet dress", "black leather ankle boots", "black leather jacket"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recommender = Recommender.load(load_catalog("demo"))
    start = time.perf_counter()
    shown = broken = requests = 0
    top: dict[tuple, dict[str, set[str]]] = {}
    named: list[int] = []
    for outfit in OUTFITS:
        for occasion in OCCASIONS:
            for season in SEASONS:
                result = recommender.recommend(list(outfit), occasion, season, k=args.k)
                requests += 1
                top[outfit, occasion, season] = {slot: {s.item.id for s in found} for slot, found in result.items()}
                for found in result.values():
                    shown += len(found)
                    broken += sum(bool(check_outfit([s.item], occasion, season, partial=True)) for s in found)
                if len(outfit) > 1:
                    named.append(len({c for found in result.values() for s in found for c in outfit
                                      if s.reason.startswith(f"goes with your {c}")}))
    common = total = 0
    for outfit in OUTFITS:
        for occasion in OCCASIONS:
            summer, winter = top[outfit, occasion, "summer"], top[outfit, occasion, "winter"]
            for slot, ids in summer.items():
                common += len(ids & winter.get(slot, set()))
                total += len(ids)
    report = {"requests": requests, "suggestions": shown, "violation_share": round(broken / shown, 4),
              "summer_winter_overlap": round(common / total, 4),
              "partners_named": round(sum(named) / len(named), 2), "seconds": round(time.perf_counter() - start, 1)}
    print(f"{requests} requests, {shown} top-{args.k} suggestions: {report['violation_share']:.1%} break the catalog's "
          f"season or formality rules; summer and winter lists share {report['summer_winter_overlap']:.1%} of items; "
          f"reasons name {report['partners_named']} of a many-item outfit's pieces on average")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
