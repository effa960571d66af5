"""Per-user like/dislike prediction on ratings: pairwise accuracy and AUC of the preference model and baselines.

    python -m stylist eval preference --ratings ../shared/data/rtr/ratings-full.csv --json

Protocol: every user with a liked and a not-liked row; the latest liked and the latest not-liked rows are
the two targets, the user's other rows are the history. A target shows only its item and the profile.
Also reported by history length (`by_history`: "0", "1-2", "3+" history rows), since the per-user model can
only gain where there is history and must fall back to the item prior where there is none.
Users the model was trained or selected on (its `seen_users.json`) are skipped unless --all-users.
Baselines, from the same training-user counts the model carries: popularity = the item's number of likes,
user_agnostic = the item's like rate smoothed toward its category/occasion (the best score without the user).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import numpy as np

from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.ratings import Rating
from stylist.data.rtr import Episode, episodes, load_ratings
from stylist.models.preference import ItemStats, PreferenceModel, rating_example


def pair_wins(pos: list[float], neg: list[float]) -> np.ndarray:
    """Per user: 1 if the liked target scores above the not-liked one, 0.5 on a tie, else 0."""
    p, n = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    return (p > n) + 0.5 * (p == n)


def pairwise_accuracy(pos: list[float], neg: list[float]) -> float:
    return float(np.mean(pair_wins(pos, neg)))


def metrics(pos: list[float], neg: list[float]) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score  # seconds to import: not for `--help`

    labels = [1] * len(pos) + [0] * len(neg)
    return {"pairwise_accuracy": round(pairwise_accuracy(pos, neg), 4), "auc": round(float(roc_auc_score(labels, pos + neg)), 4)}


HISTORY_BUCKETS = {"0": (0, 0), "1-2": (1, 2), "3+": (3, 10**9)}  # history rows beyond the two targets


def history_bucket(e: Episode) -> str:
    return next(name for name, (lo, hi) in HISTORY_BUCKETS.items() if lo <= len(e.history) <= hi)


def bucket_metrics(eps: list[Episode], pos: list[float], neg: list[float]) -> dict[str, dict]:
    """`metrics` per history bucket (with its n_users); a bucket without users is left out."""
    result = {}
    for name in HISTORY_BUCKETS:
        idx = [i for i, e in enumerate(eps) if history_bucket(e) == name]
        if idx:
            result[name] = {"n_users": len(idx), **metrics([pos[i] for i in idx], [neg[i] for i in idx])}
    return result


def model_scores(model: PreferenceModel, eps: list[Episode]) -> tuple[list[float], list[float]]:
    """P(like) of each episode's liked and not-liked target given the episode's history."""
    examples = [rating_example(model.stats, t, e.history) for e in eps for t in (e.liked, e.disliked)]
    probs = model.like_probability(examples)
    return probs[0::2], probs[1::2]


BASELINES: dict[str, Callable[[ItemStats, Rating], float]] = {
    "popularity": lambda stats, r: stats.get(r.item_id)[0],
    "user_agnostic": lambda stats, r: stats.like_rate(r)[0],
}


def baseline_scores(stats: ItemStats, eps: list[Episode]) -> dict[str, tuple[list[float], list[float]]]:
    """Each baseline's scores of the liked and of the not-liked targets."""
    return {name: ([f(stats, e.liked) for e in eps], [f(stats, e.disliked) for e in eps]) for name, f in BASELINES.items()}


def baselines(stats: ItemStats, eps: list[Episode]) -> dict[str, dict[str, float]]:
    return {name: metrics(*scores) for name, scores in baseline_scores(stats, eps).items()}


def evaluate(model: PreferenceModel, ratings: list[Rating], all_users: bool = False) -> dict:
    seen = set() if all_users else model.seen_users
    eps = [e for e in episodes(ratings) if e.user not in seen]
    if not eps:
        raise StylistError("no user with both a liked and a not-liked row (outside the model's training users)")
    pos, neg = model_scores(model, eps)
    result: dict = {**metrics(pos, neg), "n_users": len(eps), "baselines": baselines(model.stats, eps)}
    base = baseline_scores(model.stats, eps)
    result["by_history"] = bucket_metrics(eps, pos, neg)
    for name, m in result["by_history"].items():
        m["baselines"] = {b: bucket_metrics(eps, *scores)[name] for b, scores in base.items()}
        for scores in m["baselines"].values():
            del scores["n_users"]
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval preference", description=summary(__doc__))
    parser.add_argument("which", choices=["preference"])
    parser.add_argument("--ratings", required=True, help="ratings CSV with the RentTheRunway columns")
    parser.add_argument("--model", default=None, help="preference model folder (default checkpoints/preference)")
    parser.add_argument("--all-users", action="store_true", help="also evaluate users the model was trained on")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the metrics")
    args = parser.parse_args(argv)
    ratings = load_ratings(args.ratings)
    result = evaluate(PreferenceModel.load(args.model), ratings, args.all_users)
    if not any(r.rented_for or r.size for r in ratings):
        print("warning: no row has rented_for or size: the model was trained with them; without them its size and "
              "occasion features read as unknown", file=sys.stderr)
    for bucket, part in [("all", result), *result["by_history"].items()]:
        print(f"history {bucket}: users {part['n_users']}")
        for name, m in [("preference model", part), *part["baselines"].items()]:
            print(f"  {name:18s} pairwise accuracy {m['pairwise_accuracy']:.4f}   AUC {m['auc']:.4f}")
    if args.json:
        print(json.dumps(result))
    return 0
