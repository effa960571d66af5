"""Why a card is shown, in one line, from the evidence that ranked it: the visitor's item it pairs with best (its
backward PMI), their colour harmony, and the occasion's formality and the season where the item suits them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from stylist.core.attributes import Conditions, formality_of, seasons_of
from stylist.core.catalog import Item
from stylist.core.colors import PALETTE
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import FORMALITY

NEUTRALS = {"black", "white", "grey", "navy", "beige", "brown"}
PARTNER_MARGIN = 0.1  # backward PMI (per token) within which two of the visitor's items pair about equally well


def colours_in(text: str) -> list[str]:
    """The palette colours a text names, in order ("light blue" is not also read as "blue")."""
    names = "|".join(re.escape(c) for c in sorted(PALETTE, key=len, reverse=True))
    return re.findall(rf"\b({names})\b", text.lower())


def shown_colours(item: Item) -> list[str]:
    """The colours a reason may name: those the item's caption names (what the visitor reads), else its
    colours field; so a brown hat with a black band is never said to match black."""
    return colours_in(item_caption(item)) or list(item.colors)


def colour_harmony(colours: list[str], partner: str) -> str | None:
    """Why the colours go together: a colour both share, else the item's accent, else its neutral."""
    shared = [c for c in colours if c in colours_in(partner)]
    accents = [c for c in colours if c not in NEUTRALS]
    if shared:
        return f"matching {shared[0]}"
    if accents:
        return f"{'an' if accents[0][0] in 'aeiou' else 'a'} {accents[0]} accent"
    return f"neutral {colours[0]}" if colours else None


def pick_partner(backward: np.ndarray, named: Counter, margin: float = PARTNER_MARGIN) -> int:
    """Which of the visitor's items a card names: the one its backward PMI says it pairs with best, or, among
    those within `margin` of the best, the one the page has named least so far, so the cards do not all name
    one piece where the evidence supports another. `named` counts the names given so far (updated)."""
    close = np.flatnonzero(backward >= backward.max() - margin)
    best = int(min(close, key=lambda j: (named[int(j)], -backward[j])))
    named[best] += 1
    return best


def reason_for(item: Item, partner: str, conditions: Conditions = Conditions(), broken: Sequence[str] = ()) -> str:
    """One line from the evidence that ranked the item: the visitor's item it pairs with best, their colour
    harmony, and the requested formality and season where the item's tags or words show it suits them
    (`broken`: the conditions no item of its slot could meet)."""
    why = [colour_harmony(shown_colours(item), partner)]
    suits = (conditions.levels or frozenset()) & (formality_of(item) or frozenset())
    if suits:
        level = min(suits, key=FORMALITY.index)
        why.append(level if conditions.occasion in (None, level) else f"{conditions.occasion}: {level}")
    if conditions.season and conditions.season in (seasons_of(item) or ()):
        why.append(f"for {conditions.season}")
    why += [f"nothing in the catalog fits the {name}" for name in broken]
    return f"goes with your {partner}" + (": " + ", ".join(w for w in why if w) if any(why) else "")
