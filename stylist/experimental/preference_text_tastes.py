"""A development set for the preference model's text path (the app's case), disjoint from the app bench.

    python -m stylist.experimental.preference_text_tastes [--model checkpoints/preference] [--json]

`bench/preference_app_users.py` is the issue's measurement (demo catalog, tastes over style attributes);
choosing a recipe on it would tune to it. This script is what recipes for text-only users are chosen on:
simulated users over Polyvore item titles of the outfits' *test* part that no training outfit contains
(the taste users that train the model come from the other parts), with tastes written over title words
(dark vs bright colours, leather vs cotton, heels vs sneakers, ...). As in the app bench, each user likes
and dislikes up to 16 matching titles, the newest quarter is held out, and the model scores it given the
rest. Also printed: the cosine heuristic (mean similarity to the liked minus to the disliked history).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys

import numpy as np
import torch.nn.functional as F

from stylist.core.options import summary
from stylist.data.splits import polyvore_catalog, polyvore_split
from stylist.evaluation.preference import pair_wins
from stylist.models.preference import PreferenceModel

# name -> (words of what the user likes, words of what they dislike), over item titles
TASTES: dict[str, tuple[set[str], set[str]]] = {
    "dark": ({"black", "navy", "grey", "gray", "charcoal"}, {"red", "yellow", "pink", "orange", "green", "purple", "coral"}),
    "bright": ({"red", "yellow", "pink", "orange", "green", "purple", "coral"}, {"black", "navy", "grey", "gray", "charcoal"}),
    "leather": ({"leather", "suede"}, {"cotton", "linen", "jersey", "knit"}),
    "heels": ({"heel", "heels", "pump", "pumps", "stiletto", "sandal", "sandals"}, {"sneaker", "sneakers", "trainer", "trainers", "boot", "boots"}),
    "pretty": ({"floral", "lace", "print", "embroidered", "ruffle"}, {"denim", "jeans", "distressed", "ripped"}),
    "dressy": ({"silk", "satin", "velvet", "sequin", "gold"}, {"sweatshirt", "hoodie", "jogger", "fleece", "sport"}),
}


def held_out_titles() -> list[str]:
    """Titles of test-part outfits' items that no train/valid outfit contains."""
    catalog = polyvore_catalog()
    parts = polyvore_split(catalog)
    seen = {i.text for o in parts["fit"] for i in catalog.outfit_items(o)}
    return sorted({i.text for o in parts["test"] for i in catalog.outfit_items(o) if i.text and i.text not in seen})


def users(titles: list[str], n_per_taste: int, clicks: int, rng: random.Random) -> list[tuple[str, list[str], list[str]]]:
    """(taste, liked titles, disliked titles) per simulated user; a title with words of both sides is skipped."""
    words = [set(re.findall(r"[a-z]+", t.lower())) for t in titles]
    out = []
    for name, (good, bad) in TASTES.items():
        liked = [t for t, w in zip(titles, words) if w & good and not w & bad]
        disliked = [t for t, w in zip(titles, words) if w & bad and not w & good]
        for _ in range(n_per_taste):
            out.append((name, rng.sample(liked, min(clicks, len(liked))), rng.sample(disliked, min(clicks, len(disliked)))))
    return out


def cosine_scores(model: PreferenceModel, liked: list[str], disliked: list[str], targets: list[str]) -> list[float]:
    """The heuristic: mean cosine to the liked history minus mean cosine to the disliked history."""
    t = F.normalize(model.embed(targets), dim=-1)
    mean = lambda texts: (t @ F.normalize(model.embed(texts), dim=-1).T).mean(1)  # noqa: E731
    return (mean(liked) - mean(disliked)).tolist()


def run(model: PreferenceModel, n_per_taste: int = 10, clicks: int = 16, seed: int = 0) -> dict:
    rng = random.Random(seed)
    wins: dict[str, dict[str, list[float]]] = {"model": {}, "cosine": {}}
    for name, liked, disliked in users(held_out_titles(), n_per_taste, clicks, rng):
        k_like, k_dis = max(1, len(liked) // 4), max(1, len(disliked) // 4)
        targets = liked[:k_like] + disliked[:k_dis]
        for scorer, scores in (("model", model.score(liked[k_like:], disliked[k_dis:], targets)),
                               ("cosine", cosine_scores(model, liked[k_like:], disliked[k_dis:], targets))):
            pos, neg = scores[:k_like], scores[k_like:]
            wins[scorer].setdefault(name, []).extend(pair_wins(*zip(*[(p, n) for p in pos for n in neg])))
    return {scorer: {"pairwise_accuracy": round(float(np.mean([w for ws in by.values() for w in ws])), 4),
                     "tastes": {n: round(float(np.mean(w)), 4) for n, w in by.items()}} for scorer, by in wins.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--model", default=None, help="preference model folder (default checkpoints/preference)")
    parser.add_argument("--users", type=int, default=10, help="simulated users per taste")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(PreferenceModel.load(args.model), args.users, seed=args.seed)
    for scorer, r in result.items():
        print(f"{scorer:7s} {r['pairwise_accuracy']:.4f}   " + "  ".join(f"{n} {a:.3f}" for n, a in r["tastes"].items()))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
