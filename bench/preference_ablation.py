"""Ablation of the preference model on the held-out test users of ratings.csv: contrastive loss x preference tokens.

    python bench/preference_ablation.py [--seeds 0 1 2] [--json]      # ~2 training runs per seed, minutes each

Per seed it trains twice with `train_preference.train` (contrastive weight 1 and 0), each with stage (b).
Stage (b) changes nothing but the tokens, so switching the tokens off gives the stage (a) model exactly:
four variants from two runs. With several seeds, each variant is also scored as a seed ensemble (P(like)
averaged over the seeds, as the shipped checkpoint is: `TrainConfig.members`). All are measured the same
way as `python -m stylist eval preference` (the test users, which no variant trained or selected on), with
a paired bootstrap 95% interval of the difference to the better baseline, and on the simulated app users
when the demo catalog exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preference_app_users import run as app_users

from stylist.core.catalog import load_catalog
from stylist.core.errors import StylistError
from stylist.data.rtr import episodes, load_ratings, split_users
from stylist.evaluation.preference import baseline_scores, metrics, model_scores, pair_wins
from stylist.models.preference import ItemStats
from stylist.train.preference import TrainConfig, train

VARIANTS = {  # name -> (contrastive weight, preference tokens on)
    "base loss only": (0.0, False),
    "without contrastive loss": (0.0, True),
    "without preference tokens": (1.0, False),
    "with both": (1.0, True),
}


def bootstrap_gap(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b) over users resampled with replacement (paired: same users)."""
    idx = np.random.default_rng(seed).integers(0, len(a), (n, len(a)))
    gaps = a[idx].mean(1) - b[idx].mean(1)
    return float(np.percentile(gaps, 2.5)), float(np.percentile(gaps, 97.5))


def spread(xs: list[float]) -> str:
    return f"{np.mean(xs):.4f}" + (f" ± {np.std(xs):.4f}" if len(xs) > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="runs/preference-ablation", help="where the trained variants go")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ratings = load_ratings()
    parts = split_users(ratings)
    test = episodes(ratings, parts["test"])
    base = baseline_scores(ItemStats.fit([r for r in ratings if r.user in parts["train"]]), test)  # = the model's counts
    best = max(base, key=lambda k: pair_wins(*base[k]).mean())
    try:
        items = [i for i in load_catalog("demo").items.values() if i.text]
    except StylistError:
        items = []
    rows: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    scores: dict[str, list[tuple[list[float], list[float]]]] = {name: [] for name in VARIANTS}
    for seed in args.seeds:
        for weight in (1.0, 0.0):
            model = train(TrainConfig(contrastive=weight, seed=seed, out=f"{args.out}/c{weight:g}-s{seed}"))
            model.save(f"{args.out}/c{weight:g}-s{seed}")
            for name, (w, tokens) in VARIANTS.items():
                if w != weight:
                    continue
                model.net.use_tokens = tokens
                pos, neg = model_scores(model, test)
                scores[name].append((pos, neg))
                row = {"seed": seed, **metrics(pos, neg), "gap_ci": bootstrap_gap(pair_wins(pos, neg), pair_wins(*base[best]))}
                if items:
                    row["app_users"] = app_users(model, items)["pairwise_accuracy"]
                rows[name].append(row)
    base = {name: metrics(*scores) for name, scores in base.items()}
    print(f"test users: {len(test)}")
    ensembles = {name: metrics(*(list(np.mean(s, 0)) for s in zip(*runs))) for name, runs in scores.items()}
    print(f"| variant | pairwise accuracy | AUC | gap to {best} (95% CI, seed {args.seeds[0]}) | app users | seed ensemble |")
    print("|---|---|---|---|---|---|")
    for name, rs in rows.items():
        acc, auc = [r["pairwise_accuracy"] for r in rs], [r["auc"] for r in rs]
        app = [r["app_users"] for r in rs if "app_users" in r]
        ci = rs[0]["gap_ci"]
        print(f"| {name} | {spread(acc)} | {spread(auc)} | [{ci[0]:+.3f}, {ci[1]:+.3f}] | {spread(app) if app else 'n/a'} "
              f"| {ensembles[name]['pairwise_accuracy']:.4f} |")
    for name, m in base.items():
        print(f"| baseline: {name} | {m['pairwise_accuracy']:.4f} | {m['auc']:.4f} | | | |")
    if args.json:
        print(json.dumps({"baselines": base, "variants": rows, "seed_ensembles": ensembles}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
