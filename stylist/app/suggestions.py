"""The Style tab's work: photos -> captions -> suggestion cards, ordered "for you" once a visitor has voted.

Each card carries the adapter version that produced it, so a vote is credited to the model the visitor
actually saw, even when a refine activates a new version between the suggestion and the click.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stylist.app.access import Access
from stylist.app.model_thread import ModelThread
from stylist.app.visitors import Visitors
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore
from stylist.core.prompts import item_caption
from stylist.models.captioner import Captioner
from stylist.recommend.recommender import Recommender

if TYPE_CHECKING:  # torch: imported by the thread that loads the models, not by the page (StartingStylist)
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
    asked_for: str = ""  # the outfit LM's own description of this slot's piece, when it named the slot

    @property
    def context(self) -> Context:
        return Context(tuple(self.captions), self.slot, self.occasion, self.season)


def load_preference() -> PreferenceModel | None:
    """The per-user model behind "for you" ordering and similar users; the app works without it."""
    try:
        from stylist.models.preference import PreferenceModel

        return PreferenceModel.load()
    except StylistError as exc:
        print(f"note: suggestions are not personalised ({exc})", file=sys.stderr)
        return None


class Suggestions:
    """Caption photos and complete outfits with the active adapter version (or a named one, to compare)."""

    def __init__(self, access: Access, captioner: Captioner, recommender: Recommender, registry: AdapterRegistry,
                 store: FeedbackStore, preference: PreferenceModel | None, per_slot: int, visitors: Visitors,
                 models: ModelThread):
        self.access, self.captioner, self.recommender, self.visitors = access, captioner, recommender, visitors
        self.models = models
        self.registry, self.store, self.preference = registry, store, preference
        self.per_slot = per_slot

    def caption(self, paths: list[str], address: str | None = None) -> list[str]:
        """One editable caption per photo, from the images the upload check already decoded; `address`: where the
        request came from (large photos a minute are limited per address)."""
        return [self.models.run(self.captioner.caption_image, image, path=name).caption
                for name, image in self.access.check_uploads(paths, address=address)]

    def warm_up(self) -> None:
        """One recommendation before the first visitor's: the first one pays for what loads lazily (the catalog
        index's per-slot tables, the LM's first forward passes), seconds on a large catalog. One that cannot run
        (an empty catalog) is no error: a visitor's request says why."""
        with contextlib.suppress(StylistError):
            self.recommend(["white cotton t-shirt"], None, None)

    def recommend(self, captions: list[str], occasion: str | None, season: str | None,
                  token: str | None = None, version: AdapterVersion | None = None, slots: list[str] | None = None
                  ) -> dict[str, list[Card]]:
        """Suggestions per missing slot (or per slot in `slots`), re-ordered "for you" once the visitor whose
        `token` this is has a history (a forged token is refused; no token, as for Compare: no personal order)."""
        visitor = self.visitors.verify(token) if token is not None else None  # refused before any model runs
        captions, occasion, season = self.access.check_outfit(captions, occasion, season)
        slots = self.access.check_slots(slots)
        if not captions:
            raise StylistError("add at least one photo (or type a caption) first")
        version = version or self.registry.active()  # read once: a refine may activate another meanwhile
        return self.models.run(self._cards, visitor, captions, occasion, season, version, slots)

    def _cards(self, visitor: str | None, captions: list[str], occasion: str | None, season: str | None,
               version: AdapterVersion, slots: list[str]) -> dict[str, list[Card]]:
        groups = self.recommender.recommend(captions, occasion=occasion, season=season, k=self.per_slot,
                                            slots=slots or None, adapter=version.path if version.number else None)
        if slots and not groups:
            raise StylistError(f"the catalog has no {' or '.join(slots)}: ask for other pieces")
        cards = {}
        for slot, found in groups.items():
            shown = [(s.item.id, item_caption(s.item)) for s in found]
            cards[slot] = [Card(s.item.id, s.item.text, text, s.item.image, slot, s.score, s.reason, s.captions,
                                s.occasion, s.season, shown, version.number, asked_for=s.asked_for)
                           for s, (_, text) in zip(found, shown)]
        if visitor:
            self._for_you(visitor, cards)
        return cards

    def _for_you(self, user: str, cards: dict[str, list[Card]]) -> None:
        """Re-order each slot by outfit score and this user's taste blended (`for_you_keys`); a card's `for_you`
        is its P(like) given the user's own history, shrunk by how few votes that history has."""
        if self.preference is None:
            return
        try:
            liked, disliked = self.store.history_texts(user)  # newest first, as the preference model reads one
        except StylistError as exc:  # the suggestions themselves need no history: served in the outfit's order
            print(f"note: no \"for you\" order ({exc})", file=sys.stderr, flush=True)
            return
        if not liked and not disliked:
            return
        found = [c for group in cards.values() for c in group]
        likes = iter(self.preference.score(liked, disliked, [c.text for c in found]))  # one pass for every slot
        for group in cards.values():
            shrunk, keys = for_you_keys([c.score for c in group], [next(likes) for _ in group],
                                        len(liked) + len(disliked))
            for card, p in zip(group, shrunk):
                card.for_you = float(p)
            order = np.argsort(-keys, kind="stable")
            group[:] = [group[i] for i in order]

    def compare(self, captions: list[str], occasion: str | None, season: str | None, slots: list[str] | None = None
                ) -> tuple[tuple[str, dict[str, list[Card]]], tuple[str, dict[str, list[Card]]]]:
        """The same outfit completed by the active adapter's parent (old) and by the active one (new)."""
        active = self.registry.active()
        if active.number == 0:
            raise StylistError("the starting adapter (v0) is active: refine first, or activate a refined version")
        old = self.registry.get(active.parent or 0)
        return ((old.name, self.recommend(captions, occasion, season, version=old, slots=slots)),
                (active.name, self.recommend(captions, occasion, season, version=active, slots=slots)))


@dataclass(frozen=True)
class ForYouBlend:
    """How far a visitor's votes move a slot's order away from the outfit score (see `for_you_keys`)."""

    weight: float = 1.0  # one logit of taste weighs as much as one standard deviation of outfit score in the slot
    shrink_votes: float = 10.0  # a visitor's first 10 votes count half: P(like) from a few votes is overconfident


def for_you_keys(scores: Sequence[float], likes: Sequence[float], votes: int,
                 blend: ForYouBlend = ForYouBlend()) -> tuple[np.ndarray, np.ndarray]:
    """The shrunk P(like) of a slot's cards and their "for you" ranking keys, higher first:

        p' = 0.5 + (p - 0.5) * n / (n + shrink_votes)          p: the preference model's P(like), n: votes
        key = (score - mean) / std  +  weight * logit(p')      outfit scores z-scored within the slot (0 if all equal)

    so the outfit score orders a slot until the votes add up, and taste takes over only when it is both strong
    and backed by many votes."""
    scores = np.asarray(scores, dtype=float)
    spread = scores.std()
    z = (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
    p = 0.5 + (np.clip(np.asarray(likes, dtype=float), 1e-6, 1 - 1e-6) - 0.5) * votes / (votes + blend.shrink_votes)
    return p, z + blend.weight * np.log(p / (1 - p))
