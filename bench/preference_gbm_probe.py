"""Does a gradient-boosted model over the preference model's own side features add to it? Validation users only.

    python bench/preference_gbm_probe.py

A HistGradientBoostingClassifier is fitted on every training user's rows (each row a target, the user's other
rows its history, item statistics leave-user-out), reading the side features (`ItemStats.features`), the prior
logit and the history length. Printed, by history bucket: pairwise accuracy on the validation users of the item
prior, the committed model, the boosted model alone, gated by history length as the model's residual is
(g = n / (n + k), the committed k), and blended into the model's logit with a weight chosen on one half of the
users and read on the other (halves by sha1 of the user id). Test users are not read.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier

from stylist.data.rtr import Episode, by_user, episodes, load_ratings, split_users
from stylist.data.splits import bucket
from stylist.evaluation.preference import HISTORY_BUCKETS, history_bucket, model_scores, pair_wins
from stylist.models.preference import ItemStats, PreferenceModel, user_counts

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # of the gated boosted residual in the blend


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def boosted(stats: ItemStats, users: dict, train: set[str]) -> HistGradientBoostingClassifier:
    x, y = [], []
    for user in train:
        rows = users[user]
        if len(rows) < 2:  # no history: the prior alone
            continue
        minus = user_counts(rows)
        for i, r in enumerate(rows):
            history = rows[:i] + rows[i + 1:]
            x.append(stats.features(r, history, minus) + [stats.prior_logit(r, minus), len(history)])
            y.append(r.liked)
    print(f"{len(y)} training rows", file=sys.stderr)
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, min_samples_leaf=100, l2_regularization=1.0,
                                          early_stopping=True, random_state=0).fit(np.array(x), np.array(y))


def main() -> int:
    ratings = load_ratings()
    users, parts = by_user(ratings), split_users(ratings)
    model = PreferenceModel.load()
    stats = model.stats
    gbm = boosted(stats, users, parts["train"])
    eps: list[Episode] = episodes(ratings, parts["valid"])
    scored = {}
    liked_p, disliked_p = model_scores(model, eps)
    for side, targets, probs in (("liked", [e.liked for e in eps], liked_p), ("disliked", [e.disliked for e in eps], disliked_p)):
        features = [stats.features(t, e.history) + [stats.prior_logit(t), len(e.history)] for t, e in zip(targets, eps)]
        scored[side] = {"prior": np.array([stats.prior_logit(t) for t in targets]), "model": logit(np.array(probs)),
                        "gbm": logit(gbm.predict_proba(np.array(features))[:, 1])}
    n = np.array([len(e.history) for e in eps])
    gate = n / (n + float(F.softplus(model.net.gate.detach())))
    for s in scored.values():
        s["gbm gated"] = s["prior"] + gate * (s["gbm"] - s["prior"])
    buckets, half = np.array([history_bucket(e) for e in eps]), np.array([bucket(e.user) % 2 for e in eps])

    def blend(w: float, side: str) -> np.ndarray:
        return scored[side]["model"] + w * (scored[side]["gbm gated"] - scored[side]["prior"])

    wins = np.zeros(len(eps))
    chosen = []
    for h in (0, 1):
        w = max(WEIGHTS, key=lambda w: pair_wins(blend(w, "liked")[half == h], blend(w, "disliked")[half == h]).mean())
        chosen.append(w)
        wins[half != h] = pair_wins(blend(w, "liked")[half != h], blend(w, "disliked")[half != h])
    per = {name: pair_wins(scored["liked"][name], scored["disliked"][name]) for name in scored["liked"]}
    per["blend, weight from the other half"] = wins
    report = {name: {b: round(float(w[buckets == b].mean() if b != "all" else w.mean()), 4) for b in ["all", *HISTORY_BUCKETS]}
              for name, w in per.items()}
    report["weights chosen"] = chosen
    report["n_users"] = {b: int((buckets == b).sum()) for b in HISTORY_BUCKETS}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
