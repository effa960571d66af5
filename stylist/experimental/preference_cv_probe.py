"""How much per-user signal do the ratings carry? 5-fold cross-validation by user over ~10,000 users.

    python -m stylist.experimental.preference_cv_probe [--json]      # about 35 s

The preference model is chosen on 2,690 validation users, where one standard error of a gap is ~0.9 point,
as large as the gaps the targets ask for. This probe asks the question with four times the users: every
training and validation user with both labels (never a test user) gives the protocol's pair (latest liked,
latest not-liked, the other rows as history; item statistics leave-user-out), plus up to 3 more pairs for
training. A pairwise logistic regression on feature differences (liked minus not-liked, L2, C=0.1) is fitted on
4 folds and scored on the fifth. Printed per feature set: pairwise accuracy, the paired gap to the item prior
(user_agnostic) with its standard error, and the gap per history bucket.

Feature sets: the model's side features (`ItemStats.features`, with the prior logit); plus "build" features (the
target size against the size a linear regression predicts from height, weight, bust, age and body type, relative
to the item's renters; fit reports in the target's size; like rates by height band and by sizing up or down);
plus item-item co-rating (among other users who rated both the target and a history item, and agreed with this
user on that history item, the target's like rate); plus size taste (is the target's size nearer the liked or
the not-liked history sizes; not-liked rows reported small or large x how the item runs); and a gradient-boosted
model on the model's features.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from stylist.core.options import summary
from stylist.core.ratings import PROFILE_NUMBERS, Rating
from stylist.data.rtr import by_user, load_ratings, split_users
from stylist.data.splits import bucket
from stylist.evaluation.preference import HISTORY_BUCKETS
from stylist.models.preference import ItemStats, logit, user_counts

FOLDS, SHRINK = 5, 10.0
Counts = dict[str, list[float]]


def height_band(r: Rating) -> str:
    h = float(r.profile.get("height_in", math.nan))
    return "" if math.isnan(h) else "short" if h < 64 else "mid" if h < 67 else "tall"


class Extra:
    """The probe's extra statistics over training users: a size-from-profile regression, per-item build gaps,
    fit reports per item x size, like rates per item x height band and item x sizing band, and who rated what."""

    def __init__(self, stats: ItemStats, users: dict[str, list[Rating]]):
        self.stats = stats
        sized = [r for rows in users.values() for r in rows if not math.isnan(r.size_value)]
        design = np.array([self.design(r) for r in sized])
        self.coef = np.linalg.lstsq(design, np.array([r.size_value for r in sized]), rcond=None)[0]
        self.counts: Counts = {}
        self.raters: dict[str, dict[str, bool]] = {}
        for user, rows in users.items():
            for key, v in self.user_counts(rows).items():
                total = self.counts.setdefault(key, [0.0] * len(v))
                for i, x in enumerate(v):
                    total[i] += x
            for r in rows:
                self.raters.setdefault(r.item_id, {})[user] = r.liked

    def design(self, r: Rating) -> list[float]:
        missing = [float(math.isnan(float(r.profile.get(k, math.nan)))) for k in PROFILE_NUMBERS]
        return self.stats.profile_features(r) + missing

    def gap(self, r: Rating) -> float:
        """Size minus the size the renter's build predicts (NaN when the size is unknown)."""
        return r.size_value - float(np.dot(self.design(r), self.coef))

    def user_counts(self, rows: list[Rating]) -> Counts:
        counts: Counts = {}
        for r in rows:
            g = self.gap(r)
            keys = {f"size:{r.item_id}|{r.size}": [r.fit == "small", r.fit == "large", 1.0]}
            if height_band(r):
                keys[f"height:{r.item_id}|{height_band(r)}"] = [r.liked, 1.0]
            if not math.isnan(g):
                keys[f"gap:{r.item_id}"] = [g, 1.0]
                keys[f"sizing:{r.item_id}|{'up' if g > 1 else 'down' if g < -1 else 'as predicted'}"] = [r.liked, 1.0]
            for key, v in keys.items():
                total = counts.setdefault(key, [0.0] * len(v))
                for i, x in enumerate(v):
                    total[i] += float(x)
        return counts

    def get(self, key: str, minus: Counts | None, n: int) -> list[float]:
        total, own = self.counts.get(key, [0.0] * n), (minus or {}).get(key)
        return [a - b for a, b in zip(total, own)] if own else total

    def within(self, key: str, rate: float, minus: Counts | None) -> float:
        likes, rows = self.get(key, minus, 2)
        return logit((likes + SHRINK * rate) / (rows + SHRINK)) - logit(rate)

    def build(self, t: Rating, history: list[Rating], minus: Counts | None, own: Counts | None) -> list[float]:
        m, rate, item = SHRINK, self.stats.like_rate(t, minus)[0], self.stats.get(t.item_id, minus)
        g = self.gap(t)
        known = not math.isnan(g)
        total, n = self.get(f"gap:{t.item_id}", own, 2)
        rel = (g - total / (n + m)) / 4 if known else 0.0
        small_item, large_item = ((item[k] + m * 0.13) / (item[1] + m) for k in (2, 3))
        small, large, rows = self.get(f"size:{t.item_id}|{t.size}", own, 3)
        small_size, large_size = (small + m * small_item) / (rows + m), (large + m * large_item) / (rows + m)
        band = "up" if g > 1 else "down" if g < -1 else "as predicted"
        n_hist = max(len(history), 1)
        user_small, user_large = (sum(h.fit == fit for h in history) / n_hist for fit in ("small", "large"))
        return [rel, abs(rel), g / 4 if known else 0.0, small_size - small_item, large_size - large_item,
                rel * small_item, rel * large_item, self.within(f"height:{t.item_id}|{height_band(t)}", rate, own),
                self.within(f"sizing:{t.item_id}|{band}", rate, own) if known else 0.0,
                user_small * (small_size - 0.13), user_large * (large_size - 0.13)]

    def co_rating(self, t: Rating, history: list[Rating], minus: Counts | None) -> list[float]:
        rate, target = self.stats.like_rate(t, minus)[0], self.raters.get(t.item_id, {})
        agree = likes = 0
        for h in history:
            other = self.raters.get(h.item_id, {})
            for user in (other.keys() & target.keys()) - {t.user}:
                if other[user] == h.liked:
                    agree, likes = agree + 1, likes + target[user]
        return [logit((likes + 5 * rate) / (agree + 5)) - logit(rate), math.log1p(agree) / 3]

    def size_taste(self, t: Rating, history: list[Rating], minus: Counts | None) -> list[float]:
        liked = [h.size_value for h in history if h.liked and not math.isnan(h.size_value)]
        disliked = [h.size_value for h in history if not h.liked and not math.isnan(h.size_value)]
        x = t.size_value
        near = (abs(x - statistics.median(disliked)) - abs(x - statistics.median(liked))) / 4 \
            if liked and disliked and not math.isnan(x) else 0.0
        item = self.stats.get(t.item_id, minus)
        runs = [(item[k] + SHRINK * 0.13) / (item[1] + SHRINK) - 0.13 for k in (2, 3)]
        not_liked = [h for h in history if not h.liked]
        shares = [sum(h.fit == fit for h in not_liked) / len(not_liked) if not_liked else 0.0 for fit in ("small", "large")]
        return [near, 10 * shares[0] * runs[0], 10 * shares[1] * runs[1]]


FeatureSet = Callable[[Extra, Rating, list[Rating], Counts | None, Counts | None], list[float]]
SETS: dict[str, list[FeatureSet]] = {
    "model features": [],
    "+ build": [lambda x, t, h, minus, own: x.build(t, h, minus, own)],
    "+ co-rating": [lambda x, t, h, minus, own: x.co_rating(t, h, minus)],
    "+ size taste": [lambda x, t, h, minus, own: x.size_taste(t, h, minus)],
}


def pairs(stats: ItemStats, extra: Extra, users: dict[str, list[Rating]], train: set[str]) -> list[dict]:
    """Per user with both labels: fold, history length, and per feature set the protocol pair's difference and
    up to 3 more training pairs' differences."""
    rng = random.Random(0)
    out = []
    for user, rows in users.items():
        liked = [r.liked for r in rows]
        if all(liked) or not any(liked):
            continue
        minus, own = (user_counts(rows), extra.user_counts(rows)) if user in train else (None, None)
        first = (liked.index(True), liked.index(False))
        others = [(i, j) for i in range(len(rows)) for j in range(len(rows)) if liked[i] and not liked[j] and (i, j) != first]
        diffs: dict[str, list[np.ndarray]] = {name: [] for name in SETS}
        for i, j in [first, *rng.sample(others, min(3, len(others)))]:
            history = [r for k, r in enumerate(rows) if k not in (i, j)]
            base = [[stats.prior_logit(r, minus), *stats.features(r, history, minus)] for r in (rows[i], rows[j])]
            for name, parts in SETS.items():
                pos, neg = ([*b, *(x for f in parts for x in f(extra, r, history, minus, own))] for b, r in zip(base, (rows[i], rows[j])))
                diffs[name].append(np.array(pos) - np.array(neg))
        out.append({"fold": bucket(user + "#cv") % FOLDS, "history": len(rows) - 2, "diffs": diffs})
    return out


def cross_validate(data: list[dict], name: str, make: Callable) -> np.ndarray:
    """Out-of-fold scores of each user's protocol pair (> 0: the liked target ranks first)."""
    folds = np.array([d["fold"] for d in data])
    score = np.zeros(len(data))
    for f in range(FOLDS):
        x = np.array([v for d in data if d["fold"] != f for v in d["diffs"][name]])
        model = make().fit(np.concatenate([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
        score[folds == f] = model.decision_function(np.array([d["diffs"][name][0] for d in data if d["fold"] == f]))
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ratings = load_ratings()
    users, parts = by_user(ratings), split_users(ratings)
    train_users = {u: users[u] for u in sorted(parts["train"])}
    stats = ItemStats.fit(train_users)
    extra = Extra(stats, train_users)
    data = pairs(stats, extra, {u: users[u] for u in sorted(parts["train"] | parts["valid"])}, parts["train"])
    hist = np.array([d["history"] for d in data])
    buckets = {"all": hist >= 0, **{b: (hist >= lo) & (hist <= hi) for b, (lo, hi) in HISTORY_BUCKETS.items()}}
    prior = np.array([d["diffs"]["model features"][0][0] for d in data])
    wins_prior = (prior > 0) + 0.5 * (prior == 0)
    scores = {name: cross_validate(data, name, lambda: LogisticRegression(C=0.1, fit_intercept=False, max_iter=3000)) for name in SETS}
    scores["gradient boosting, model features"] = cross_validate(data, "model features", lambda: HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, min_samples_leaf=200, l2_regularization=1.0, random_state=0))
    report = {"users": {b: int(m.sum()) for b, m in buckets.items()}, "prior accuracy": round(float(wins_prior.mean()), 4)}
    for name, s in scores.items():
        gap = (s > 0) + 0.5 * (s == 0) - wins_prior
        report[name] = {"accuracy": round(float(((s > 0) + 0.5 * (s == 0)).mean()), 4),
                        "gap_points": {b: round(100 * float(gap[m].mean()), 2) for b, m in buckets.items()},
                        "gap_se_points": round(100 * float(gap.std() / math.sqrt(len(gap))), 2)}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{len(data)} users (train + valid, 5 folds); item prior {report['prior accuracy']}")
    for name in scores:
        r = report[name]
        print(f"{name:36s} {r['accuracy']:.4f}  gap {r['gap_points']['all']:+.2f} +- {r['gap_se_points']:.2f}  " +
              "  ".join(f"{b}: {r['gap_points'][b]:+.2f}" for b in HISTORY_BUCKETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
