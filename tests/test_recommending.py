"""The recommender on tiny models (conftest's 2-layer Llama, a StaticEmbedding SentenceTransformer built
here): which slots it fills, that suggestions come from the right slot with a score and a reason, that each
request may use its own adapter version, also from several threads at once, and (when the embedded
checkpoints exist) the default models on the demo catalog."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from stylist.core.attributes import Conditions
from stylist.core.catalog import Catalog, Item
from stylist.core.errors import StylistError
from stylist.core.vocabulary import slot_of
from stylist.models.embedder import load_embedder
from stylist.models.lm import BASE_LM, SFT_ADAPTER
from stylist.models.outfit import load_outfit_model
from stylist.recommend.reasons import reason_for
from stylist.recommend.recommender import Recommender, Suggestion, missing_slots

ITEMS = [("black leather ankle boots", "Ankle Boots", ["black"]), ("white canvas sneakers", "Sneakers", ["white"]),
         ("brown leather tote bag", "Tote Bags", ["brown"]), ("red clutch bag", "Clutches", ["red"]),
         ("navy wool coat", "Coats", ["navy"]), ("gold hoop earrings", "Earrings", []),
         ("grey knit beanie", "Hats", ["grey"]), ("blue denim jeans", "Jeans", ["blue"])]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_lm):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    from stylist.data.corpus import train_word_tokenizer

    embedder = tmp_path_factory.mktemp("embedder")
    texts = [title for title, _, _ in ITEMS] * 4
    SentenceTransformer(modules=[StaticEmbedding(train_word_tokenizer(texts, 100), embedding_dim=16)]).save(str(embedder))
    catalog = Catalog("tiny")
    for n, (title, category, colours) in enumerate(ITEMS):
        catalog.add(Item(f"i{n}", title, category, colours, style=["casual"]))
    return {"base": tiny_lm.base, "adapter": tiny_lm.adapter, "other": tiny_lm.other, "embedder": embedder,
            "catalog": catalog}


def load(tiny, adapter: str = "adapter") -> Recommender:
    version_0 = "none" if adapter == "none" else str(tiny[adapter])
    return Recommender.load(tiny["catalog"], llm=str(tiny["base"]), adapter=version_0, embedder=str(tiny["embedder"]))


def test_missing_slots_skip_what_the_outfit_has():
    slots = missing_slots(["white cotton t-shirt", "blue denim jeans"], {"shoes", "bags", "dresses", "tops"})
    assert slots == ["shoes", "bags"]
    assert "tops" not in missing_slots(["floral summer dress"], {"tops", "shoes"})


def test_reason_names_a_user_item_and_colours():
    casual = Conditions.of(["black tee"], "casual", None)
    reason = reason_for(Item("x", "black leather boots", "Boots", ["black"], style=["casual"]), "black tee", casual)
    assert reason == "goes with your black tee: matching black, casual"
    accent = reason_for(Item("y", "orange wool beanie", "Beanie", ["orange"]), "light blue jacket")
    assert accent == "goes with your light blue jacket: an orange accent"


def test_descriptions_name_the_slot_asked_for(tiny):
    rec = load(tiny)
    slots = ["shoes", "bags", "outerwear", "jewelry", "hats"]
    described = rec.describe(["white cotton t-shirt", "blue denim jeans"], slots, "casual", "winter")
    assert [slot_of(d) for d in described] == slots


def test_the_model_asked_for_only_what_it_wrote_naming_the_slot(tiny, monkeypatch):
    rec = load(tiny)
    written = {"shoes": "black leather ankle boots", "bags": "red wool coat"}
    monkeypatch.setattr(rec.model, "describe", lambda captions, slots, *_: [[written[s]] for s in slots])
    found = rec.recommend(["white cotton t-shirt"], k=1, slots=["shoes", "bags"])
    assert found["shoes"][0].asked_for == found["shoes"][0].description == "black leather ankle boots"
    assert found["bags"][0].asked_for == "" and slot_of(found["bags"][0].description) == "bags"  # a repair is not shown


def test_recommend_fills_missing_slots_from_the_catalog(tiny):
    rec = load(tiny)
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


def shoes(rec: Recommender, adapter=None, caption: str = "white cotton t-shirt") -> tuple[list[str], list[float]]:
    found = rec.recommend([caption], k=3, slots=["shoes"], adapter=adapter)["shoes"]
    return [s.item.id for s in found], [s.score for s in found]


def same(a: tuple[list[str], list[float]], b: tuple[list[str], list[float]]) -> bool:
    return a[0] == b[0] and a[1] == pytest.approx(b[1], abs=1e-5)


def test_each_request_uses_the_adapter_it_names_and_its_suggestions_say_which(tiny):
    rec = load(tiny)
    first = shoes(rec)
    assert shoes(rec, tiny["other"])[1] != pytest.approx(first[1])
    assert same(shoes(rec), first) and same(shoes(rec, tiny["adapter"]), first)
    made = {a: rec.recommend(["white cotton t-shirt"], k=1, slots=["shoes"], adapter=a)["shoes"][0].adapter
            for a in (None, tiny["other"])}
    assert made == {None: str(tiny["adapter"].resolve()), tiny["other"]: str(tiny["other"])}
    assert load(tiny, "none").recommend(["white tee"], k=1, slots=["shoes"])["shoes"][0].adapter is None


def test_visitors_on_threads_with_different_adapters_get_what_they_would_alone(tiny):
    captions = ["white cotton t-shirt", "blue denim jeans", "navy wool coat", "red lipstick", "grey knit beanie"]
    adapters = [None, tiny["other"]]
    rec = load(tiny)
    alone = {a: [shoes(rec, a, c) for c in captions] for a in adapters}
    rec, together = load(tiny), {}  # a fresh one: nothing cached, every request runs the model
    threads = [threading.Thread(target=lambda a=a: together.__setitem__(a, [shoes(rec, a, c) for c in captions]))
               for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(same(x, y) for a in adapters for x, y in zip(together[a], alone[a], strict=True))


def test_add_items_makes_them_recommendable(tiny):
    rec = Recommender.load(Catalog("empty", {"a": Item("a", "black leather ankle boots", "Ankle Boots")}),
                           llm=str(tiny["base"]), adapter="none", embedder=str(tiny["embedder"]))
    assert list(rec.recommend(["white tee"], slots=["bags"])) == []
    rec.add_items([Item("b", "brown leather tote bag", "Tote Bags")])
    assert rec.recommend(["white tee"], slots=["bags"])["bags"][0].item.id == "b"


def test_a_repeated_request_is_answered_from_memory_until_the_catalog_or_adapter_changes(tiny, monkeypatch):
    rec = load(tiny)
    first = rec.recommend(["white cotton t-shirt"], slots=["shoes"], adapter=tiny["other"])
    calls = []
    monkeypatch.setattr(rec.model, "logprobs", lambda *a, **kw: calls.append(1) or pytest.fail("LM called"))
    again = rec.recommend(["white cotton t-shirt"], slots=["shoes"], adapter=tiny["other"])
    assert [(s.item.id, s.score) for s in again["shoes"]] == [(s.item.id, s.score) for s in first["shoes"]]
    again["shoes"].clear()  # a caller's list is its own
    assert rec.recommend(["white cotton t-shirt"], slots=["shoes"], adapter=tiny["other"])["shoes"]
    monkeypatch.undo()
    rec.add_items([Item("new", "black leather sneakers", "Sneakers")])
    seen = []
    real = rec.model.logprobs
    monkeypatch.setattr(rec.model, "logprobs", lambda *a, **kw: seen.append(1) or real(*a, **kw))
    rec.recommend(["white cotton t-shirt"], slots=["shoes"], adapter=tiny["other"])
    rec.recommend(["white cotton t-shirt"], slots=["shoes"], adapter=None)
    assert len(seen) >= 2 and not calls  # a new catalog snapshot and another adapter are computed afresh


@pytest.mark.skipif(not (SFT_ADAPTER / "adapter_config.json").exists(), reason="embedded checkpoints not built")
def test_embedded_models_load_by_default():
    assert load_outfit_model().candidate_scores([Item("a", "white tee")], [Item("b", "black boots")])
    assert load_embedder().encode(["black boots"]).shape[0] == 1
    assert (BASE_LM / "config.json").exists()


def test_items_added_while_visitors_get_suggestions_are_never_half_indexed(tiny):
    rec = load(tiny)
    added = [Item(f"added-{n}", *ITEMS[n % len(ITEMS)][:2]) for n in range(40)]
    done, errors, seen = threading.Event(), [], []

    def visitor() -> None:
        while not done.is_set():
            try:
                index = rec.index
                assert len(index.items) == len(index.vectors) == len(index.slots)
                for slot, found in rec.recommend(["white cotton t-shirt"], k=12).items():
                    assert all(s.item.slot == slot for s in found)
                seen.append(len(index.items))
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
                return

    visitors = [threading.Thread(target=visitor) for _ in range(3)]
    for t in visitors:
        t.start()
    for item in added:  # indexing is quick: let a visitor finish a request between additions
        served = len(seen)
        rec.add_items([item])
        while len(seen) == served and not errors:
            time.sleep(0.001)
    done.set()
    for t in visitors:
        t.join()
    assert not errors, errors[0]
    assert len(set(seen)) > 1, "the visitors ran only before or only after the additions"
    assert len(rec.items) == len(ITEMS) + len(added) == len({i.id for i in rec.items})


def test_the_recommender_talks_to_the_outfit_model_by_its_public_calls_only(tiny):
    """The walk from captions to cards goes down the layers once: the recommender asks the outfit model to
    describe, choose, rank and name partners, and the model runs its own likelihood caches (warm-up passes,
    PMI terms); the recommender never calls the cache protocol or builds likelihood pairs itself."""
    import sys

    rec = load(tiny)
    calls: set[tuple[str, str]] = set()

    def watch(frame, event, _):
        caller = frame.f_back
        if event == "call" and caller is not None and caller.f_code.co_filename.endswith("recommend/recommender.py"):
            calls.add((frame.f_globals.get("__name__", ""), frame.f_code.co_name))

    sys.setprofile(watch)
    try:
        rec.recommend(["white cotton t-shirt", "blue denim jeans"], "casual", "winter", k=2)
    finally:
        sys.setprofile(None)
    model_calls = {name for module, name in calls if module == "stylist.models.outfit"}
    assert model_calls and model_calls <= {"describe", "likeliest", "rank_slots", "slot_terms", "adapter"}, model_calls
    assert not {name for module, name in calls if module == "stylist.core.prompts"} - {"outfit_prompt", "item_caption"}
