"""The words outfits are described in: slots, occasions, seasons and formality levels, in one place.

The outfit model reasons about *slots* (what is missing: shoes, a bag, outerwear...), while sources name
fine categories ("Ankle Booties", "longsleeve", "tote bag"). One keyword table keeps them consistent.

Occasions and seasons reach the model as prompt text (`stylist.core.prompts.outfit_prompt`), so the app
may only offer the words its training outfits carry: the demo generator tags every outfit with these, and
the Style tab's dropdowns list the same ones. A word the model never saw in a prompt steers it nowhere.
"""

from __future__ import annotations

import re

# Slots an outfit is built from, in the order the app shows them.
SLOTS = ("tops", "bottoms", "dresses", "outerwear", "shoes", "bags", "accessories", "jewelry", "hats")
OTHER = "other"  # beauty, home decor, stationery...: present in Polyvore outfits, never recommended

# How dressed up an outfit is, least first; demo items carry one or more of these in their `style` tags.
FORMALITY = ("sporty", "casual", "smart", "formal")
# An outfit's occasion sets the one formality level all its items share (the demo catalog's outfit rule 2).
OCCASIONS = {"sport": "sporty", "casual": "casual", "work": "smart", "evening": "formal"}
SEASONS = ("spring", "summer", "autumn", "winter")

# Garment types of the real photo sets (folder names) and the captioner's "bag" -> the category noun a shopper
# (and the outfit model, trained on product titles) uses; `slot_of` of the noun gives the type's slot.
GARMENT_TYPES = {
    "dress": "dress", "hat": "hat", "longsleeve": "long-sleeve top", "outwear": "jacket", "pants": "trousers",
    "shirt": "shirt", "shoes": "shoes", "shorts": "shorts", "skirt": "skirt", "t-shirt": "t-shirt", "bag": "bag",
    "blazer": "blazer", "blouse": "blouse", "body": "bodysuit", "hoodie": "hoodie", "polo": "polo shirt", "top": "top",
    "undershirt": "tank top",
}

# First matching keyword wins, so specific words come before general ones.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("office", "other"), ("tech", "other"), ("home", "other"), ("makeup", "other"), ("bikini", "other"), ("swim", "other"), ("bra", "other"), ("lingerie", "other"), ("sock", "other"),
    ("tights", "other"), ("hosiery", "other"), ("pajama", "other"), ("sleepwear", "other"),
    ("wallet", "bags"), ("bag", "bags"), ("handbag", "bags"), ("clutch", "bags"), ("tote", "bags"), ("backpack", "bags"),
    ("purse", "bags"), ("satchel", "bags"),
    ("boot", "shoes"), ("shoe", "shoes"), ("pump", "shoes"), ("sandal", "shoes"), ("sneaker", "shoes"),
    ("flat", "shoes"), ("loafer", "shoes"), ("moccasin", "shoes"), ("heel", "shoes"), ("slipper", "shoes"),
    ("mule", "shoes"), ("oxford", "shoes"), ("espadrille", "shoes"), ("trainer", "shoes"),
    ("earring", "jewelry"), ("necklace", "jewelry"), ("bracelet", "jewelry"), ("bangle", "jewelry"),
    ("ring", "jewelry"), ("jewel", "jewelry"), ("brooch", "jewelry"), ("pendant", "jewelry"),
    ("watch", "accessories"), ("sunglass", "accessories"), ("eyeglass", "accessories"),
    ("glasses", "accessories"), ("scarf", "accessories"), ("scarves", "accessories"), ("belt", "accessories"),
    ("glove", "accessories"), ("hair", "accessories"), ("tie", "accessories"), ("necktie", "accessories"), ("accessor", "accessories"),
    ("hat", "hats"), ("cap", "hats"), ("beanie", "hats"), ("beret", "hats"),
    ("dress", "dresses"), ("gown", "dresses"), ("jumpsuit", "dresses"), ("romper", "dresses"),
    ("coat", "outerwear"), ("jacket", "outerwear"), ("blazer", "outerwear"), ("outerwear", "outerwear"),
    ("outwear", "outerwear"), ("vest", "outerwear"), ("parka", "outerwear"), ("trench", "outerwear"),
    ("cardigan", "outerwear"),
    ("jean", "bottoms"), ("pant", "bottoms"), ("trouser", "bottoms"), ("short", "bottoms"),
    ("skirt", "bottoms"), ("legging", "bottoms"), ("culotte", "bottoms"), ("chino", "bottoms"),
    ("top", "tops"), ("shirt", "tops"), ("blouse", "tops"), ("sweater", "tops"), ("sweatshirt", "tops"),
    ("hoodie", "tops"), ("tee", "tops"), ("tank", "tops"), ("camisole", "tops"), ("longsleeve", "tops"),
    ("pullover", "tops"), ("jumper", "tops"), ("tunic", "tops"), ("polo", "tops"), ("knit", "tops"),
    ("turtleneck", "tops"), ("bodysuit", "tops"), ("undershirt", "tops"), ("clothing", "tops"),
)


def slot_of(category: str) -> str:
    """Map a category name to one of SLOTS, or OTHER when it is not a garment or wearable accessory."""
    words = re.findall(r"[a-z]+", re.sub(r"\bt-?shirt", "tee", category.lower()))
    for key, slot in _KEYWORDS:
        for word in words:
            if _matches(word, key):
                return slot
    return OTHER


def split_garments(text: str) -> list[str]:
    """One typed description as the garments it names: "white t-shirt and blue denim shorts" is two items, while
    "black and white striped shirt" stays one, because a part is split off only when it names a garment itself.

    Commas, semicolons, new lines, " and ", " with " and " & " separate candidate parts; a part naming no garment
    stays joined, as typed, to the part after it (or, at the end, to the one before)."""
    pieces = re.split(r"([,;\n]| and | with | & )", text.strip())  # parts at even places, separators between
    items: list[str] = []
    span = ""
    for n, piece in enumerate(pieces):
        if n % 2:  # a separator belongs to a span only inside it, never at its start
            span += piece if span else ""
        elif slot_of(piece) != OTHER:
            items.append((span + piece).strip(" ,;.\n"))
            span = ""
        else:
            span += piece
    if span.strip(" ,;.\n"):  # trailing words that name no garment stay with the last garment
        items = items[:-1] + [f"{items[-1]}, {span.strip(' ,;.')}"] if items else [span.strip(" ,;.\n")]
    return [i for i in items if i] or [text.strip()]


def _matches(word: str, key: str) -> bool:
    """Short keys ("cap", "tee", "ring") match whole words or plurals; longer ones match as prefixes."""
    if len(key) <= 4:
        return word in (key, key + "s", key + "es") or (key in ("boot", "flat", "pant", "heel") and word.startswith(key))
    return word.startswith(key)
