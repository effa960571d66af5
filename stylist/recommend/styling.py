"""A stylist's rubric for a suggestion, next to what the visitor wears: formality and material for the occasion,
and colour and pattern pairing. The re-ranker adds it to the model's score, and `bench/stylist_judge.py`
reports it over many requests; the table and its reasons are written out in `docs/styling.md`.

Left alone, the outfit model offers the same few safe pieces (navy and beige, a beige leather belt, a navy wool
coat) for most requests, whatever the occasion. A stylist instead chooses the bag by the evening (a satin
clutch), the coat by the winter, and the colour and pattern by what is worn: black with black at night, one
print at a time, an accent colour only once. Those choices come from the request itself, so different requests
get different first suggestions without any randomness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stylist.core.attributes import words
from stylist.core.catalog import Item
from stylist.core.vocabulary import slot_of
from stylist.recommend.reasons import NEUTRALS, colours_in

PRINTS = frozenset({"striped", "stripes", "stripe", "floral", "polka", "dot", "dots", "checked", "check", "plaid",
                    "leopard", "paisley", "printed", "print", "gingham", "tartan", "houndstooth", "camouflage"})
DARK = frozenset({"black", "navy", "burgundy", "grey", "brown"})  # at night: deep colours (and black above all)
# worn colour -> the colours a stylist pairs with it first (besides itself); other neutrals are acceptable
PARTNERS: dict[str, frozenset[str]] = {c: frozenset(p.split(",")) for c, p in {
    "black": "white,grey", "white": "navy,black,beige", "grey": "black,white", "navy": "white,beige",
    "beige": "brown,white", "brown": "beige,white", "blue": "white,navy", "light blue": "white,navy",
    "red": "black,white", "burgundy": "grey,black", "pink": "grey,white", "yellow": "white,navy",
    "green": "white,beige", "olive": "beige,brown", "orange": "white,navy", "purple": "grey,white",
}.items()}
BELTED = frozenset({"trousers", "trouser", "jeans", "jean", "skirt", "shorts", "chinos"})  # what a belt is worn on
UNBELTED = frozenset({"slip", "silk", "satin", "sequin", "sequinned"})  # a dress of these has no waist for a belt


@dataclass(frozen=True)
class Rule:
    """What suits one slot at one occasion: a word of `good` makes an item right, a word of `bad` wrong, and an
    item with neither is acceptable (half marks)."""

    good: frozenset[str] = frozenset()
    bad: frozenset[str] = frozenset()


def _rule(good: str = "", bad: str = "") -> Rule:
    return Rule(frozenset(good.split()), frozenset(bad.split()))


# occasion -> slot -> Rule; an occasion or slot not listed has no formality rule (every item acceptable)
RULES: dict[str, dict[str, Rule]] = {
    "evening": {
        "bags": _rule("clutch satin velvet sequin minaudiere", "canvas tote backpack straw"),
        "shoes": _rule("heels heel pump pumps stiletto satin", "sneakers sneaker canvas sandals flip-flops trainers"),
        "outerwear": _rule("coat", "checked plaid denim puffer nylon cotton linen hoodie"),
        "accessories": _rule("silk", "sunglasses checked beanie canvas"),
        "hats": _rule("", "straw beanie cap"),
    },
    "work": {
        "bags": _rule("leather", "canvas backpack clutch satin straw"),
        "shoes": _rule("loafers loafer boots leather", "sneakers sneaker canvas sandals satin flip-flops"),
        "outerwear": _rule("blazer coat", "puffer denim nylon hoodie"),
        "accessories": _rule("silk wool leather", "sunglasses beanie"),
        "hats": _rule("", "straw beanie cap"),
    },
    "casual": {
        "bags": _rule("canvas tote shoulder backpack", "clutch satin"),
        "shoes": _rule("sneakers sandals loafers boots", "satin"),
        "outerwear": _rule("jacket denim", "satin"),
    },
    "sport": {
        "bags": _rule("backpack", "clutch satin leather"),
        "shoes": _rule("sneakers sneaker trainers", "heels satin loafers"),
        "outerwear": _rule("puffer hoodie", "blazer coat satin"),
    },
}
WINTER_OUTERWEAR = _rule("coat puffer parka", "linen")  # in winter a coat keeps the evening (and the day) warm


def fit(item: Item, slot: str, worn: Sequence[str], occasion: str | None, season: str | None) -> float:
    """Formality and material for the occasion: 1 right, 0.5 acceptable, 0 wrong (a belt over a slip dress, or a
    silk or satin one, with nothing worn that takes a belt, is always wrong)."""
    said = set(words(_text(item)))
    if slot == "accessories" and said & {"belt", "belts"} and _unbelted(worn):
        return 0.0
    rules = [r for r in (RULES.get(occasion or "", {}).get(slot),
                         WINTER_OUTERWEAR if slot == "outerwear" and season == "winter" else None) if r]
    if not rules:
        return 1.0
    if any(said & r.bad for r in rules):
        return 0.0
    return 1.0 if all(said & r.good or not r.good for r in rules) else 0.5


def pairing(item: Item, worn: Sequence[str], occasion: str | None) -> float:
    """Colour and pattern next to what is worn: one print at a time (0 for a second one); black with black at
    night (deep colours half marks, light ones none); else the worn colour again or one of its classic partners
    (`PARTNERS`) right, another neutral acceptable, an unrelated accent wrong. 1 right, 0.5 acceptable, 0 wrong."""
    text = _text(item)
    if PRINTS & set(words(text)) and PRINTS & {w for c in worn for w in words(c)}:
        return 0.0
    colours = colours_in(text) or list(item.colors[:1])
    worn_colours = {c for w in worn for c in colours_in(w)}
    if not colours:
        return 0.5
    colour = colours[0]
    if occasion == "evening" and "black" in worn_colours:
        return 1.0 if colour == "black" else 0.5 if colour in DARK else 0.0
    if not worn_colours:
        return 1.0 if colour in NEUTRALS else 0.5
    if colour in worn_colours or any(colour in PARTNERS.get(c, ()) for c in worn_colours):
        return 1.0 if occasion != "evening" or colour in DARK | worn_colours else 0.5
    return 0.5 if colour in NEUTRALS else 0.0


def score(item: Item, slot: str, worn: Sequence[str], occasion: str | None, season: str | None) -> float:
    """The rubric's marks for one suggestion, 0 to 2: formality and material, plus colour and pattern."""
    return fit(item, slot, worn, occasion, season) + pairing(item, worn, occasion)


def _unbelted(worn: Sequence[str]) -> bool:
    """Whether the visitor wears a slip, silk or satin dress and nothing a belt goes on."""
    read = [set(words(w)) for w in worn]
    return (any(UNBELTED & w for w, text in zip(read, worn) if slot_of(text) == "dresses")
            and not any(BELTED & w for w in read))


def _text(item: Item) -> str:
    """What the rubric reads of an item: its title (or attribute words), material and category."""
    return f"{item.text} {item.material} {item.category}"
