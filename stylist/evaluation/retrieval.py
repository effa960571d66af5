"""Complementary-item retrieval: the recommender's first step, generation, measured on held-out outfits.

    python -m stylist eval retrieval --split test [--json]

For each outfit one item (of a slot the app recommends) is blanked; the recommender over the file's items
describes the missing piece from the other captions (`Recommender.describe`: a greedy text per rotation of
the captions, the first naming the slot, else a repair with the slot's catalog nouns), and ranks the blank's
true item among `negatives` other items of the same slot (from other outfits of the file) by similarity to
its query embedding (`Recommender.query`), as retrieval in the app does. Reported: recall@1, recall@10 and
the mean rank of the true item, beside two baselines on the same questions: the slot alone as the query
(what retrieval knows without the LM) and the counting model's ranking (`counts.py`).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from stylist.core.catalog import Catalog, Item, Outfit, load_polyvore
from stylist.core.options import summary
from stylist.core.paths import shared_data
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import SLOTS
from stylist.data.splits import split_outfits
from stylist.models.spec import LMSpec


@dataclass
class RetrievalQuestion:
    context: list[Item]
    slot: str
    candidates: list[Item]  # the true item first


def build_questions(catalog: Catalog, outfits: list[Outfit], negatives: int = 99, seed: int = 0
                    ) -> list[RetrievalQuestion]:
    """One question per outfit with a blankable item: the blank is random among the items of a
    recommendable slot, its negatives are items of that slot from other outfits of the whole file (a
    held-out part alone may hold too few hats) whose caption differs from the true item's."""
    rng = random.Random(seed)
    by_slot: dict[str, list[Item]] = {}
    for item in catalog.items.values():
        by_slot.setdefault(item.slot, []).append(item)
    questions = []
    for outfit in outfits:
        items = catalog.outfit_items(outfit)
        blankable = [k for k, item in enumerate(items) if item.slot in SLOTS and item_caption(item)]
        if len(items) < 2 or not blankable:
            continue
        answer = items[rng.choice(blankable)]
        own = set(outfit.item_ids)
        pool = [i for i in by_slot[answer.slot] if i.id not in own and item_caption(i) != item_caption(answer)]
        if len(pool) < negatives:
            continue
        questions.append(RetrievalQuestion([i for i in items if i is not answer], answer.slot,
                                           [answer, *rng.sample(pool, negatives)]))
    return questions


def rank_metrics(scores: list[np.ndarray]) -> dict:
    """Recall@1, recall@10 and mean rank of candidate 0 (the true item); ties count against it."""
    ranks = np.array([1 + int((s[1:] >= s[0]).sum()) for s in scores])
    return {"recall@1": round(float((ranks <= 1).mean()), 4), "recall@10": round(float((ranks <= 10).mean()), 4),
            "mean_rank": round(float(ranks.mean()), 2)}


def similarity_scores(recommender, descriptions: list[str], questions: list[RetrievalQuestion]) -> list[np.ndarray]:
    """Cosine similarity of each question's query (a description, or "" for the slot alone) to its candidates,
    with the query embedding retrieval in the app uses and the caption vectors of the recommender's own index
    (every candidate has a slot, so the index holds it)."""
    row = {item.id: r for r, item in enumerate(recommender.index.items)}
    return [recommender.index.vectors[[row[c.id] for c in q.candidates]] @ recommender.query(d, q.slot)
            for q, d in zip(questions, descriptions)]


def describe(recommender, questions: list[RetrievalQuestion]) -> list[str]:
    """The recommender's description of each missing piece (no occasion or season: the files have none)."""
    return [recommender.describe([item_caption(i) for i in q.context], [q.slot], None, None)[0]
            for q in tqdm(questions, desc="describe")]


def evaluate(catalog: Catalog, outfits: list[Outfit], llm: LMSpec | str | None = None, adapter: str | None = None,
             embedder: str | None = None, negatives: int = 99, seed: int = 0, limit: int | None = None) -> dict:
    """Generation -> retrieval and both baselines on the same questions; plus a few example descriptions."""
    from stylist.models.counts import DEFAULT_COUNTS, CountModel
    from stylist.recommend.recommender import Recommender

    questions = build_questions(catalog, outfits, negatives, seed)[:limit]
    recommender = Recommender.load(catalog, llm, adapter, embedder)
    descriptions = describe(recommender, questions)
    counts = CountModel.load(DEFAULT_COUNTS)
    result = {
        "generation": rank_metrics(similarity_scores(recommender, descriptions, questions)),
        "slot_only": rank_metrics(similarity_scores(recommender, [""] * len(questions), questions)),
        "counts": rank_metrics([np.array(counts.candidate_scores(q.context, q.candidates))
                                for q in tqdm(questions, desc="counts")]),
        "n": len(questions), "candidates": negatives + 1, "chance": {"recall@1": round(1 / (negatives + 1), 4),
                                                                       "recall@10": round(10 / (negatives + 1), 4),
                                                                       "mean_rank": (negatives + 2) / 2},
        "examples": [{"outfit": [item_caption(i) for i in q.context], "slot": q.slot, "generated": d,
                      "true": item_caption(q.candidates[0])} for q, d in list(zip(questions, descriptions))[:5]],
    }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval retrieval", description=summary(__doc__))
    parser.add_argument("--outfits", default=str(shared_data() / "polyvore" / "outfits.json"),
                        help="Polyvore-format outfits with categories (category_id.txt beside the file)")
    parser.add_argument("--split", default="test", choices=["all", "train", "valid", "test"],
                        help="which outfits to blank (test = the held-out 20%%, by set id hash)")
    LMSpec.add_arguments(parser)
    parser.add_argument("--embedder", help="sentence-transformers id or folder (default: checkpoints/embedder)")
    parser.add_argument("--negatives", type=int, default=99, help="other items of the blank's slot per question")
    parser.add_argument("--limit", type=int, help="at most this many questions (the first ones)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="last line: the whole result as one JSON object")
    args = parser.parse_args(argv[1:] if argv and argv[0] == "retrieval" else argv)

    catalog = load_polyvore(args.outfits)
    outfits = catalog.outfits if args.split == "all" else split_outfits(catalog.outfits)[args.split]
    result = evaluate(catalog, outfits, LMSpec.from_args(args), None, args.embedder, args.negatives, args.seed, args.limit)
    for name in ("generation", "slot_only", "counts", "chance"):
        m = result[name]
        print(f"{name:10s} recall@1 {m['recall@1']:.3f}  recall@10 {m['recall@10']:.3f}  mean rank {m['mean_rank']:.1f}"
              f"  (of {result['candidates']}, {result['n']} outfits)")
    if args.json:
        print(json.dumps({**result, "split": args.split, "outfits": args.outfits, "adapter": args.adapter}))
    return 0
