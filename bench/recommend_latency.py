"""Latency of one recommendation for a 3-item outfit against the demo catalog (or another), on CPU, in process.

    python bench/recommend_latency.py [--repeats 10] [--threads 1] [--catalog runs/catalogs/polyvore-10000.json] [--json]
    python bench/recommend_latency.py --repeats 30 --llm runs/real/base --adapter runs/real/sft   # a candidate LM

Loading (models, catalog embeddings, unconditional likelihoods) is timed separately: the app pays it
once at start. Each repeat uses a different outfit so the likelihood cache cannot answer for it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from stylist.core.catalog import load_catalog
from stylist.models.spec import LMSpec
from stylist.recommend.recommender import Recommender, add_decoding_arguments, decoding_of

TOPS = ["navy cotton t-shirt", "white linen shirt", "grey wool sweater", "black silk blouse", "beige knit top"]
BOTTOMS = ["blue denim jeans", "black wool trousers", "white cotton shorts", "olive chino trousers", "red pleated skirt"]
SHOES = ["white leather sneakers", "black ankle boots", "brown leather loafers", "beige sandals", "black heels"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="outfits (at most 125, all distinct)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--catalog", default="demo", help="a catalog name or JSON file (bench/make_catalogs.py)")
    LMSpec.add_arguments(parser)
    add_decoding_arguments(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    recommender = Recommender.load(load_catalog(args.catalog), LMSpec.from_args(args).check())
    recommender.decoding = decoding_of(args)
    load_s = time.perf_counter() - start
    times, slots = [], 0
    for n in range(args.repeats):
        outfit = [TOPS[n % 5], BOTTOMS[n // 5 % 5], SHOES[n // 25 % 5]]  # 125 distinct outfits: no cached answer
        start = time.perf_counter()
        result = recommender.recommend(outfit, occasion="casual" if n % 2 else None, k=5)
        times.append(time.perf_counter() - start)
        slots = len(result)
    report = {"load_s": round(load_s, 3), "median_s": round(statistics.median(times), 3),
              "max_s": round(max(times), 3), "repeats": args.repeats, "slots": slots, "threads": args.threads,
              "catalog_items": len(recommender.items)}
    print(f"load {report['load_s']} s; recommend (3 items -> {slots} slots x 5): median {report['median_s']} s, "
          f"max {report['max_s']} s over {args.repeats} outfits, {args.threads} thread(s)")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
