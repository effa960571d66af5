"""Ablation of the preference model on held-out users of ratings-full.csv: contrastive loss x preference tokens.

    python bench/preference_ablation.py [--seeds 0] [--part test] [--json]      # 2 trainings per seed

Per seed it trains twice with `train_preference.train` (contrastive weight 1 and 0, the adopted recipe
otherwise), each with stage (b). Stage (b) changes nothing but the tokens, so switching the tokens off gives
the stage (a) model exactly: four variants from two runs. Each is measured as `python -m stylist eval
preference` measures (the users of `--part`, which no variant trained or selected on when it is "test"),
overall and by history length, with standard errors: of the accuracy (over users) and of the paired gap to
the better baseline; and on the simulated app users when the demo catalog exists.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from preference_app_users import run as app_users  # a sibling script: bench/ is the script's own folder

from stylist.core.catalog import load_catalog
from stylist.core.errors import StylistError
from stylist.data.rtr import by_user, episodes, load_ratings, split_users
from stylist.evaluation.preference import HISTORY_BUCKETS, baseline_scores, history_bucket, model_scores, pair_wins
from stylist.models.preference import ItemStats
from stylist.train.preference import PreferenceTrainConfig, train

VARIANTS = {  # name -> (contrastive weight, preference tokens on)
    "base loss only": (0.0, False),
    "without contrastive loss": (0.0, True),
    "without preference tokens": (1.0, False),
    "full (base + contrastive + tokens)": (1.0, True),
}


def summary(wins: np.ndarray, best: np.ndarray, buckets: np.ndarray) -> dict[str, dict[str, float]]:
    """Accuracy, its standard error over users, and the paired gap to the better baseline with its standard
    error, for all users and per history bucket."""
    out = {}
    for name in ["all", *HISTORY_BUCKETS]:
        keep = np.ones(len(wins), bool) if name == "all" else buckets == name
        w, gap = wins[keep], wins[keep] - best[keep]
        out[name] = {"n_users": int(keep.sum()), "accuracy": float(w.mean()), "se": float(w.std() / np.sqrt(len(w))),
                     "gap": float(gap.mean()), "gap_se": float(gap.std() / np.sqrt(len(w)))}
    return out


def cell(s: dict[str, float], key: str = "accuracy") -> str:
    return f"{s[key]:+.4f} ± {s[key + '_se']:.4f}" if key == "gap" else f"{s[key]:.4f} ± {s['se']:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--part", choices=["valid", "test"], default="test", help="the held-out users to measure on")
    parser.add_argument("--out", default="runs/preference-ablation", help="where the trained variants go")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ratings = load_ratings()
    parts = split_users(ratings)
    users = by_user(ratings)
    eps = episodes(ratings, parts[args.part])
    buckets = np.array([history_bucket(e) for e in eps])
    base = {name: pair_wins(*s) for name, s in
            baseline_scores(ItemStats.fit({u: users[u] for u in parts["train"]}), eps).items()}  # = the model's counts
    best = max(base, key=lambda k: base[k].mean())
    try:
        items = [i for i in load_catalog("demo").items.values() if i.text]
    except StylistError:
        items = []
    rows: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for seed in args.seeds:
        for weight in (1.0, 0.0):
            out = f"{args.out}/c{weight:g}-s{seed}"
            model = train(PreferenceTrainConfig(contrastive=weight, seed=seed, out=out, members=1))
            model.save(out)
            for name, (w, tokens) in VARIANTS.items():
                if w != weight:
                    continue
                model.net.use_tokens = tokens
                row = {"seed": seed, **summary(pair_wins(*model_scores(model, eps)), base[best], buckets)}
                if items:
                    row["app_users"] = app_users(model, items)["pairwise_accuracy"]
                rows[name].append(row)
    baselines = {name: summary(w, base[best], buckets) for name, w in base.items()}
    print(f"{args.part} users: {len(eps)}; better baseline: {best}; mean ± standard error over users, seed {args.seeds[0]}")
    print("| variant | all | history 0 | history 1-2 | history 3+ | gap to " + best + ": all | 3+ | app users |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in [*rows.items(), *((f"baseline: {n}", [b]) for n, b in baselines.items())]:
        r = rs[0]
        app = f"{np.mean([x['app_users'] for x in rs]):.3f}" if "app_users" in r else ""
        print(f"| {name} | {cell(r['all'])} | {cell(r['0'])} | {cell(r['1-2'])} | {cell(r['3+'])} | {cell(r['all'], 'gap')} "
              f"| {cell(r['3+'], 'gap')} | {app} |")
    if args.json:
        print(json.dumps({"part": args.part, "best_baseline": best, "baselines": baselines, "variants": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
