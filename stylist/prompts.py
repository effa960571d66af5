"""The text format the outfit LM is trained on, recommends with, and is DPO-refined on.

One place defines it, so SFT data, FITB scoring, recommendation and DPO pairs always agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Item


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
    already name it (many Polyvore titles are brand names), so the model always knows what the piece is."""
    text = item.text.strip().lower()
    category = item.category.strip().lower()
    if not category or category == "(none)":
        return text
    if not text:
        return category
    words = set(re.findall(r"[a-z]+", text))
    if any(w in words or w.rstrip("s") in words for w in re.findall(r"[a-z]+", category)):
        return text
    return f"{text}, {category}"
