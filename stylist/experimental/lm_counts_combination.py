"""Can any mix of the LM's score and the counts beat the counts alone? Global and per-slot weights, two seed sets.

    python -m stylist.experimental.lm_counts_combination [--split valid]                              # about a minute
    python -m stylist.experimental.lm_counts_combination --llm runs/lmA/base --adapter runs/lmA/dpo   # another LM

The recommender's scorer adds the LM's PMI and the counts with one global weight tuned on validation. This asks
the question more widely, on the same FITB questions (random and same-category negatives) as the results tables:
both scores z-normalised within each question (scale-free), mixed as z(LM) + w z(counts) for a range of w, on
question seeds 0-2 and, separately, 3-5; and with a weight per slot of the blank, chosen on seeds 0-2 and read on 3-5.
A mix that helps should beat the counts alone (w = inf) on both seed sets.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from stylist.core.catalog import load_polyvore
from stylist.core.options import summary
from stylist.core.paths import shared_data
from stylist.evaluation.outfits import build_fitb_questions, load_scorer, select_outfits

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, np.inf)
DEV, READ = (0, 1, 2), (3, 4, 5)


def z(x: list[float]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / (x.std() + 1e-9)


def accuracy(rows: list[tuple[str, np.ndarray, np.ndarray]], weight: float | dict[str, float]) -> float:
    """Share of questions whose true answer (first) scores strictly highest."""
    right = 0
    for slot, lm, counts in rows:
        w = weight.get(slot, 2.0) if isinstance(weight, dict) else weight
        s = counts if np.isinf(w) else lm + w * counts
        right += s[0] > s[1:].max()
    return right / max(len(rows), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--llm", help="base LM folder (default: the embedded one)")
    parser.add_argument("--adapter", help="adapter folder (default: the embedded SFT adapter)")
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    args = parser.parse_args()
    catalog = load_polyvore(shared_data() / "polyvore" / "outfits.json")
    outfits = select_outfits(catalog, args.split)
    lm, counts = load_scorer("lm", args.llm, args.adapter), load_scorer("counts")
    for hard in (False, True):
        rows = {}
        for seed in (*DEV, *READ):
            rows[seed] = []
            for q in build_fitb_questions(catalog, outfits, hard=hard, seed=seed):
                context, answers = [catalog.items[i] for i in q.question], [catalog.items[i] for i in q.answers]
                rows[seed].append((answers[0].slot, z(lm.candidate_scores(context, answers)),
                                   z(counts.candidate_scores(context, answers))))
        dev, read = [r for s in DEV for r in rows[s]], [r for s in READ for r in rows[s]]
        name = "same-category FITB" if hard else "FITB"
        for seeds, part in ((DEV, dev), (READ, read)):
            print(f"{name}, seeds {seeds}: " + "  ".join(f"w={w:g} {accuracy(part, w):.3f}" for w in WEIGHTS))
        per_slot = {slot: max(WEIGHTS, key=lambda w: accuracy([r for r in dev if r[0] == slot], w))
                    for slot in sorted({r[0] for r in dev})}
        print(f"{name}, a weight per slot chosen on seeds {DEV}: {per_slot}; read on seeds {READ}: "
              f"{accuracy(read, per_slot):.3f} (counts alone {accuracy(read, np.inf):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
