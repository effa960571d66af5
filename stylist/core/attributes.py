"""Which seasons and formality levels an item is for: from its tags when it has them, else from its words.

The recommender treats the season and occasion a visitor asks for as conditions, so it must know what each
catalog item is for. The demo catalog tags every item with its seasons and formality levels
(`vocabulary.SEASONS`, `vocabulary.FORMALITY`); a photo's caption, a Polyvore title or a visitor's own item
has no tags, so the word table below reads the same facts from its title, material and category. It is the
one place those words live, so filtering, reasons and benches agree on what "wool" or "sandals" imply.

An item's set is the intersection over the words it contains; no telling word, or words that contradict each
other ("wool shorts"), leave it unknown (None), and an unknown item is never filtered out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stylist.core.catalog import Item
from stylist.core.vocabulary import FORMALITY, OCCASIONS, SEASONS

COLD, WARM = ("autumn", "winter"), ("spring", "summer")
SPORTY, CASUAL, DRESSY = ("sporty", "casual"), ("casual",), ("smart", "formal")

# word (or its plural) -> the seasons an item with that word is for
SEASON_WORDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("wool", "cashmere", "flannel", "corduroy", "velvet", "fleece", "tweed", "shearling", "fur",
                     "down", "puffer", "parka", "boot", "bootie", "beanie", "turtleneck", "mitten", "earmuff"), COLD),
    **dict.fromkeys(("linen", "sandal", "shorts", "tank", "straw", "espadrille", "sunglasses", "sleeveless",
                     "seersucker", "flip-flop", "camisole"), WARM),
}
# word -> the half of the year a material or colour leans to without ruling out the other: a stylist's palette
# (deep colours and leather in the cold months, light colours, canvas and straw in the warm ones)
SEASON_LEANS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("leather", "suede", "velvet", "wool", "black", "burgundy", "brown", "navy", "grey", "charcoal",
                     "camel", "olive"), COLD),
    **dict.fromkeys(("canvas", "straw", "linen", "raffia", "white", "beige", "cream", "light", "pink", "yellow",
                     "coral", "pastel"), WARM),
}
LEAN_WEIGHT = 0.5  # against 0.75 for an item made for the asked season alone (sandals in summer)
# word (or its plural) -> the formality levels an item with that word suits
FORMALITY_WORDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("sneaker", "trainer", "hoodie", "track", "jersey", "legging", "sweatpants", "jogger",
                     "tracksuit", "sweatshirt", "t-shirt", "tee", "tank", "shorts", "beanie", "backpack"), SPORTY),
    **dict.fromkeys(("denim", "jean", "flannel", "corduroy", "canvas", "straw", "sandal", "flip-flop", "cargo"),
                    CASUAL),
    **dict.fromkeys(("silk", "satin", "heel", "pump", "stiletto", "blazer", "clutch", "velvet", "suit", "tuxedo",
                     "gown", "sequin"), DRESSY),
}


def words(text: str) -> list[str]:
    """Lower-case words, hyphenated ones kept whole ("t-shirt", "button-down" is not "down")."""
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


def _read(item: Item, tags: Sequence[str], table: dict[str, tuple[str, ...]]) -> frozenset[str] | None:
    """The item's own tags among `tags`, else the intersection of what its words imply (None: unknown)."""
    tagged = frozenset(item.style) & frozenset(tags)
    if tagged:
        return tagged
    found: frozenset[str] | None = None
    for word in words(" ".join((item.title, item.material, item.category))):
        implied = next((table[k] for k in (word, word[:-1], word[:-2]) if k in table), None)
        if implied is not None:
            found = frozenset(implied) if found is None else found & frozenset(implied)
    return found or None


def seasons_of(item: Item) -> frozenset[str] | None:
    """The seasons an item is for, or None when neither its tags nor its words tell."""
    return _read(item, SEASONS, SEASON_WORDS)


def formality_of(item: Item) -> frozenset[str] | None:
    """The formality levels an item suits, or None when neither its tags nor its words tell."""
    return _read(item, FORMALITY, FORMALITY_WORDS)


def _shared(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """What all the known sets have in common; None when none is known or they have nothing in common."""
    known = [s for s in sets if s is not None]
    return frozenset.intersection(*known) or None if known else None


@dataclass(frozen=True)
class Conditions:
    """The seasons and formality levels a request's suggestions must suit: the season and the occasion's level
    when the visitor names them, else what the visitor's own items agree on (None: no condition)."""

    seasons: frozenset[str] | None = None
    levels: frozenset[str] | None = None
    season: str | None = None  # as asked for, for the reason line
    occasion: str | None = None

    @classmethod
    def of(cls, captions: Sequence[str], occasion: str | None, season: str | None) -> Conditions:
        outfit = [Item(id="", title=c) for c in captions]
        level = OCCASIONS.get(occasion or "", occasion if occasion in FORMALITY else None)
        return cls(frozenset([season]) if season in SEASONS else _shared(map(seasons_of, outfit)),
                   frozenset([level]) if level else _shared(map(formality_of, outfit)),
                   season if season in SEASONS else None, occasion if level else None)

    def seasonal(self, item: Item) -> float:
        """How well an item suits the asked season beyond being allowed, so a season changes the order of the
        items that suit it too: the share of the year it is not for (sandals in summer 0.75, an all-season bag 0),
        plus LEAN_WEIGHT when its material and colours lean to the asked half of the year, minus it when they
        lean to the other (a brown leather bag in winter +0.5, in summer -0.5; beige leather: no lean)."""
        if not self.season:
            return 0.0
        seasons = seasons_of(item)
        particular = 1 - len(seasons) / len(SEASONS) if seasons and self.season in seasons else 0.0
        leans = [self.season in SEASON_LEANS[w] for w in words(" ".join((item.title, item.material, *item.colors)))
                 if w in SEASON_LEANS]
        lean = sum(1 if toward else -1 for toward in leans)
        return particular + LEAN_WEIGHT * max(-1, min(1, lean))

    def broken(self, item: Item) -> list[str]:
        """The conditions a suggestion breaks ("season", "formality"): only when what it is for is known."""
        checks = (("season", self.seasons, seasons_of(item)), ("formality", self.levels, formality_of(item)))
        return [name for name, wanted, has in checks if wanted and has is not None and not wanted & has]
