"""Checks on the RentTheRunway protocol's targets: is "the liked one is the later one" taste or structure, is the
size-gap signal of session 4 a stand-in for time, and how many targets could item-to-item signal reach at all?

    python bench/preference_protocol.py            # the non-test users with both labels (641 on the shared file)

Each user's two targets are the LATEST liked and the LATEST not-liked row. Users like most of what they rent,
so the latest liked row is often the later of the two even when labels are random in time; then anything
that tracks time (sizes drift, newer items) would separate the targets without saying anything about taste.
This prints, on the users models may be chosen on (never the test users):
  - how often the liked target is the later row, and the same with each user's labels shuffled over
    their own rows (dates and like counts kept; mean and spread over `--shuffles`);
  - the size-gap feature (the target farther from the history's median size wins), how often "farther"
    is "later", and the share it would get if it worked only through time.
Target dates are never a feature (`stylist.data.rtr`); this script reads them to check the protocol.
"""

from __future__ import annotations

import argparse
import random
import statistics

import numpy as np

from stylist.core.records import Rating
from stylist.data.rtr import Episode, by_user, episodes, load_ratings, split_users


def later(a: Rating, b: Rating) -> float:
    """1 if `a` is the later row, 0.5 on the same date, else 0."""
    return 1.0 if a.date > b.date else 0.5 if a.date == b.date else 0.0


def shuffled_later(rows: list[Rating], rng: random.Random) -> float:
    """`later(latest liked, latest not-liked)` after shuffling the user's labels over their rows."""
    labels = [r.liked for r in rows]
    rng.shuffle(labels)
    pos = next(r for r, y in zip(rows, labels) if y)
    neg = next(r for r, y in zip(rows, labels) if not y)
    return later(pos, neg)


def size_distance(target: Rating, history: list[Rating]) -> float | None:
    sizes = [float(r.size) for r in history if r.size.isdigit()]
    return abs(float(target.size) - statistics.median(sizes)) if sizes and target.size.isdigit() else None


def co_rented(eps: list[Episode], ratings: list[Rating]) -> int:
    """Targets whose item another user rented together with one of this user's history items."""
    items_of = {u: {r.item_id for r in rows} for u, rows in by_user(ratings).items()}
    renters: dict[str, set[str]] = {}
    for r in ratings:
        renters.setdefault(r.item_id, set()).add(r.user)
    return sum(any({h.item_id for h in e.history} & items_of[o] for o in renters[t.item_id] - {e.user})
               for e in eps for t in (e.liked, e.disliked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default=None, help="ratings CSV (default ../shared/data/rtr/ratings.csv)")
    parser.add_argument("--shuffles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ratings = load_ratings(args.ratings)
    parts = split_users(ratings)
    eps: list[Episode] = episodes(ratings, parts["train"] | parts["valid"])
    rng = random.Random(args.seed)
    observed = [later(e.liked, e.disliked) for e in eps]
    decided = [x for x in observed if x != 0.5]
    null = [np.mean([shuffled_later([e.liked, e.disliked, *e.history], rng) for e in eps]) for _ in range(args.shuffles)]
    print(f"users {len(eps)}; the two targets share a date for {observed.count(0.5)}")
    print(f"liked target is the later row (ties 0.5):           {np.mean(observed):.4f}"
          f"   (of {len(decided)} with different dates: {np.mean(decided):.4f})")
    print(f"same, labels shuffled within each user ({args.shuffles}x):      {np.mean(null):.4f} ± {np.std(null):.4f}")
    gaps = [(size_distance(e.liked, e.history), size_distance(e.disliked, e.history), e) for e in eps]
    gaps = [(a, b, e) for a, b, e in gaps if a is not None and b is not None and a != b]
    farther_liked = [float(a > b) for a, b, _ in gaps]
    timed = [(a > b, later(e.liked, e.disliked)) for a, b, e in gaps if e.liked.date != e.disliked.date]
    print(f"size gap (farther from the history's median size wins): {np.mean(farther_liked):.4f} on {len(gaps)} users"
          f" where the gaps differ")
    same = float(np.mean([f == (t == 1.0) for f, t in timed]))
    p_later = float(np.mean(decided))
    print(f"  of those with different dates ({len(timed)}): the farther target is the later one in {same:.4f};"
          f" through time alone it would win {same * p_later + (1 - same) * (1 - p_later):.4f}")
    print(f"targets sharing a renter with a history item: {co_rented(eps, ratings)} of {2 * len(eps)}"
          f" ({sum(1 for e in eps if e.history)} users have any history)")


if __name__ == "__main__":
    main()
