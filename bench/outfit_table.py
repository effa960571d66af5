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

import numpy as np
import torch

from stylist.data.splits import polyvore_catalog, split_outfits
from stylist.evaluation.outfits import build_compat_pairs, build_fitb_questions, compat_auc, fitb_accuracy, load_scorer

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
    test = split_outfits(catalog.outfits)["test"]
    tasks = {seed: (build_fitb_questions(catalog, test, seed=seed), build_fitb_questions(catalog, test, hard=True, seed=seed),
                    build_compat_pairs(catalog, test, seed=seed)) for seed in args.seeds}
    table, models = {}, {}
    for label, (name, adapter) in ROWS.items():
        if args.rows and name not in args.rows:
            continue
        scorer = load_scorer(name, adapter=adapter, share=models.get(adapter) if name in ("lm", "model") else None)
        if name in ("lm", "model"):  # rows on the same LM and adapter share its memoised likelihoods
            models.setdefault(adapter, scorer)
        runs = [(fitb_accuracy(scorer, catalog, fitb, seed=seed), fitb_accuracy(scorer, catalog, hard, seed=seed),
                 compat_auc(scorer, catalog, pairs)) for seed, (fitb, hard, pairs) in tasks.items()]
        table[label] = np.array(runs)
        print(label, np.round(table[label].mean(0), 3).tolist(), file=sys.stderr, flush=True)
    n = len(next(iter(tasks.values()))[0])
    print(f"| scorer (held-out test part, {n} outfits, seeds {args.seeds}) | FITB random negatives | "
          "FITB same-category negatives | compatibility AUC |")
    print("|---|---|---|---|")
    for label, runs in table.items():
        cells = [f"{m:.3f}" + (f" ± {s:.3f}" if len(runs) > 1 else "") for m, s in zip(runs.mean(0), runs.std(0))]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({k: v.tolist() for k, v in table.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
