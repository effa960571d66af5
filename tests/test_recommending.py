"""The recommender on tiny models built here (a 2-layer Llama, a StaticEmbedding SentenceTransformer):
which slots it fills, that suggestions come from the right slot with a score and a reason, that
adapters swap, and (when the embedded checkpoints exist) the default models on the demo catalog."""

from __future__ import annotations

import numpy as np
import pytest
from test_lm import TEXTS, save_tiny_adapter, save_tiny_lm

from stylist.app.recommender import Recommender, Suggestion, missing_slots, reason_for
from stylist.core.catalog import Catalog, Item
from stylist.core.errors import StylistError
from stylist.core.prompts import completion, outfit_prompt
from stylist.models.embedder import load_embedder
from stylist.models.outfit import BASE_LM, SFT_ADAPTER, PMIScorer, load_lm

ITEMS = [("black leather ankle boots", "Ankle Boots", ["black"]), ("white canvas sneakers", "Sneakers", ["white"]),
         ("brown leather tote bag", "Tote Bags", ["brown"]), ("red clutch bag", "Clutches", ["red"]),
         ("navy wool coat", "Coats", ["navy"]), ("gold hoop earrings", "Earrings", []),
         ("grey knit beanie", "Hats", ["grey"]), ("blue denim jeans", "Jeans", ["blue"])]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    from stylist.data.corpus import train_word_tokenizer

    base, adapter, other, embedder = (tmp_path_factory.mktemp(n) for n in ("base", "sft", "v2", "embedder"))
    save_tiny_lm(base)
    save_tiny_adapter(base, adapter)
    save_tiny_adapter(base, other)
    SentenceTransformer(modules=[StaticEmbedding(train_word_tokenizer(TEXTS, 100), embedding_dim=16)]).save(str(embedder))
    catalog = Catalog("tiny")
    for n, (title, category, colours) in enumerate(ITEMS):
        catalog.add(Item(f"i{n}", title, category, colours, style=["casual"]))
    return {"base": base, "adapter": adapter, "other": other, "embedder": embedder, "catalog": catalog}


def test_missing_slots_skip_what_the_outfit_has():
    slots = missing_slots(["white cotton t-shirt", "blue denim jeans"], {"shoes", "bags", "dresses", "tops"})
    assert slots == ["shoes", "bags"]
    assert "tops" not in missing_slots(["floral summer dress"], {"tops", "shoes"})


def test_reason_names_a_user_item_and_colours():
    reason = reason_for(Item("x", "black leather boots", "Boots", ["black"], style=["casual"]), "black tee", None)
    assert reason == "goes with your black tee: matching black, casual"
    accent = reason_for(Item("y", "orange wool beanie", "Beanie", ["orange"]), "light blue jacket", None)
    assert accent == "goes with your light blue jacket: an orange accent"


def test_recommend_fills_missing_slots_from_the_catalog(tiny):
    rec = Recommender.load(tiny["catalog"], llm=str(tiny["base"]), adapter=str(tiny["adapter"]),
                           embedder=str(tiny["embedder"]))
    result = rec.recommend(["white cotton t-shirt", "blue denim jeans"], occasion="casual", k=1)
    assert set(result) == {"shoes", "bags", "outerwear", "jewelry", "hats"}
    for slot, found in result.items():
        assert len(found) == 1 and isinstance(found[0], Suggestion) and found[0].item.slot == slot
        assert found[0].reason.startswith("goes with your") and np.isfinite(found[0].score)
        assert found[0].prompt.endswith(f"missing {slot}:") and "occasion: casual" in found[0].prompt
    two = rec.recommend(["white cotton t-shirt"], k=2, slots=["shoes"])
    assert list(two) == ["shoes"] and [s.score for s in two["shoes"]] == sorted((s.score for s in two["shoes"]), reverse=True)
    with pytest.raises(StylistError):
        rec.recommend(["white cotton t-shirt"], slots=["socks"])


def test_set_adapter_swaps_scores_and_back(tiny):
    rec = Recommender.load(tiny["catalog"], llm=str(tiny["base"]), adapter=str(tiny["adapter"]),
                           embedder=str(tiny["embedder"]))
    scores = lambda: [s.score for s in rec.recommend(["white cotton t-shirt"], k=2, slots=["shoes"])["shoes"]]  # noqa: E731
    first = scores()
    rec.set_adapter(tiny["other"])
    assert scores() != pytest.approx(first)
    rec.set_adapter(tiny["adapter"])
    assert scores() == pytest.approx(first)



@pytest.mark.parametrize("start", ["adapter", "none"])
def test_after_set_adapter_the_unconditional_terms_stay_with_version_0(tiny, start):
    """A refined version is scored as log p_new(item | outfit) - log p_v0(item): DPO's gain must not cancel."""
    v0 = str(tiny["adapter"]) if start == "adapter" else "none"
    rec = Recommender.load(tiny["catalog"], llm=str(tiny["base"]), adapter=v0, embedder=str(tiny["embedder"]))
    rec.set_adapter(tiny["other"])
    text = completion("white cotton t-shirt")  # a user caption: not warmed at load, first scored after the switch
    pairs = [(outfit_prompt([]), text), (outfit_prompt([], "shoes"), text), (outfit_prompt(["blue denim jeans"]), text)]
    got = np.concatenate([rec.scorer.logprobs(pairs[:2]), rec.scorer.logprobs(pairs[2:])])
    reference, new = (PMIScorer(*load_lm(tiny["base"], a)).logprobs(pairs) for a in (v0, str(tiny["other"])))
    assert got[:2] == pytest.approx(reference[:2], abs=1e-5)  # unconditional: version 0's
    assert not np.allclose(got[:2], new[:2], atol=1e-3)
    assert got[2] == pytest.approx(new[2], abs=1e-5)  # conditional, after the prior was scored: the new adapter's


def test_add_items_makes_them_recommendable(tiny):
    rec = Recommender.load(Catalog("empty", {"a": Item("a", "black leather ankle boots", "Ankle Boots")}),
                           llm=str(tiny["base"]), adapter="none", embedder=str(tiny["embedder"]))
    assert list(rec.recommend(["white tee"], slots=["bags"])) == []
    rec.add_items([Item("b", "brown leather tote bag", "Tote Bags")])
    assert rec.recommend(["white tee"], slots=["bags"])["bags"][0].item.id == "b"


@pytest.mark.skipif(not (SFT_ADAPTER / "adapter_config.json").exists(), reason="embedded checkpoints not built")
def test_embedded_models_load_by_default():
    model, tokenizer = load_lm()
    assert PMIScorer(model, tokenizer).candidate_scores([Item("a", "white tee")], [Item("b", "black boots")])
    assert load_embedder().encode(["black boots"]).shape[0] == 1
    assert (BASE_LM / "config.json").exists()
