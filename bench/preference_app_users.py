"""Simulated app users with distinct tastes: does the preference model order their held-out likes first?

    python bench/preference_app_users.py [--catalog demo] [--model checkpoints/preference] [--json]

Each simulated user has a taste over the catalog's attributes: dark solid neutrals over patterns, sporty
over formal, summer over winter, ... The model reads only item texts, which name colour, pattern, material
and category but not the style tags most tastes are written in. A user clicks like/dislike on a random
sample of the matching catalog items; the clicks go through the app's `FeedbackStore` (in a temporary
folder), the newest quarter of the likes and of the dislikes is held out, and the model scores the held-out
items given the rest as history (the same `PreferenceModel.score` call the app makes). Reported: the share
of (held-out liked, held-out disliked) pairs of the same user where the liked one scores higher, ties half,
pooled over all users; the issue asks >= 0.75.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stylist.core.catalog import Item, load_catalog
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.evaluation.preference import pair_wins
from stylist.models.preference import PreferenceModel

DARK = {"black", "grey", "charcoal", "navy", "white"}
BRIGHT = {"red", "yellow", "pink", "orange", "green", "purple", "light blue", "blue"}

# name -> (what the user likes, what they dislike): over the catalog's attributes, which the model never reads
TASTES: dict[str, tuple[Callable[[Item], bool], Callable[[Item], bool]]] = {
    "dark-neutrals": (lambda i: set(i.colors) <= DARK and i.pattern == "solid", lambda i: i.pattern not in ("", "solid")),
    "sporty": (lambda i: "sporty" in i.style, lambda i: "formal" in i.style),
    "formal": (lambda i: "formal" in i.style, lambda i: "sporty" in i.style or "casual" in i.style and "smart" not in i.style),
    "colourful": (lambda i: bool(set(i.colors) & BRIGHT), lambda i: set(i.colors) <= DARK | {"beige", "brown"}),
    "summer": (lambda i: "summer" in i.style and "winter" not in i.style, lambda i: "winter" in i.style and "summer" not in i.style),
    "preppy-classic": (lambda i: bool({"preppy", "classic"} & set(i.style)), lambda i: bool({"sporty", "bold"} & set(i.style))),
}


def clicks(items: list[Item], taste: tuple[Callable, Callable], n: int, rng: random.Random) -> tuple[list[Item], list[Item]]:
    """Up to n items the user likes and n they dislike (an item on both sides is skipped)."""
    likes, dislikes = taste
    liked = [i for i in items if likes(i) and not dislikes(i)]
    disliked = [i for i in items if dislikes(i) and not likes(i)]
    return rng.sample(liked, min(n, len(liked))), rng.sample(disliked, min(n, len(disliked)))


def run(model: PreferenceModel, items: list[Item], clicks_per_side: int = 16, users_per_taste: int = 5, seed: int = 0) -> dict:
    rng = random.Random(seed)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = FeedbackStore(Path(tmp))
        for name, taste in [(n, t) for n, t in TASTES.items() for _ in range(users_per_taste)]:
            liked, disliked = clicks(items, taste, clicks_per_side, rng)
            if len(liked) < 4 or len(disliked) < 4:
                continue
            user = f"{name}-{len(results.get(name, []))}"
            events = [(i, "like") for i in liked] + [(i, "dislike") for i in disliked]
            rng.shuffle(events)
            for item, label in events:
                store.record(user, Context(captions=()), Option(item.id, item.text), label)
            history_liked, history_disliked = store.history_texts(user)  # newest first
            k_like, k_dis = max(1, len(history_liked) // 4), max(1, len(history_disliked) // 4)
            held_liked, held_disliked = history_liked[:k_like], history_disliked[:k_dis]
            scores = model.score(history_liked[k_like:], history_disliked[k_dis:], held_liked + held_disliked)
            pos, neg = scores[:k_like], scores[k_like:]
            results.setdefault(name, []).extend(pair_wins(*zip(*[(p, n) for p in pos for n in neg])))
    tastes = {name: {"pairs": len(w), "accuracy": round(float(np.mean(w)), 4)} for name, w in results.items()}
    every = [w for ws in results.values() for w in ws]
    return {"pairwise_accuracy": round(float(np.mean(every)), 4), "pairs": len(every), "tastes": tastes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="demo", help="demo, a folder, or a catalog/Polyvore JSON")
    parser.add_argument("--model", default=None, help="preference model folder (default checkpoints/preference)")
    parser.add_argument("--clicks", type=int, default=16, help="likes and dislikes per simulated user")
    parser.add_argument("--users", type=int, default=5, help="simulated users per taste")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    items = [i for i in load_catalog(args.catalog).items.values() if i.text]
    result = run(PreferenceModel.load(args.model), items, args.clicks, args.users, args.seed)
    for user, r in result["tastes"].items():
        print(f"{user:14s} held-out pairs {r['pairs']:4d}   liked above disliked {r['accuracy']:.3f}")
    print(f"{'all':14s} held-out pairs {result['pairs']:4d}   liked above disliked {result['pairwise_accuracy']:.3f}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
