"""Ranking without big models: what an item is for (its tags, else its words), the season and formality
conditions and their fallback, reasons built from the evidence, and the "for you" blend rule."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from stylist.app.suggestions import ForYouBlend, for_you_keys
from stylist.core.attributes import Conditions, formality_of, seasons_of
from stylist.core.catalog import Catalog, Item
from stylist.core.vocabulary import split_garments
from stylist.data.demo_catalog import build_items
from stylist.recommend.reasons import pick_partner, reason_for
from stylist.recommend.recommender import Recommender


def test_tags_win_over_words():
    sandals = next(i for i in build_items() if i.category == "sandals")
    assert seasons_of(sandals) == {"summer"} and formality_of(sandals) == {"casual"}
    assert seasons_of(Item("x", "navy wool coat", style=["winter", "minimalist"])) == {"winter"}


@pytest.mark.parametrize("title, seasons, levels", [
    ("navy wool coat", {"autumn", "winter"}, None),
    ("brown leather sandals", {"spring", "summer"}, {"casual"}),
    ("white leather sneakers", None, {"sporty", "casual"}),
    ("black satin heels", None, {"smart", "formal"}),
    ("blue denim shorts", {"spring", "summer"}, {"casual"}),
    ("black leather ankle boots", {"autumn", "winter"}, None),
    ("navy button-down shirt", None, None),  # "down" inside a hyphenated word is not a down jacket
    ("grey wool shorts", None, {"sporty", "casual"}),  # words that contradict each other: season unknown
])
def test_untagged_items_are_read_from_their_words(title, seasons, levels):
    item = Item("x", title)
    assert seasons_of(item) == (frozenset(seasons) if seasons else None)
    assert formality_of(item) == (frozenset(levels) if levels else None)


def test_conditions_are_asked_for_or_what_the_outfit_agrees_on():
    asked = Conditions.of(["white cotton t-shirt"], "evening", "winter")
    assert asked.seasons == {"winter"} and asked.levels == {"formal"} and asked.occasion == "evening"
    inferred = Conditions.of(["white cotton t-shirt", "blue denim shorts"], None, None)
    assert inferred.seasons == {"spring", "summer"} and inferred.levels == {"casual"} and inferred.season is None
    assert Conditions.of(["navy button-down shirt"], "brunch", "monsoon") == Conditions()
    assert asked.broken(Item("a", "white canvas sneakers", style=["casual", "summer"])) == ["season", "formality"]
    assert asked.broken(Item("b", "gold hoop earrings")) == []  # unknown: never filtered out
    assert asked.seasonal(Item("c", "navy wool coat", style=["winter"])) == 0.75 + 0.5  # made for it, leans to it
    assert asked.seasonal(Item("d", "black leather tote bag")) == 0.5  # all year, but deep colour and leather
    assert Conditions.of([], None, "summer").seasonal(Item("d", "black leather tote bag")) == -0.5
    assert Conditions.of([], None, "summer").seasonal(Item("f", "beige leather tote bag")) == 0  # leans both ways
    assert inferred.seasonal(Item("e", "linen shirt")) == 0  # no season asked: no order by season


class WordEmbedder:
    """Bag-of-words vectors: enough for retrieval to prefer items sharing the description's words."""

    def encode(self, texts, normalize_embeddings=True, convert_to_numpy=True) -> np.ndarray:
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, sum(map(ord, word)) % 64] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def recommender(*titles: str) -> Recommender:
    catalog = Catalog("t", {f"i{n}": Item(f"i{n}", t) for n, t in enumerate(titles)})
    return Recommender(catalog, None, WordEmbedder(), candidates_per_slot=2)  # no LM: never called here


def test_candidates_keep_to_the_conditions_and_fall_back_to_the_fewest_broken():
    rec = recommender("black wool ankle boots", "black leather boots", "black leather sandals", "white canvas sneakers")
    summer = Conditions.of(["white tee"], "casual", "summer")
    found = rec.candidates("black boots", "shoes", summer, rec.index)
    assert [i.title for i, _ in found] == ["black leather sandals", "white canvas sneakers"]
    assert all(not broken for _, broken in found)
    boots = recommender("black wool ankle boots", "black satin heels")
    found = boots.candidates("black boots", "shoes", summer, boots.index)
    assert [(i.title, b) for i, b in found] == [("black wool ankle boots", ["season"]), ("black satin heels", ["formality"])]
    assert boots.candidates("black boots", "shoes", summer, boots.index, fallback=False) == []


def test_reasons_name_only_colours_the_item_shows_and_the_conditions_it_suits():
    hat = Item("h", "brown wool hat", colors=["brown", "black"], style=["casual", "autumn", "winter"])
    assert reason_for(hat, "black tee") == "goes with your black tee: neutral brown"  # its band is not shown
    assert reason_for(hat, "brown boots") == "goes with your brown boots: matching brown"
    evening = Conditions.of(["black silk dress"], "evening", "summer")
    heels = Item("s", "red satin heels", colors=["red"], style=["formal", "summer"])
    assert reason_for(heels, "black silk dress", evening) == \
        "goes with your black silk dress: a red accent, evening: formal, for summer"
    assert reason_for(Item("c", "beige cotton coat", colors=["beige"]), "white tee", evening, ["season"]) == \
        "goes with your white tee: neutral beige, nothing in the catalog fits the season"
    assert reason_for(Item("l", "light blue linen shirt"), "blue jeans") == \
        "goes with your blue jeans: a light blue accent"  # "light blue" is not also "blue"


def test_partners_vary_only_where_the_evidence_is_close():
    named = Counter()
    close = np.array([0.50, 0.45, -0.2])
    assert [pick_partner(close, named) for _ in range(4)] == [0, 1, 0, 1]
    named = Counter()
    assert [pick_partner(np.array([0.9, 0.1, 0.0]), named) for _ in range(3)] == [0, 0, 0]


def test_for_you_blend_lets_votes_win_only_when_they_add_up():
    scores, likes = [3.0, 2.0, 1.0], [0.01, 0.5, 0.99]
    shrunk, keys = for_you_keys(scores, likes, votes=4)
    assert shrunk == pytest.approx([0.5 - 0.49 * 4 / 14, 0.5, 0.5 + 0.49 * 4 / 14])
    assert list(np.argsort(-keys)) == [0, 1, 2]  # four votes: the outfit score still orders the slot
    assert list(np.argsort(-for_you_keys(scores, likes, votes=200)[1])) == [2, 1, 0]
    _, equal = for_you_keys([1.0, 1.0], [0.4, 0.6], votes=10, blend=ForYouBlend(weight=2.0))
    assert equal[1] > equal[0] and np.isfinite(equal).all()
    assert list(np.argsort(-for_you_keys(scores, [0.0, 0.5, 1.0], votes=0)[1])) == [0, 1, 2]


@pytest.mark.parametrize("typed, items", [
    ("white cotton t-shirt and blue denim shorts", ["white cotton t-shirt", "blue denim shorts"]),
    ("navy cotton t-shirt, blue denim jeans\nwhite leather sneakers",
     ["navy cotton t-shirt", "blue denim jeans", "white leather sneakers"]),
    ("red dress with black leather belt", ["red dress", "black leather belt"]),
    ("black and white striped shirt", ["black and white striped shirt"]),
    ("black, white and red floral dress", ["black, white and red floral dress"]),
    ("red floral cotton dress, gold", ["red floral cotton dress, gold"]),
    ("a nice outfit", ["a nice outfit"]),
])
def test_a_typed_description_splits_into_the_garments_it_names(typed, items):
    assert split_garments(typed) == items
