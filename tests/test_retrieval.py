"""Complementary-item retrieval: questions (true item + same-slot negatives), metrics, and a small run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stylist.core.catalog import Catalog, Item, Outfit
from stylist.core.vocabulary import slot_of
from stylist.evaluation.retrieval import build_questions, evaluate, rank_metrics
from stylist.evaluation.retrieval import main as retrieval_main
from stylist.models.lm import SFT_ADAPTER

COLOURS = ["black", "white", "red", "navy", "grey", "tan", "green", "pink"]


def catalog() -> Catalog:
    """Eight outfits of a top, jeans, boots and a perfume (never blanked: not a recommendable slot)."""
    cat = Catalog(name="tiny")
    for n, colour in enumerate(COLOURS):
        ids = []
        for k, (title, category) in enumerate([(f"{colour} silk blouse", "tops"), (f"{colour} skinny jeans", "jeans"),
                                               (f"{colour} ankle boots", "boots"), ("perfume", "fragrance")]):
            item_id = f"{n}_{k}"
            cat.items[item_id] = Item(id=item_id, title=title, category=category)
            ids.append(item_id)
        cat.outfits.append(Outfit(id=str(n), item_ids=ids))
    return cat


def test_questions_put_the_true_item_first_among_same_slot_items_of_other_outfits():
    cat = catalog()
    questions = build_questions(cat, cat.outfits, negatives=5)
    assert len(questions) == len(COLOURS)
    for outfit, q in zip(cat.outfits, questions):
        answer = q.candidates[0]
        assert answer.id in outfit.item_ids and answer not in q.context and len(q.context) == 3
        assert answer.slot == q.slot != "other"
        assert all(c.slot == q.slot and c.id not in outfit.item_ids for c in q.candidates[1:])
    assert build_questions(cat, cat.outfits, negatives=8) == []  # fewer than 8 others of a slot: no question


def test_rank_metrics_count_ties_against_the_true_item():
    scores = [np.array([3.0, 1.0, 2.0]), np.array([1.0, 2.0, 1.0]), np.array([0.0, 0.0, 0.0])]
    assert rank_metrics(scores) == {"recall@1": round(1 / 3, 4), "recall@10": 1.0, "mean_rank": 2.33}


@pytest.mark.skipif(not (SFT_ADAPTER / "adapter_config.json").exists(), reason="embedded checkpoints not built")
def test_the_recommenders_descriptions_and_both_baselines_run_on_the_same_questions(tmp_path, capsys):
    cat = catalog()
    result = evaluate(cat, cat.outfits, negatives=5, limit=4)
    assert result["n"] == 4 and result["candidates"] == 6
    for name in ("generation", "slot_only", "counts"):
        assert 0 <= result[name]["recall@1"] <= result[name]["recall@10"] <= 1
        assert 1 <= result[name]["mean_rank"] <= 6
    # the recommender's descriptions: each names the blank's slot (a text naming another one is repaired)
    assert all(slot_of(e["generated"]) == e["slot"] for e in result["examples"])
    path = tmp_path / "outfits.json"
    path.write_text(json.dumps([{"set_id": o.id, "items": [{"index": k, "name": cat.items[i].title}
                                                           for k, i in enumerate(o.item_ids)]} for o in cat.outfits]))
    assert retrieval_main(["retrieval", "--outfits", str(path), "--split", "all", "--negatives", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == len(COLOURS)
