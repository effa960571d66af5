"""The results table of the outfit model on the held-out 20% of Polyvore: chance, counts, base LM,
LoRA-SFT, and the recommender's scorer (LoRA-SFT PMI + counts).

    python bench/outfit_table.py [--seeds 0 1 2] [--rows counts model] [--json runs/outfit_table.json]

Each row is what `python -m stylist eval fitb|compat --split test --scorer ... [--adapter none]`
prints for seed 0; more seeds rebuild the questions (other blanks and negatives) and average.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from stylist.data.splits import polyvore_catalog, split_outfits
from stylist.evaluation.outfits import ResultsTable, load_scorer

ROWS = {  # label -> (scorer, adapter)
    "chance": ("chance", None),
    "counting baseline (category, price band and title-word PMI)": ("counts", None),
    "base LM, PMI score (no adapter)": ("lm", "none"),
    "base LM PMI + counts (weights tuned for the base LM)": ("model", "none"),
    "LoRA-SFT, PMI score": ("lm", None),
    "LoRA-SFT PMI + counts (the recommender's scorer)": ("model", None),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", nargs="+", choices=sorted({n for n, _ in ROWS.values()}),
                        help="only the rows of these scorers (default: all)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    catalog = polyvore_catalog()
    table, models = ResultsTable(catalog, split_outfits(catalog.outfits)["test"], args.seeds), {}
    for label, (name, adapter) in ROWS.items():
        if args.rows and name not in args.rows:
            continue
        scorer = load_scorer(name, adapter=adapter, share=models.get(adapter) if name in ("lm", "model") else None)
        if name in ("lm", "model"):  # rows on the same LM and adapter share its memoised likelihoods
            models.setdefault(adapter, scorer)
        table.add(label, scorer)
    print(table.markdown("held-out test part"))
    if args.json:
        Path(args.json).write_text(json.dumps(table.to_json(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
