"""Is there a per-user signal a small model could learn? Pairwise logistic probes on hand-made features,
cross-validated on the non-test users (the folds of bench/preference_cv.py).

    python bench/preference_probe.py          # about 30 s

For fold k, item statistics come from every non-test user outside fold k; a logistic regression without
intercept is fit on the feature differences of (liked, not-liked) row pairs of those users (up to 12 pairs
per user, their own rows left out of the item statistics, as in training), and fold k's episodes are scored
with the protocol of `stylist.evaluation.preference`. Features of a target (never its own fit, rating, date):
  rate       logit of the item's like rate, smoothed toward its category/occasion (`--smoothing` pseudo-rows)
  |gap|      distance of the target's size from the median size of the user's other rows
  gap*small  signed size gap times how much the item runs small (its renters' fit reports, small - large)
  |fitgap|   distance from the user's fit-corrected size (a history row reported "small": true size + 2)
  stars      the item's mean star rating among other renters, shrunk toward its category's (finer than recommend)
  history    the user's own like rate, in the history, on the target's category and on its occasion
  body       the item's like rate among renters of the user's body type, relative to its overall rate
Each feature alone and the combinations are printed; "rate" alone is the user_agnostic baseline.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preference_cv import N_FOLDS, folds

from stylist.core.paths import shared_data
from stylist.core.records import Rating
from stylist.data.rtr import by_user, has_both, load_ratings, split_users
from stylist.evaluation.preference import pair_wins
from stylist.models.preference import ItemStats, _logit
from stylist.train.preference import own_counts

FIT = {"fit": 0, "small": 1, "large": -1}  # a renter's report: the item ran small (+1) or large (-1)
NAMES = ["rate", "|gap|", "gap*small", "|fitgap|", "stars", "history cat", "history occ", "body"]
SETS = {"rate": [0], "rate + |gap|": [0, 1], "rate + gap*small": [0, 2], "rate + |fitgap|": [0, 3], "all four": [0, 1, 2, 3],
        "rate + stars": [0, 4], "rate + history": [0, 5, 6], "rate + body": [0, 7], "all": list(range(8))}


def runs_small(rows: list[Rating], fit: list[int]) -> dict[str, float]:
    """Per item and per category: mean fit report (small +1, large -1), shrunk toward 0 / the category."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for r in rows:
        for key in (r.item_id, "c:" + r.category):
            sums[key][0] += fit[r.row]
            sums[key][1] += 1
    return {k: s / (n + 5) for k, (s, n) in sums.items()}


def extra_counts(rows: list[Rating], stars: list[float]) -> dict[str, np.ndarray]:
    """[likes, rows, star sum, starred rows] per item, per category and per item and body type."""
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(4))
    for r in rows:
        star = stars[r.row]
        row = np.array([r.liked, 1, 0.0 if math.isnan(star) else star, float(not math.isnan(star))])
        for key in (r.item_id, "c:" + r.category, f"b:{r.item_id}|{r.profile.get('body_type')}", "*"):
            counts[key] += row
    return counts


def features(stats: ItemStats, small: dict[str, float], fit: list[int], extra: dict[str, np.ndarray], target: Rating,
             history: list[Rating], minus: dict | None, own: dict[str, np.ndarray]) -> list[float]:
    rate, _ = stats.like_rate(target, minus)
    get = lambda key: extra.get(key, np.zeros(4)) - own.get(key, np.zeros(4))  # noqa: E731 (leave-user-out)
    everyone, item, cat = get("*"), get(target.item_id), get("c:" + target.category)
    mean_star = everyone[2] / max(everyone[3], 1)
    cat_star = (cat[2] + 20 * mean_star) / (cat[3] + 20)
    stars = (item[2] + 5 * cat_star) / (item[3] + 5) - mean_star
    body = get(f"b:{target.item_id}|{target.profile.get('body_type')}")
    body_rate = (body[0] + 3 * rate) / (body[1] + 3)
    same_cat = [h.liked - 0.6 for h in history if h.category == target.category]
    same_occ = [h.liked - 0.6 for h in history if h.rented_for == target.rented_for]
    tail = [stars, sum(same_cat) / (len(same_cat) + 2), sum(same_occ) / (len(same_occ) + 2), _logit(body_rate) - _logit(rate)]
    size = float(target.size) if target.size.isdigit() else None
    sized = [h for h in history if h.size.isdigit()]
    if size is None or not sized:
        return [_logit(rate), 0.0, 0.0, 0.0, *tail]
    gap = (size - statistics.median(float(h.size) for h in sized)) / 4
    fitgap = (size - statistics.median(float(h.size) + 2 * fit[h.row] for h in sized)) / 4
    item_small = small.get(target.item_id, small.get("c:" + target.category, 0.0))
    return [_logit(rate), abs(gap), gap * item_small * 4, abs(fitgap), *tail]


def pair_features(rows: list[Rating], featurize, leave_out: bool, all_pairs: bool, stars: list[float]) -> list[np.ndarray]:
    """Feature differences (liked - not-liked): the protocol's latest pair, or up to 12 pairs of a training user."""
    minus = own_counts(rows) if leave_out else None
    own = extra_counts(rows, stars) if leave_out else {}
    pos, neg = [r for r in rows if r.liked], [r for r in rows if not r.liked]
    combos = [(p, n) for p in pos for n in neg][:12] if all_pairs else [(pos[0], neg[0])]
    out = []
    for p, n in combos:
        history = [r for r in rows if r is not p and r is not n]
        out.append(np.subtract(featurize(p, history, minus, own), featurize(n, history, minus, own)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoothing", type=float, default=3.0,
                        help="pseudo-rows of the item like rate (the model's until session 6; 10 since session 7)")
    args = parser.parse_args()
    ratings = load_ratings()
    with open(shared_data() / "rtr" / "ratings.csv", newline="") as f:
        raw = list(csv.DictReader(f))
    fit = [FIT.get(row["fit"], 0) for row in raw]
    stars = [float(row["rating"]) if row["rating"] else math.nan for row in raw]  # other renters' rows only
    users = by_user(ratings)
    test = split_users(ratings)["test"]
    wins: dict[str, list[float]] = defaultdict(list)
    for k, evaluated in enumerate(folds(users, test)):
        train_rows = [r for r in ratings if r.user not in test and r.user not in evaluated]
        stats, small = ItemStats.fit(train_rows, args.smoothing), runs_small(train_rows, fit)
        featurize = functools.partial(features, stats, small, fit, extra_counts(train_rows, stars))
        trainers = [rows for u, rows in users.items() if u not in test and u not in evaluated and has_both(rows)]
        x_train = np.array([d for rows in trainers for d in pair_features(rows, featurize, True, True, stars)])
        x_eval = np.array([d for u in sorted(evaluated) for d in pair_features(users[u], featurize, False, False, stars)])
        for j, name in enumerate(NAMES):
            wins[name].extend(pair_wins(x_eval[:, j], np.zeros(len(x_eval))))
        for name, cols in SETS.items():
            x = x_train[:, cols]
            probe = LogisticRegression(fit_intercept=False).fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
            wins["probe: " + name].extend(pair_wins(x_eval[:, cols] @ probe.coef_[0], np.zeros(len(x_eval))))
            print(f"fold {k} {name:18s} weights {np.round(probe.coef_[0], 3).tolist()} ({len(x)} training pairs)")
    print(f"\npairwise accuracy, {N_FOLDS}-fold CV, {len(wins['rate'])} users (feature alone: the larger value wins)")
    for name, w in wins.items():
        print(f"  {name:26s} {np.mean(w):.4f}")


if __name__ == "__main__":
    main()
