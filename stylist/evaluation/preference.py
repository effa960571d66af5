"""Per-user like/dislike prediction on ratings: pairwise accuracy and AUC of the preference model and baselines.

    python -m stylist eval preference --ratings ../shared/data/rtr/ratings.csv --json

Protocol: every user with a liked and a not-liked row; the latest liked and the latest not-liked rows are
the two targets, the user's other rows are the history. A target shows only its item and the profile.
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
from sklearn.metrics import roc_auc_score

from stylist.core.errors import StylistError
from stylist.core.records import Rating
from stylist.data.rtr import Episode, episodes, load_ratings
from stylist.models.preference import ItemStats, PreferenceModel, rating_example


def pair_wins(pos: list[float], neg: list[float]) -> np.ndarray:
    """Per user: 1 if the liked target scores above the not-liked one, 0.5 on a tie, else 0."""
    p, n = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    return (p > n) + 0.5 * (p == n)


def pairwise_accuracy(pos: list[float], neg: list[float]) -> float:
    return float(np.mean(pair_wins(pos, neg)))


def metrics(pos: list[float], neg: list[float]) -> dict[str, float]:
    labels = [1] * len(pos) + [0] * len(neg)
    return {"pairwise_accuracy": round(pairwise_accuracy(pos, neg), 4), "auc": round(float(roc_auc_score(labels, pos + neg)), 4)}


def model_scores(model: PreferenceModel, eps: list[Episode]) -> tuple[list[float], list[float]]:
    """P(like) of each episode's liked and not-liked target given the episode's history."""
    examples = [rating_example(model.stats, t, e.history) for e in eps for t in (e.liked, e.disliked)]
    probs = model.like_probability(examples)
    return probs[0::2], probs[1::2]


BASELINES: dict[str, Callable[[ItemStats, Rating], float]] = {
    "popularity": lambda stats, r: stats.items.get(r.item_id, [0, 0])[0],
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
    result = metrics(*model_scores(model, eps))
    result["n_users"] = len(eps)
    result["baselines"] = baselines(model.stats, eps)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval preference", description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["preference"])
    parser.add_argument("--ratings", required=True, help="ratings CSV with the RentTheRunway columns")
    parser.add_argument("--model", default=None, help="preference model folder (default checkpoints/preference)")
    parser.add_argument("--all-users", action="store_true", help="also evaluate users the model was trained on")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the metrics")
    args = parser.parse_args(argv)
    ratings = load_ratings(args.ratings)
    result = evaluate(PreferenceModel.load(args.model), ratings, args.all_users)
    if not any(r.rented_for or r.size for r in ratings):
        print("warning: no row has rented_for or size: the model was trained with them, and on files without them it "
              "ranks below user_agnostic (docs/results.md, issue 7, Session 8)", file=sys.stderr)
    print(f"users {result['n_users']}")
    for name, m in [("preference model", result), *result["baselines"].items()]:
        print(f"{name:18s} pairwise accuracy {m['pairwise_accuracy']:.4f}   AUC {m['auc']:.4f}")
    if args.json:
        print(json.dumps(result))
    return 0
