"""The text format the outfit LM is trained on, recommends with, and is DPO-refined on.

One place defines it, so SFT data, FITB scoring, recommendation and DPO pairs always agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stylist.core.catalog import Item, price_band


def outfit_prompt(captions: Sequence[str], slot: str | None = None, occasion: str | None = None,
                  season: str | None = None) -> str:
    """Captions of the items present (plus optional occasion/season) -> a prompt ending where the
    missing item's caption begins. `slot` names what is missing (shoes, bags...), when known."""
    lines = ["outfit: " + " ; ".join(c.strip() for c in captions if c.strip())]
    if occasion:
        lines.append(f"occasion: {occasion.strip()}")
    if season:
        lines.append(f"season: {season.strip()}")
    lines.append(f"missing {slot}:" if slot else "missing:")
    return "\n".join(lines)


def completion(caption: str) -> str:
    """The target text after the prompt: the missing item's caption."""
    return " " + caption.strip()


def item_caption(item: Item) -> str:
    """What the outfit LM reads for a catalog item: its text, plus the category when the text does not
    already name it (many Polyvore titles are brand names), so the model always knows what the piece is,
    plus its price band ("p7": about $128) when the shop lists a price, since outfits keep to a price range."""
    text = item.text.strip().lower()
    category = item.category.strip().lower()
    if category and category != "(none)" and not text:
        text = category
    elif category and category != "(none)":
        words = set(re.findall(r"[a-z]+", text))
        if not any(w in words or w.rstrip("s") in words for w in re.findall(r"[a-z]+", category)):
            text = f"{text}, {category}"
    band = price_band(item.price)
    return text if band is None else f"{text}, p{band}"
