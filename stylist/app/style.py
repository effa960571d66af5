"""The Style tab's work: photos -> captions -> suggestion cards, ordered "for you" once a visitor has voted.

Each card carries the adapter version that produced it, so a vote is credited to the model the visitor
actually saw, even when a refine activates a new version between the suggestion and the click.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from stylist.app.access import Access, clean_user
from stylist.app.recommender import Recommender
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore
from stylist.core.prompts import item_caption
from stylist.models.captioner import Captioner
from stylist.models.preference import PreferenceModel


@dataclass
class Card:
    """One suggestion as a page shows it (plain data, so it can live in a page's gr.State)."""

    item_id: str
    title: str  # shown to the user
    text: str  # what the outfit LM reads (prompts.item_caption): recorded with the vote, used by DPO
    image: str | None
    slot: str
    score: float
    reason: str
    captions: list[str]
    occasion: str | None
    season: str | None
    shown: list[tuple[str, str]]  # (id, text) of every suggestion shown for this slot, best first
    adapter_version: int = 0  # the adapter version whose model made this suggestion
    for_you: float | None = None

    @property
    def context(self) -> Context:
        return Context(tuple(self.captions), self.slot, self.occasion, self.season)


def load_preference() -> PreferenceModel | None:
    """The per-user model behind "for you" ordering and similar users; the app works without it."""
    try:
        return PreferenceModel.load()
    except StylistError as exc:
        print(f"note: suggestions are not personalised ({exc})", file=sys.stderr)
        return None


class Style:
    """Caption photos and complete outfits with the active adapter version (or a named one, to compare)."""

    def __init__(self, access: Access, captioner: Captioner, recommender: Recommender, registry: AdapterRegistry,
                 store: FeedbackStore, preference: PreferenceModel | None, lock: threading.Lock, per_slot: int):
        self.access, self.captioner, self.recommender = access, captioner, recommender
        self.registry, self.store, self.preference = registry, store, preference
        self._lock, self.per_slot = lock, per_slot

    def caption(self, paths: list[str]) -> list[str]:
        """One editable caption per photo."""
        paths = self.access.check_uploads(paths)
        return [c.caption for c in self.captioner.caption_images(paths)]

    def recommend(self, captions: list[str], occasion: str | None, season: str | None,
                  user: str | None = None, version: AdapterVersion | None = None) -> dict[str, list[Card]]:
        """Suggestions per missing slot, re-ordered "for you" once the user has a history."""
        captions, occasion, season = self.access.check_outfit(captions, occasion, season)
        if not captions:
            raise StylistError("add at least one photo (or type a caption) first")
        version = version or self.registry.active()  # read once: a refine may activate another meanwhile
        with self._lock:
            groups = self.recommender.recommend(captions, occasion=occasion, season=season, k=self.per_slot,
                                                adapter=version.path if version.number else None)
        cards = {}
        for slot, found in groups.items():
            shown = [(s.item.id, item_caption(s.item)) for s in found]
            cards[slot] = [Card(s.item.id, s.item.text, text, s.item.image, slot, s.score, s.reason, s.captions,
                                s.occasion, s.season, shown, version.number) for s, (_, text) in zip(found, shown)]
        if user:
            self._for_you(clean_user(user), cards)
        return cards

    def _for_you(self, user: str, cards: dict[str, list[Card]]) -> None:
        """Order each slot by the preference model's P(like) given this user's own history."""
        if self.preference is None:
            return
        liked, disliked = self.store.history_texts(user)  # newest first, as the preference model reads a history
        if not liked and not disliked:
            return
        for found in cards.values():
            scores = self.preference.score(liked, disliked, [c.text for c in found])
            for card, p in zip(found, scores):
                card.for_you = float(p)
            found.sort(key=lambda c: -c.for_you)

    def compare(self, captions: list[str], occasion: str | None, season: str | None
                ) -> tuple[tuple[str, dict[str, list[Card]]], tuple[str, dict[str, list[Card]]]]:
        """The same outfit completed by the active adapter's parent (old) and by the active one (new)."""
        active = self.registry.active()
        if active.number == 0:
            raise StylistError("the SFT adapter (v0) is active: refine first, or activate a refined version")
        old = self.registry.get(active.parent or 0)
        return ((old.name, self.recommend(captions, occasion, season, version=old)),
                (active.name, self.recommend(captions, occasion, season, version=active)))
