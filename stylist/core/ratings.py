"""A rental review as the preference model reads it: the item, the user's profile and (history rows only) the
label, the fit report and the stars.

A target row may only show its item (`item_id, category, rented_for, size`) and the user's profile; its own
`fit, rating, review_date, recommend` are never features. Loaders (`stylist.data.rtr`) build these records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PROFILE_NUMBERS = ("height_in", "weight_lbs", "bust_size_num", "bust_size_letter", "age")
BODY_TYPES = ("apple", "athletic", "full bust", "hourglass", "pear", "petite", "straight & narrow")


@dataclass
class Rating:
    """One rental: what the target may show (item, profile) and what only a history row may show (label)."""

    user: str
    item_id: str
    category: str
    rented_for: str
    size: str
    liked: bool
    date: str
    row: int
    profile: dict[str, float | str] = field(default_factory=dict)
    fit: str = ""  # the renter's own report ("small", "fit", "large"): a history row's, never a target's
    rating: float = math.nan  # the renter's stars (2-10): a history row's, never a target's

    @property
    def text(self) -> str:
        return item_text(self.category, self.rented_for, self.size)

    @property
    def size_value(self) -> float:
        """The size as a number (RentTheRunway sizes are numeric), NaN when missing or not a number."""
        try:
            return float(self.size)
        except ValueError:
            return math.nan


def item_text(category: str, rented_for: str, size: str) -> str:
    """The item as the text encoder reads it, e.g. "gown for formal affair, size 8"."""
    text = f"{category or 'item'} for {rented_for}" if rented_for else category or "item"
    return f"{text}, size {size}" if size else text
