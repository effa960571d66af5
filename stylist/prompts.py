"""The text format the outfit LM is trained on, recommends with, and is DPO-refined on.

One place defines it, so SFT data, FITB scoring, recommendation and DPO pairs always agree.
"""

from __future__ import annotations

from collections.abc import Sequence


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
