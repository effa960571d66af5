"""Cross-validated comparison of preference-model recipes on the users that are NOT test users.

    python bench/preference_cv.py --recipe shipped --folds 0 1 2 3 4 --seeds 0 1 2   # 35-70 s per training, 1 thread
    python bench/preference_cv.py --curve --recipe shipped     # no epoch selection: accuracy after every epoch
    python bench/preference_cv.py --report [--members 5]       # the tables of every recipe and curve run

Model choices for issue 7 are made here, never on the test users: with 171 validation users one standard
error of a pairwise accuracy is about 3.8 points, and seeds of the same recipe differ by more than the
changes being compared. The pool is every non-test user with a liked and a not-liked row (641 on the shared
file), cut into 5 folds by sha1 of the user id. For fold k: fold k is evaluated, fold k+1 selects the epochs,
every other non-test user trains (item statistics included). Each recipe is trained once per (fold, seed);
a recipe with preference tokens is also scored with them switched off (its stage (a) model, written
as RECIPE-stage-a), and every model is also scored on its fold as a file with only the required columns
would show it (no occasion, size or profile: `ratings.bare`), written as RECIPE-bare. The report gives the
pooled pairwise accuracy of single models (mean over seeds), of the seed ensemble (P(like) averaged over
seeds, as the checkpoint is) and of the user_agnostic baseline on the same users, with a paired bootstrap
95% interval of each recipe's gap to the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preference_ablation import bootstrap_gap

from stylist.data.rtr import bare, by_user, episodes, has_both, load_ratings, split_users
from stylist.data.splits import bucket
from stylist.evaluation.preference import baseline_scores, model_scores, pair_wins
from stylist.models.preference import PreferenceConfig
from stylist.train.preference import TrainConfig, train

N_FOLDS = 5
RECIPES: dict[str, tuple[dict, dict]] = {  # name -> (TrainConfig changes, PreferenceConfig changes)
    "shipped": ({}, {}),
    "small": ({}, {"dim": 16, "hidden": 32, "dropout": 0.3}),
    "no-taste": ({"taste_users": 0}, {}),
    "words1": ({"taste_words": 1}, {}),  # the recipe before session 6: a taste is one word on each side
    "words3": ({"taste_words": 3}, {}),  # "shipped" is up to 2 words since session 6
    "words3-300": ({"taste_words": 3, "taste_users": 300}, {}),
    "smooth10": ({}, {"smoothing": 10.0}),  # item like rates shrunk harder (the probe's better baseline, session 7)
}


def folds(users: dict[str, list], test: set[str]) -> list[set[str]]:
    """The non-test users with both labels, in N_FOLDS folds by sha1 of the user id (stable across machines)."""
    out: list[set[str]] = [set() for _ in range(N_FOLDS)]
    for user, rows in users.items():
        if user not in test and has_both(rows):
            out[bucket(f"cv:{user}") % N_FOLDS].add(user)
    return out


def run(recipe: str, fold_ids: list[int], seeds: list[int], out: Path, curve: bool = False) -> None:
    """Train `recipe` on each fold and seed; write each fold's per-user scores to out/recipe/fold{k}.json.
    With `curve`, no epoch is selected (the last is kept) and the evaluated fold is the validation set, so the
    training history holds every epoch's accuracy on it: out/recipe-curve/fold{k}.json."""
    ratings = load_ratings()
    users = by_user(ratings)
    test = split_users(ratings)["test"]
    cuts = folds(users, test)
    train_changes, config_changes = RECIPES[recipe]
    for k in fold_ids:
        evaluated, select = cuts[k], cuts[(k + 1) % N_FOLDS]
        parts = {"train": set(users) - test - evaluated - select, "valid": evaluated if curve else select, "test": test | evaluated}
        eps = episodes(ratings, evaluated)
        bare_eps = episodes([bare(r) for r in ratings], evaluated)
        rows: dict[str, dict] = {}
        curves: dict[str, list] = {}
        for seed in seeds:
            cfg = TrainConfig(seed=seed, **train_changes, **({"select": "last"} if curve else {}))
            model = train(cfg, PreferenceConfig(**config_changes), parts=parts)
            if curve:
                curves.setdefault(str(seed), model.metrics["history"])
                continue
            variants = [(recipe, True), (f"{recipe}-stage-a", False)] if model.net.use_tokens else [(recipe, False)]
            for name, tokens in variants:
                model.net.use_tokens = tokens
                for suffix, evaluated_eps in (("", eps), ("-bare", bare_eps)):
                    row = rows.setdefault(name + suffix, {"users": [e.user for e in evaluated_eps], "seeds": {}})
                    row["seeds"][str(seed)] = model_scores(model, evaluated_eps)
                    row["user_agnostic"] = baseline_scores(model.stats, evaluated_eps)["user_agnostic"]
        if curve:
            base = float(pair_wins(*baseline_scores(model.stats, eps)["user_agnostic"]).mean())
            rows[f"{recipe}-curve"] = {"users": len(eps), "curves": curves, "user_agnostic": base}
        for name, row in rows.items():
            path = out / name / f"fold{k}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(row) + "\n")
            print(f"wrote {path}", flush=True)


def report(out: Path, members: int | None = None) -> None:
    """Pooled over the folds each recipe has: single-model mean ± std over seeds, the seed ensemble, the baseline.
    `members`: only the first that many seeds of each recipe (ensembles of several sizes from one run)."""
    print("| recipe | users | single model (mean ± std over seeds) | seed ensemble | user_agnostic | ensemble - baseline, 95% CI |")
    print("|---|---|---|---|---|---|")
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.endswith("-curve")):
        rows = [json.loads(p.read_text()) for p in sorted(folder.glob("fold*.json"))]
        seeds = sorted(set.intersection(*(set(r["seeds"]) for r in rows)), key=int)[:members]
        single = [np.concatenate([pair_wins(*r["seeds"][s]) for r in rows]).mean() for s in seeds]
        pos = np.concatenate([np.mean([r["seeds"][s][0] for s in seeds], 0) for r in rows])
        neg = np.concatenate([np.mean([r["seeds"][s][1] for s in seeds], 0) for r in rows])
        ensemble = pair_wins(pos, neg)
        base = np.concatenate([pair_wins(*r["user_agnostic"]) for r in rows])
        lo, hi = bootstrap_gap(ensemble, base)
        print(f"| {folder.name} ({len(rows)} folds, seeds {','.join(seeds)}) | {len(base)} | {np.mean(single):.4f} ± {np.std(single):.4f} "
              f"| {ensemble.mean():.4f} | {base.mean():.4f} | [{lo:+.3f}, {hi:+.3f}] |")


def report_curves(out: Path) -> None:
    """Pairwise accuracy on the evaluated folds after each epoch (pooled over folds, mean over seeds)."""
    for folder in sorted(out.glob("*-curve")):
        rows = [json.loads(p.read_text()) for p in sorted(folder.glob("fold*.json"))]
        n = sum(r["users"] for r in rows)
        steps = [(h["stage"], h["epoch"]) for h in next(iter(rows[0]["curves"].values()))]
        accs = [np.mean([sum(r["users"] * c[i]["valid_pairwise_accuracy"] for r in rows for c in [r["curves"][s]]) / n
                         for s in rows[0]["curves"]]) for i in range(len(steps))]
        base = sum(r["users"] * r["user_agnostic"] for r in rows) / n
        print(f"{folder.name} ({len(rows)} folds, {n} users): user_agnostic {base:.4f}; after stage/epoch "
              + " ".join(f"{st}{ep}:{a:.4f}" for (st, ep), a in zip(steps, accs)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES))
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(N_FOLDS)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/preference-cv"))
    parser.add_argument("--curve", action="store_true", help="per-epoch accuracy on the evaluated folds, no selection")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--members", type=int, default=None, help="report: ensembles of the first N seeds only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.recipe:
        run(args.recipe, args.folds, args.seeds, args.out, args.curve)
    if (args.report or not args.recipe) and not args.out.is_dir():
        print(f"nothing to report in {args.out}: run a --recipe first")
    elif args.report or not args.recipe:
        report(args.out, args.members)
        report_curves(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
